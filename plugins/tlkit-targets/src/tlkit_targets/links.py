"""Scalar links g*: Hermite combinations, ReLU, tanh and polynomials.

A link is applied to a *standardized* feature (mean 0, variance 1 under the input
distribution). With ``normalize_link=True`` (the default) the link is centred and
scaled so that ``E[g(z)] = 0`` and ``E[g(z)^2] = 1`` for ``z ~ N(0, 1)``; the two
constants are reported in the target's metadata.
"""

from __future__ import annotations

import math
from typing import Any

import jax.numpy as jnp
import numpy as np
from numpy.polynomial import hermite_e
from tlkit.errors import ParameterError
from tlkit.numerics.hermite import hermite_coefficients, hermite_normalized

from tlkit_targets._checks import check_choice, check_coefficients

LINKS = ("hermite", "relu", "tanh", "polynomial")
#: (h1 + h3) / sqrt(2) = (u + He3(u)/sqrt(6)) / sqrt(2): information exponent 1, degree 3.
DEFAULT_HERMITE = (0.0, 1.0 / math.sqrt(2.0), 0.0, 1.0 / math.sqrt(2.0))
#: Degree up to which Hermite coefficients are computed for non-polynomial links.
_K_QUADRATURE = 16


class ScalarLink:
    """A scalar link function with its Gaussian Hermite expansion.

    Args:
        kind: one of :data:`LINKS`.
        coefficients: for ``"hermite"`` the coefficients of the normalized Hermite
            polynomials ``h_0, h_1, ...``; for ``"polynomial"`` the monomial
            coefficients of ``1, z, z^2, ...``; ignored (must be None) otherwise.
        normalize: centre and scale the link to mean 0, variance 1 under N(0, 1).
        name: parameter name used in error messages.
    """

    def __init__(
        self,
        kind: str,
        coefficients: list[float] | None = None,
        normalize: bool = True,
        name: str = "link",
    ) -> None:
        self.kind = check_choice(name, kind, LINKS)
        coef_name = f"{name}_coefficients"
        if kind in ("hermite", "polynomial"):
            if coefficients is None:
                coefficients = list(DEFAULT_HERMITE) if kind == "hermite" else [0.0, 1.0]
            self.coefficients: list[float] | None = check_coefficients(coef_name, coefficients)
        else:
            if coefficients is not None:
                raise ParameterError(
                    f"{coef_name} applies only to link 'hermite' or 'polynomial'; "
                    f"got {coefficients!r} with link {kind!r}"
                )
            self.coefficients = None
        raw = self._raw_hermite(_K_QUADRATURE)
        second = float(hermite_coefficients(lambda z: self._raw(z, np) ** 2, 0)[0])
        variance = second - raw[0] ** 2
        self.normalize = bool(normalize)
        if self.normalize and variance <= 1e-12:
            raise ParameterError(
                f"{coef_name} give a constant link, which cannot be normalized; "
                f"got {coefficients!r}"
            )
        self.offset = float(raw[0]) if self.normalize else 0.0
        self.scale = math.sqrt(variance) if self.normalize else 1.0
        self._hermite = (raw - np.eye(len(raw))[0] * self.offset) / self.scale
        self.gaussian_variance = variance / self.scale**2

    def _raw(self, z: Any, xp: Any) -> Any:
        if self.kind == "relu":
            return xp.maximum(z, 0)
        if self.kind == "tanh":
            return xp.tanh(z)
        assert self.coefficients is not None
        if self.kind == "polynomial":
            out = xp.zeros_like(z)
            for a in reversed(self.coefficients):  # Horner
                out = out * z + a
            return out
        h = hermite_normalized(z, len(self.coefficients) - 1)
        return sum(c * h[..., k] for k, c in enumerate(self.coefficients) if c != 0.0)

    def _raw_hermite(self, k_max: int) -> np.ndarray:
        if self.kind in ("relu", "tanh"):
            return hermite_coefficients(lambda z: self._raw(z, np), k_max)
        out = np.zeros(max(k_max, self.degree or 0) + 1)
        mono = self._raw_monomials()
        # Exact conversion: monomials -> He_k -> h_k = He_k / sqrt(k!).
        he = hermite_e.poly2herme(mono)
        for k, c in enumerate(he):
            out[k] = c * math.sqrt(math.factorial(k))
        return out

    def _raw_monomials(self) -> np.ndarray:
        assert self.coefficients is not None
        if self.kind == "polynomial":
            return np.asarray(self.coefficients, dtype=np.float64)
        he = [c / math.sqrt(math.factorial(k)) for k, c in enumerate(self.coefficients)]
        return hermite_e.herme2poly(he)

    def __call__(self, z: Any) -> Any:
        """Apply the (normalized) link; works on JAX and NumPy arrays, keeps the dtype."""
        xp = np if isinstance(z, np.ndarray) else jnp
        out = self._raw(z, xp)
        if self.normalize:
            out = (out - self.offset) / self.scale
        return out.astype(z.dtype) if hasattr(out, "astype") else out

    @property
    def degree(self) -> int | None:
        """Polynomial degree of the link, or None for a non-polynomial link."""
        if self.coefficients is None:
            return None
        nonzero = [k for k, c in enumerate(self.coefficients) if c != 0.0]
        return nonzero[-1]

    def monomials(self) -> np.ndarray | None:
        """Monomial coefficients of the normalized link (polynomial links only)."""
        if self.coefficients is None:
            return None
        mono = self._raw_monomials().copy()
        mono[0] -= self.offset
        return mono / self.scale

    def hermite(self, k_max: int) -> np.ndarray:
        """Normalized Hermite coefficients ``c_0..c_k_max`` of the normalized link."""
        out = np.zeros(k_max + 1)
        m = min(k_max + 1, len(self._hermite))
        out[:m] = self._hermite[:m]
        if self.coefficients is None and k_max >= len(self._hermite):
            raw = self._raw_hermite(k_max)
            out = (raw - np.eye(len(raw))[0] * self.offset) / self.scale
        return out

    @property
    def information_exponent(self) -> int | None:
        """Smallest k >= 1 with a non-zero Hermite coefficient (None if none up to 16)."""
        c = self._hermite
        tol = 1e-7 * math.sqrt(max(self.gaussian_variance, 1e-300))
        for k in range(1, len(c)):
            if abs(c[k]) > tol:
                return k
        return None

    def describe(self) -> dict[str, Any]:
        """JSON-friendly description for metadata."""
        return {
            "kind": self.kind,
            "coefficients": self.coefficients,
            "normalized": self.normalize,
            "offset": self.offset,
            "scale": self.scale,
            "degree": self.degree,
            "information_exponent": self.information_exponent,
        }
