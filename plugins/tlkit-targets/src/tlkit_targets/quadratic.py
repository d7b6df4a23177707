"""The quadratic-feature target: f*(x) = g*(x^T A x / sqrt(2d/(d+2))), x on S^{d-1}(sqrt d)."""

from __future__ import annotations

from typing import Any, Literal

import jax
import jax.numpy as jnp
import numpy as np
from tlkit.errors import ParameterError

from tlkit_targets import sampling
from tlkit_targets._checks import check_choice, check_even, check_int
from tlkit_targets.base import HierarchicalTarget, random_orthogonal, sphere_standard_deviation
from tlkit_targets.links import ScalarLink
from tlkit_targets.moments import polynomial_mean_variance, sphere_quadratic_moments

A_KINDS = ("balanced-diagonal", "rotated-diagonal", "gaussian", "low-rank", "custom")
AKind = Literal["balanced-diagonal", "rotated-diagonal", "gaussian", "low-rank", "custom"]
LinkName = Literal["hermite", "relu", "tanh", "polynomial"]
#: Tolerance for a user-given A: symmetric, tr A = 0, ||A||_F = 1.
_A_TOL = 1e-6


def balanced_diagonal(d: int) -> np.ndarray:
    """``diag(+1 x d/2, -1 x d/2) / sqrt(d)``: tr 0, ||.||_F = 1, ||.||_op = 1/sqrt(d)."""
    return np.diag(np.r_[np.ones(d // 2), -np.ones(d // 2)]) / np.sqrt(d)


def balanced_spectrum(r: int, key: jax.Array) -> np.ndarray:
    """r eigenvalues summing to 0 with unit norm: ±1/sqrt(r) for even r, random otherwise."""
    if r % 2 == 0:
        return np.r_[np.ones(r // 2), -np.ones(r // 2)] / np.sqrt(r)
    s = np.asarray(jax.random.normal(key, (r,), dtype=jnp.float64))
    s = s - s.mean()
    return s / np.linalg.norm(s)


def make_matrix(a_kind: str, d: int, rank: int | None, a_matrix: Any, key: jax.Array) -> np.ndarray:
    """Build and validate A (symmetric, trace 0, unit Frobenius norm)."""
    check_choice("a_kind", a_kind, A_KINDS)
    if a_matrix is not None and a_kind != "custom":
        raise ParameterError(f"a_matrix is given, so a_kind must be 'custom'; got {a_kind!r}")
    if rank is not None and a_kind != "low-rank":
        raise ParameterError(f"rank applies only to a_kind='low-rank'; got rank={rank!r}")
    k_rot, k_spec = jax.random.split(key)
    if a_kind == "balanced-diagonal":
        check_even("d", d, "for a_kind='balanced-diagonal' (+1 on half, -1 on half)")
        return balanced_diagonal(d)
    if a_kind == "rotated-diagonal":
        check_even("d", d, "for a_kind='rotated-diagonal' (+1 on half, -1 on half)")
        q = random_orthogonal(k_rot, d)
        return q @ balanced_diagonal(d) @ q.T
    if a_kind == "gaussian":
        g = np.asarray(jax.random.normal(k_rot, (d, d), dtype=jnp.float64))
        a = (g + g.T) / 2.0
        a = a - np.trace(a) / d * np.eye(d)
        return a / np.linalg.norm(a)
    if a_kind == "low-rank":
        if rank is None:
            raise ParameterError(f"rank must be set for a_kind='low-rank' (2 <= rank < d={d})")
        check_int("rank", rank, 2, f"2 <= rank < d={d}")
        if rank >= d:
            raise ParameterError(f"rank must satisfy 2 <= rank < d={d}; got {rank}")
        u = random_orthogonal(k_rot, d, rank)
        return (u * balanced_spectrum(rank, k_spec)[None, :]) @ u.T
    return validate_matrix(a_matrix, d)


def validate_matrix(a_matrix: Any, d: int) -> np.ndarray:
    """Check a user-given A: d x d, symmetric, tr A = 0, ||A||_F = 1."""
    if a_matrix is None:
        raise ParameterError("a_matrix must be given (a d x d list of lists) for a_kind='custom'")
    try:
        a = np.asarray(a_matrix, dtype=np.float64)
    except (TypeError, ValueError):
        raise ParameterError("a_matrix must be a d x d list of lists of numbers") from None
    if a.shape != (d, d) or not np.all(np.isfinite(a)):
        raise ParameterError(f"a_matrix must be a finite {d} x {d} matrix; got shape {a.shape}")
    if not np.allclose(a, a.T, atol=_A_TOL, rtol=0):
        raise ParameterError("a_matrix must be symmetric (A = A^T)")
    tr, fro = float(np.trace(a)), float(np.linalg.norm(a))
    if abs(tr) > _A_TOL:
        raise ParameterError(f"a_matrix must have trace 0 (tr A = 0); got tr A = {tr:.6g}")
    if abs(fro - 1.0) > _A_TOL:
        raise ParameterError(f"a_matrix must have unit Frobenius norm (||A||_F = 1); got {fro:.6g}")
    return (a + a.T) / 2.0


class QuadraticFeature(HierarchicalTarget):
    """f*(x) = g*(x^T A x / sqrt(2d/(d+2))) with x uniform on the sphere of radius sqrt(d)."""

    input_distribution = sampling.SPHERE
    _array_fields = ("A",)
    # The eigenvalues only feed metadata and exact moments, never the compiled programs.
    _unkeyed_fields = (*HierarchicalTarget._unkeyed_fields, "eigenvalues")

    def __init__(
        self,
        d: int = 16,
        a_kind: AKind = "balanced-diagonal",
        rank: int | None = None,
        a_matrix: list[list[float]] | None = None,
        link: LinkName = "hermite",
        link_coefficients: list[float] | None = None,
        normalize_link: bool = True,
        noise_std: float = 0.0,
        seed: int = 0,
    ) -> None:
        params = {
            "d": d,
            "a_kind": a_kind,
            "rank": rank,
            "a_matrix": None if a_matrix is None else [list(map(float, r)) for r in a_matrix],
            "link": link,
            "link_coefficients": None if link_coefficients is None else list(link_coefficients),
            "normalize_link": normalize_link,
            "noise_std": noise_std,
            "seed": seed,
        }
        super().__init__(d, seed, noise_std, params)
        self.g = ScalarLink(link, link_coefficients, normalize_link)
        self.A = make_matrix(a_kind, self.d, rank, a_matrix, jax.random.PRNGKey(self.seed))
        self.eigenvalues = np.linalg.eigvalsh(self.A)
        self.feature_scale = sphere_standard_deviation(self.d)

    def feature(self, X: jax.Array) -> jax.Array:
        """h*(x) = x^T A x, shape (n,)."""
        A = jnp.asarray(self.A, dtype=X.dtype)
        return jnp.einsum("ni,ij,nj->n", X, A, X)

    def link(self, z: jax.Array) -> jax.Array:
        """g*, applied to the standardized feature."""
        return self.g(z)

    def _metadata(self) -> dict[str, Any]:
        return {
            "family": "quadratic-feature",
            "feature_degree": 2,
            "link_degree": self.g.degree,
            "feature_dim": 1,
            "a_kind": self.params["a_kind"],
            "a_operator_norm": float(np.max(np.abs(self.eigenvalues))),
            "a_frobenius_norm": float(np.linalg.norm(self.A)),
            "a_trace": float(np.trace(self.A)),
            "rank": int(np.sum(np.abs(self.eigenvalues) > 1e-12)),
            "link": self.g.describe(),
            "provenance": "paper (Nichani, Damian & Lee 2023); A variants: reconstruction",
        }

    def _exact_variance(self) -> float | None:
        mono = self.g.monomials()
        if mono is None:
            return None
        # u = q / s: E[u^j] = E[q^j] / s^j, exact on the sphere.
        m = sphere_quadratic_moments(self.eigenvalues, self.d, 2 * (len(mono) - 1))
        mu = m / self.feature_scale ** np.arange(len(m))
        return polynomial_mean_variance(mono, mu)[1]
