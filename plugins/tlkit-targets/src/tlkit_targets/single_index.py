"""The single-index target: f*(x) = g*(beta . x), x ~ N(0, I_d), ||beta|| = 1."""

from __future__ import annotations

from typing import Any, Literal

import jax
import jax.numpy as jnp
import numpy as np
from tlkit.errors import ParameterError
from tlkit.types import DegreeEnergy

from tlkit_targets import sampling
from tlkit_targets.base import HierarchicalTarget
from tlkit_targets.links import ScalarLink

LinkName = Literal["hermite", "relu", "tanh", "polynomial"]
_BETA_TOL = 1e-6


def make_beta(beta: Any, d: int, key: jax.Array) -> np.ndarray:
    """A unit vector: ``beta`` if given (validated), else uniform on the sphere from ``key``."""
    if beta is None:
        b = np.asarray(jax.random.normal(key, (d,), dtype=jnp.float64))
        return b / np.linalg.norm(b)
    try:
        b = np.asarray(beta, dtype=np.float64)
    except (TypeError, ValueError):
        raise ParameterError("beta must be a list of d numbers") from None
    if b.shape != (d,) or not np.all(np.isfinite(b)):
        raise ParameterError(f"beta must be a finite list of d={d} numbers; got shape {b.shape}")
    norm = float(np.linalg.norm(b))
    if abs(norm - 1.0) > _BETA_TOL:
        raise ParameterError(f"beta must have unit norm (||beta|| = 1); got {norm:.6g}")
    return b / norm


class SingleIndex(HierarchicalTarget):
    """f*(x) = g*(beta . x) with x ~ N(0, I_d): h* = beta . x is already standard normal."""

    input_distribution = sampling.GAUSSIAN
    _array_fields = ("beta",)

    def __init__(
        self,
        d: int = 16,
        beta: list[float] | None = None,
        link: LinkName = "hermite",
        link_coefficients: list[float] | None = None,
        normalize_link: bool = True,
        noise_std: float = 0.0,
        seed: int = 0,
    ) -> None:
        params = {
            "d": d,
            "beta": None if beta is None else [float(b) for b in beta],
            "link": link,
            "link_coefficients": None if link_coefficients is None else list(link_coefficients),
            "normalize_link": normalize_link,
            "noise_std": noise_std,
            "seed": seed,
        }
        super().__init__(d, seed, noise_std, params)
        self.g = ScalarLink(link, link_coefficients, normalize_link)
        self.beta = make_beta(beta, self.d, jax.random.PRNGKey(self.seed))
        # beta . x ~ N(0, 1) exactly, so the normalized link gives Var f* = 1 exactly.
        self.normalized = self.g.normalize

    def feature(self, X: jax.Array) -> jax.Array:
        """h*(x) = beta . x, shape (n,)."""
        return X @ jnp.asarray(self.beta, dtype=X.dtype)

    def link(self, z: jax.Array) -> jax.Array:
        """g*, applied to beta . x."""
        return self.g(z)

    def _metadata(self) -> dict[str, Any]:
        return {
            "family": "single-index",
            "feature_degree": 1,
            "link_degree": self.g.degree,
            "feature_dim": 1,
            "information_exponent": self.g.information_exponent,
            "link": self.g.describe(),
            "provenance": "paper (Nichani, Damian & Lee 2023, v3)",
        }

    def _degree_energy(self, max_degree: int, batch_size: int, n_batches: int) -> DegreeEnergy:
        # Exact: f*(x) = sum_k c_k h_k(beta . x) and h_k(beta . x) has Hermite degree k.
        c = self.g.hermite(max_degree)
        return DegreeEnergy(
            energy=c**2, stderr=None, method="exact", variance=float(self.g.gaussian_variance)
        )
