"""Shared machinery of the first-party targets: sampling, noise, standardization.

A target here is ``f*(x) = g*((h*(x) - center) / scale)``: ``feature`` returns the raw
ground-truth feature h*, ``metadata()["normalization"]`` gives ``feature_center`` and
``feature_scale`` (exact constants that make the feature mean 0 and variance 1 under
the input distribution), and ``link`` is applied to the standardized value.
"""

from __future__ import annotations

import functools
import math
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from tlkit.types import DegreeEnergy

from tlkit_targets import energy, sampling
from tlkit_targets._checks import check_int, check_nonnegative

#: fold_in tag of the key stream used for Monte Carlo degree energies.
_ENERGY_STREAM = 0x5EED


class HierarchicalTarget:
    """Base class: ``f* = g*(standardized h*)`` plus optional Gaussian label noise.

    Subclasses set ``input_distribution``, ``feature_center``, ``feature_scale`` and
    implement :meth:`feature`, :meth:`link` and :meth:`_metadata`.
    """

    input_distribution: str = sampling.GAUSSIAN
    feature_center: Any = 0.0
    feature_scale: Any = 1.0
    #: whether the family makes Var f* = 1 exactly (checked by check_target)
    normalized: bool = False

    def __init__(self, d: int, seed: int, noise_std: float, params: dict[str, Any]) -> None:
        self.d = check_int("d", d, 1)
        self.seed = check_int("seed", seed, 0)
        self.noise_std = check_nonnegative("noise_std", noise_std)
        self.params: dict[str, Any] = dict(params)
        self._energy_cache: dict[tuple[int, int, int], DegreeEnergy] = {}

    # -- the Target protocol -------------------------------------------------------
    def sample(
        self, key: jax.Array, n: int, dtype: Any = jnp.float32
    ) -> tuple[jax.Array, jax.Array]:
        """Draw ``n`` inputs and (noisy) labels in ``dtype``; jittable with n, dtype static."""
        # One compiled program per (n, dtype) instead of many small op-by-op compiles.
        return self._sample_jit(key, n, jnp.dtype(dtype))

    @functools.cached_property
    def _sample_jit(self) -> Any:
        return jax.jit(self._sample, static_argnums=(1, 2))

    @functools.cached_property
    def _function_jit(self) -> Any:
        # Compiled once per input shape; eager evaluation would compile every op.
        return jax.jit(self._function)

    def _sample(self, key: jax.Array, n: int, dtype: Any) -> tuple[jax.Array, jax.Array]:
        kx, kn = jax.random.split(key)
        X = sampling.draw(self.input_distribution, kx, n, self.d, dtype)
        y = self.function(X)
        if self.noise_std > 0:
            y = y + jnp.asarray(self.noise_std, dtype) * jax.random.normal(kn, (n,), dtype)
        return X, y

    def function(self, X: jax.Array) -> jax.Array:
        """The noiseless target ``g*((h*(X) - center) / scale)``, shape ``(n,)``."""
        return self._function_jit(X)

    def _function(self, X: jax.Array) -> jax.Array:
        return self.link(self.standardize(self.feature(X)))

    def standardize(self, h: jax.Array) -> jax.Array:
        """``(h - feature_center) / feature_scale`` in ``h``'s dtype."""
        center = jnp.asarray(self.feature_center, dtype=h.dtype)
        scale = jnp.asarray(self.feature_scale, dtype=h.dtype)
        return (h - center) / scale

    def feature(self, X: jax.Array) -> jax.Array:  # pragma: no cover - abstract
        raise NotImplementedError

    def link(self, z: jax.Array) -> jax.Array:  # pragma: no cover - abstract
        raise NotImplementedError

    def metadata(self) -> dict[str, Any]:
        """Input distribution, d, degrees, normalization constants, noise level."""
        meta: dict[str, Any] = {
            "input_distribution": self.input_distribution,
            "d": self.d,
            "noise_std": self.noise_std,
            "normalized": self.normalized,
            "normalization": {
                "feature_center": _jsonable(self.feature_center),
                "feature_scale": _jsonable(self.feature_scale),
            },
        }
        meta.update(self._metadata())
        return meta

    def _metadata(self) -> dict[str, Any]:  # pragma: no cover - abstract
        raise NotImplementedError

    def degree_energy(
        self, max_degree: int = 6, *, batch_size: int = 1024, n_batches: int = 64
    ) -> DegreeEnergy:
        """Energy of f* per degree 0..max_degree (exact where known, else Monte Carlo).

        The Monte Carlo estimate uses its own key stream derived from ``seed``, so it
        is reproducible; its cost grows like ``n_batches * batch_size**2``.
        """
        check_int("max_degree", max_degree, 0)
        key = (max_degree, batch_size, n_batches)
        if key not in self._energy_cache:
            self._energy_cache[key] = self._degree_energy(max_degree, batch_size, n_batches)
        return self._energy_cache[key]

    # -- helpers for subclasses ----------------------------------------------------
    def _degree_energy(self, max_degree: int, batch_size: int, n_batches: int) -> DegreeEnergy:
        base = jax.random.fold_in(jax.random.PRNGKey(self.seed), _ENERGY_STREAM)

        def sample(b: int, n: int) -> np.ndarray:
            return np.asarray(self._sample_jit(jax.random.fold_in(base, b), n, jnp.float64)[0])

        def f(X: np.ndarray) -> np.ndarray:
            return np.asarray(self.function(jnp.asarray(X, dtype=jnp.float64)))

        return energy.monte_carlo_energy(
            f,
            sample,
            self.input_distribution,
            self.d,
            max_degree,
            batch_size=batch_size,
            n_batches=n_batches,
            variance=self._exact_variance(),
        )

    def _exact_variance(self) -> float | None:
        """Exact Var f* when the family knows it, else None (estimated)."""
        return None


def _jsonable(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return value.tolist()
    return float(value)


def random_orthogonal(key: jax.Array, d: int, k: int | None = None) -> np.ndarray:
    """A Haar-random ``d x k`` matrix with orthonormal columns (float64 NumPy)."""
    k = d if k is None else k
    g = np.asarray(jax.random.normal(key, (d, k), dtype=jnp.float64))
    q, r = np.linalg.qr(g)
    # Sign fix makes the QR factor Haar-distributed (Mezzadri 2007).
    return q * np.sign(np.diag(r))[None, :]


def sphere_standard_deviation(d: int) -> float:
    """sqrt(E[(x^T A x)^2]) = sqrt(2d/(d+2)) for x uniform on S^{d-1}(sqrt d), tr A = 0,
    ||A||_F = 1."""
    return math.sqrt(2.0 * d / (d + 2.0))
