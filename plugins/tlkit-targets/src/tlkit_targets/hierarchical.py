"""The hierarchical-polynomial target of Wang, Nichani & Lee (2024).

p(x) = sum_i lambda_i h_k(x_i) / sqrt(d) with lambda_i = ±1 and h_k the normalized
degree-k Hermite polynomial, x ~ N(0, I_d); f*(x) = c p(x)^q with c making Var f* = 1
exactly (computed from the exact cumulants of p).
"""

from __future__ import annotations

import math
from typing import Any, Literal

import jax
import jax.numpy as jnp
import numpy as np
from numpy.polynomial import hermite_e
from tlkit.errors import ParameterError
from tlkit.numerics.hermite import hermite
from tlkit.types import DegreeEnergy

from tlkit_targets import sampling
from tlkit_targets._checks import check_choice, check_int
from tlkit_targets.base import HierarchicalTarget
from tlkit_targets.moments import moments_from_cumulants

SIGNS = ("random", "alternating", "positive")
Signs = Literal["random", "alternating", "positive"]


def hermite_power_moments(k: int, m_max: int) -> np.ndarray:
    """``E[h_k(z)^m]`` for m = 0..m_max, z ~ N(0, 1), exact by Gauss-Hermite quadrature."""
    nodes, weights = hermite_e.hermegauss(k * m_max // 2 + 2)
    weights = weights / weights.sum()
    h = hermite_e.hermeval(nodes, np.eye(k + 1)[k]) / math.sqrt(math.factorial(k))
    return np.array([np.sum(weights * h**m) for m in range(m_max + 1)])


def cumulants_from_moments(mu: np.ndarray) -> np.ndarray:
    """Cumulants ``kappa[1..]`` from raw moments (``kappa[0] = 0``)."""
    kappa = np.zeros(len(mu))
    for n in range(1, len(mu)):
        kappa[n] = mu[n] - sum(math.comb(n - 1, j - 1) * kappa[j] * mu[n - j] for j in range(1, n))
    return kappa


def sum_moments(lam: np.ndarray, k: int, m_max: int) -> np.ndarray:
    """Exact moments of ``p = sum_i lam_i h_k(z_i) / sqrt(d)`` up to order m_max."""
    d = len(lam)
    kappa_h = cumulants_from_moments(hermite_power_moments(k, m_max))
    kappa = np.array(
        [0.0] + [np.sum(lam**m) * kappa_h[m] / d ** (m / 2) for m in range(1, m_max + 1)]
    )
    return moments_from_cumulants(kappa, m_max)


def linearization(k: int, q: int, j_max: int) -> np.ndarray:
    """``a[m, j] = E[h_k(z)^m h_j(z)]`` for m <= q, j <= j_max (exact quadrature)."""
    nodes, weights = hermite_e.hermegauss((k * q + j_max) // 2 + 2)
    weights = weights / weights.sum()
    hk = hermite_e.hermeval(nodes, np.eye(k + 1)[k]) / math.sqrt(math.factorial(k))
    out = np.zeros((q + 1, j_max + 1))
    for j in range(j_max + 1):
        hj = hermite_e.hermeval(nodes, np.eye(j + 1)[j]) / math.sqrt(math.factorial(j))
        for m in range(q + 1):
            out[m, j] = np.sum(weights * hk**m * hj)
    return out


def power_energy(lam: np.ndarray, k: int, q: int, max_degree: int) -> np.ndarray:
    """Exact Hermite-degree energies of ``p^q``, ``p = sum_i lam_i h_k(x_i) / sqrt(d)``.

    With ``B_ij(t) = sum_m (t lam_i / sqrt d)^m a[m, j] / m!`` the coefficient of
    ``prod_i h_{j_i}(x_i)`` in ``p^q`` is ``q! [t^q] prod_i B_{i j_i}(t)``, so the
    degree-D energy is ``(q!)^2 [t^q s^q rho^D] prod_i sum_j rho^j B_ij(t) B_ij(s)``,
    a product of d small truncated polynomials in (t, s, rho).
    """
    d = len(lam)
    a = linearization(k, q, max_degree)
    total = np.zeros((q + 1, q + 1, max_degree + 1))
    total[0, 0, 0] = 1.0
    m = np.arange(q + 1)
    fact = np.array([math.factorial(i) for i in m], dtype=np.float64)
    for li in lam:
        b = (li / math.sqrt(d)) ** m[:, None] * a / fact[:, None]  # b[m, j]: t^m coefficient
        factor = np.einsum("aj,bj->abj", b, b)  # t^a s^b rho^j
        new = np.zeros_like(total)
        for ia, ib, ij in zip(*np.nonzero(factor), strict=True):
            new[ia:, ib:, ij:] += (
                factor[ia, ib, ij] * total[: q + 1 - ia, : q + 1 - ib, : max_degree + 1 - ij]
            )
        total = new
    return math.factorial(q) ** 2 * total[q, q, :]


class HierarchicalPolynomial(HierarchicalTarget):
    """f*(x) = c (sum_i lambda_i h_k(x_i) / sqrt(d))^q, x ~ N(0, I_d), Var f* = 1."""

    input_distribution = sampling.GAUSSIAN
    normalized = True
    # link_scale depends on the drawn signs (through sum_i lambda_i^m for odd m), so it is
    # traced like them; link_mean is metadata only.
    _array_fields = ("lam", "link_scale")
    _unkeyed_fields = (*HierarchicalTarget._unkeyed_fields, "link_mean")

    def __init__(
        self,
        d: int = 16,
        k: int = 3,
        q: int = 3,
        signs: Signs = "random",
        noise_std: float = 0.0,
        seed: int = 0,
    ) -> None:
        params = {"d": d, "k": k, "q": q, "signs": signs, "noise_std": noise_std, "seed": seed}
        super().__init__(d, seed, noise_std, params)
        self.k = check_int("k", k, 1, "degree of the inner polynomial")
        self.q = check_int("q", q, 1, "degree of the outer link")
        check_choice("signs", signs, SIGNS)
        if signs == "random":
            key = jax.random.PRNGKey(self.seed)
            self.lam = np.asarray(jax.random.rademacher(key, (self.d,), dtype=jnp.float64))
        elif signs == "alternating":
            self.lam = np.where(np.arange(self.d) % 2 == 0, 1.0, -1.0)
        else:
            self.lam = np.ones(self.d)
        mu = sum_moments(self.lam, self.k, 2 * self.q)
        variance = mu[2 * self.q] - mu[self.q] ** 2
        if variance <= 1e-12:  # pragma: no cover - p is non-degenerate for k >= 1
            raise ParameterError(f"q={q} gives a constant target")
        self.link_scale = 1.0 / math.sqrt(variance)
        self.link_mean = float(mu[self.q]) * self.link_scale

    def feature(self, X: jax.Array) -> jax.Array:
        """h*(x) = p(x) = sum_i lambda_i h_k(x_i) / sqrt(d); mean 0, variance 1."""
        lam = jnp.asarray(self.lam / math.sqrt(self.d), dtype=X.dtype)
        return hermite(X, self.k) @ lam

    def link(self, z: jax.Array) -> jax.Array:
        """g*(z) = c z^q with c = 1 / sd(p^q)."""
        return jnp.asarray(self.link_scale, dtype=z.dtype) * z**self.q

    def _metadata(self) -> dict[str, Any]:
        return {
            "family": "hierarchical-polynomial",
            "feature_degree": self.k,
            "link_degree": self.q,
            "feature_dim": 1,
            "link_scale": self.link_scale,
            "mean": self.link_mean,
            "signs": self.lam.tolist(),
            "provenance": "paper (Wang, Nichani & Lee 2024); sign pattern: reconstruction",
        }

    def _exact_variance(self) -> float | None:
        return 1.0

    def _degree_energy(self, max_degree: int, batch_size: int, n_batches: int) -> DegreeEnergy:
        energy = self.link_scale**2 * power_energy(self.lam, self.k, self.q, max_degree)
        return DegreeEnergy(energy=energy, stderr=None, method="exact", variance=1.0)
