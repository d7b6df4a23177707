"""The multiple-quadratic-feature target of Fu, Wang, Nichani & Lee (2025).

x uniform on the sphere of radius sqrt(d); features u_j = x^T A_j x / sqrt(2d/(d+2)),
j = 1..r, with A_j symmetric, trace-free and Frobenius-orthonormal (tr(A_i A_j) =
[i == j]), so the u_j are uncorrelated with unit variance; f* = g*(u_1, ..., u_r).
"""

from __future__ import annotations

import math
from typing import Any, Literal

import jax
import jax.numpy as jnp
import numpy as np
from tlkit.errors import ParameterError

from tlkit_targets import sampling
from tlkit_targets._checks import check_choice, check_int
from tlkit_targets.base import HierarchicalTarget, random_orthogonal, sphere_standard_deviation
from tlkit_targets.links import ScalarLink

MULTI_LINKS = ("sum", "product", "norm-squared")
MultiLink = Literal["sum", "product", "norm-squared"]
A_KINDS = ("block-diagonal", "gaussian")
AKind = Literal["block-diagonal", "gaussian"]
ScalarLinkName = Literal["hermite", "relu", "tanh", "polynomial"]


def make_matrices(a_kind: str, d: int, r: int, key: jax.Array) -> np.ndarray:
    """r symmetric, trace-free, Frobenius-orthonormal d x d matrices, shape (r, d, d)."""
    check_choice("a_kind", a_kind, A_KINDS)
    if a_kind == "block-diagonal":
        m = d // (2 * r)
        if m == 0:
            raise ParameterError(
                f"r must satisfy 2 r <= d for a_kind='block-diagonal' (disjoint ±1 blocks); "
                f"got r={r}, d={d}"
            )
        q = random_orthogonal(key, d)
        mats = []
        for j in range(r):
            s = np.zeros(d)
            s[2 * m * j : 2 * m * j + m] = 1.0
            s[2 * m * j + m : 2 * m * (j + 1)] = -1.0
            s /= math.sqrt(2 * m)
            mats.append((q * s[None, :]) @ q.T)
        return np.stack(mats)
    g = np.asarray(jax.random.normal(key, (r, d, d), dtype=jnp.float64))
    out: list[np.ndarray] = []
    for j in range(r):
        a = (g[j] + g[j].T) / 2.0
        a = a - np.trace(a) / d * np.eye(d)
        for b in out:  # Gram-Schmidt in the Frobenius inner product
            a = a - np.sum(a * b) * b
        out.append(a / np.linalg.norm(a))
    return np.stack(out)


class MultiQuadratic(HierarchicalTarget):
    """f*(x) = g*(x^T A_1 x, ..., x^T A_r x) (standardized) on the sphere of radius sqrt(d)."""

    input_distribution = sampling.SPHERE
    _array_fields = ("As",)

    def __init__(
        self,
        d: int = 16,
        r: int = 2,
        a_kind: AKind = "block-diagonal",
        link: MultiLink = "sum",
        scalar_link: ScalarLinkName = "hermite",
        scalar_link_coefficients: list[float] | None = None,
        noise_std: float = 0.0,
        seed: int = 0,
    ) -> None:
        params = {
            "d": d,
            "r": r,
            "a_kind": a_kind,
            "link": link,
            "scalar_link": scalar_link,
            "scalar_link_coefficients": None
            if scalar_link_coefficients is None
            else list(scalar_link_coefficients),
            "noise_std": noise_std,
            "seed": seed,
        }
        super().__init__(d, seed, noise_std, params)
        self.r = check_int("r", r, 1, f"1 <= r < d={self.d}")
        if self.r >= self.d:
            raise ParameterError(f"r must satisfy 1 <= r < d={self.d}; got {r}")
        self.link_name = check_choice("link", link, MULTI_LINKS)
        self.psi = ScalarLink(scalar_link, scalar_link_coefficients, True, name="scalar_link")
        self.As = make_matrices(a_kind, self.d, self.r, jax.random.PRNGKey(self.seed))
        self.feature_center = np.zeros(self.r)
        self.feature_scale = np.full(self.r, sphere_standard_deviation(self.d))

    def feature(self, X: jax.Array) -> jax.Array:
        """h*(x) = (x^T A_j x)_j, shape (n, r)."""
        As = jnp.asarray(self.As, dtype=X.dtype)
        return jnp.einsum("ni,rij,nj->nr", X, As, X)

    def link(self, z: jax.Array) -> jax.Array:
        """g*: R^r -> R on the standardized features ``z`` of shape (n, r)."""
        if self.link_name == "sum":
            return jnp.sum(self.psi(z), axis=-1) / jnp.sqrt(jnp.asarray(self.r, dtype=z.dtype))
        if self.link_name == "product":
            return jnp.prod(z, axis=-1)
        r = jnp.asarray(self.r, dtype=z.dtype)
        return (jnp.sum(z**2, axis=-1) - r) / jnp.sqrt(2 * r)

    def _metadata(self) -> dict[str, Any]:
        degree = {"sum": self.psi.degree, "product": self.r, "norm-squared": 2}[self.link_name]
        ops = [float(np.max(np.abs(np.linalg.eigvalsh(a)))) for a in self.As]
        return {
            "family": "multi-quadratic",
            "feature_degree": 2,
            "link_degree": degree,
            "feature_dim": self.r,
            "a_operator_norms": ops,
            "link": self.link_name,
            "scalar_link": self.psi.describe(),
            "provenance": "paper (Fu, Wang, Nichani & Lee 2025); A_j and g*: reconstruction",
        }
