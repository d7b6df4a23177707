"""Per-degree energy of a target function: exact helpers and a Monte Carlo estimator.

The Monte Carlo estimator is the U-statistic

    E_k = E_{x, x'}[f(x) f(x') K_k(x, x')],   x, x' independent,

where ``K_k`` is the reproducing kernel of the degree-k polynomial space of the
input distribution (so ``E_x'[K_k(x, x') f(x')] = (P_k f)(x)`` and
``E_k = ||P_k f||^2``):

* Gaussian N(0, I_d): ``K_k`` is the coefficient of rho^k in Mehler's kernel
  ``(1 - rho^2)^(-d/2) exp((rho <x,x'> - rho^2 (|x|^2 + |x'|^2)/2) / (1 - rho^2))``;
* sphere of radius sqrt(d): ``K_k = N_k P_k(<x,x'>/d)``, the zonal harmonic
  (``P_k`` the Gegenbauer/Legendre polynomial of dimension d with ``P_k(1) = 1``,
  ``N_k`` the dimension of degree-k harmonics);
* two spheres: the sum over ``k1 + k2 = k`` of products of the two zonal kernels.

It is unbiased; its standard error is the spread over independent batches.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
from tlkit.types import DegreeEnergy

from tlkit_targets import sampling


def harmonic_dimension(k: int, d: int) -> int:
    """Dimension of the space of degree-k spherical harmonics in R^d."""
    if k == 0:
        return 1
    return math.comb(k + d - 1, k) - math.comb(k + d - 3, k - 2) if k >= 2 else d


def sphere_kernels(t: np.ndarray, d: int, k_max: int) -> list[np.ndarray]:
    """Zonal kernels ``N_k P_k(t)`` for k = 0..k_max at cosines ``t`` (dimension d)."""
    p_prev, p = np.ones_like(t), t.copy()
    out = [p_prev * harmonic_dimension(0, d)]
    if k_max >= 1:
        out.append(p * harmonic_dimension(1, d))
    for k in range(1, k_max):
        # Gegenbauer recurrence normalized to P_k(1) = 1.
        p_prev, p = p, ((2 * k + d - 2) * t * p - k * p_prev) / (k + d - 2)
        out.append(p * harmonic_dimension(k + 1, d))
    return out


def gaussian_kernels(
    s: np.ndarray, a: np.ndarray, b: np.ndarray, d: int, k_max: int
) -> list[np.ndarray]:
    """Degree-k Hermite reproducing kernels from inner products and squared norms.

    Args:
        s: ``<x, x'>``; a: ``|x|^2``; b: ``|x'|^2`` (broadcastable arrays).
        d: dimension.
        k_max: highest degree.
    """
    # Series of the exponent E(rho): s at odd powers, -(a+b)/2 at even powers >= 2.
    half = -(a + b) / 2.0
    e: list[Any] = [None] + [s if m % 2 else half for m in range(1, k_max + 1)]
    f = [np.ones_like(s)]
    for m in range(1, k_max + 1):  # exp of a power series: m f_m = sum_j j e_j f_{m-j}
        acc = np.zeros_like(s)
        for j in range(1, m + 1):
            acc = acc + j * e[j] * f[m - j]
        f.append(acc / m)
    gamma = d / 2.0
    # (1 - rho^2)^(-d/2) = sum_j binom(gamma + j - 1, j) rho^(2j)
    prefactor = [
        math.exp(math.lgamma(gamma + j) - math.lgamma(gamma) - math.lgamma(j + 1))
        for j in range(k_max // 2 + 1)
    ]
    out = []
    for k in range(k_max + 1):
        acc = np.zeros_like(s)
        for j in range(k // 2 + 1):
            acc = acc + prefactor[j] * f[k - 2 * j]
        out.append(acc)
    return out


def _kernels(distribution: str, X: np.ndarray, d: int, k_max: int) -> list[np.ndarray]:
    if distribution == sampling.GAUSSIAN:
        sq = np.sum(X**2, axis=1)
        return gaussian_kernels(X @ X.T, sq[:, None], sq[None, :], d, k_max)
    if distribution == sampling.SPHERE:
        return sphere_kernels(np.clip(X @ X.T / d, -1.0, 1.0), d, k_max)
    if distribution == sampling.TWO_SPHERES:
        m = d // 2
        z1 = sphere_kernels(np.clip(X[:, :m] @ X[:, :m].T / m, -1.0, 1.0), m, k_max)
        z2 = sphere_kernels(np.clip(X[:, m:] @ X[:, m:].T / m, -1.0, 1.0), m, k_max)
        return [sum(z1[j] * z2[k - j] for j in range(k + 1)) for k in range(k_max + 1)]
    raise ValueError(f"unknown input distribution {distribution!r}")


def monte_carlo_energy(
    f: Callable[[np.ndarray], np.ndarray],
    sample: Callable[[int, int], np.ndarray],
    distribution: str,
    d: int,
    max_degree: int,
    batch_size: int = 1024,
    n_batches: int = 32,
    variance: float | None = None,
) -> DegreeEnergy:
    """Monte Carlo per-degree energies with batch standard errors.

    Args:
        f: the target function on a float64 NumPy batch ``(n, d) -> (n,)``.
        sample: ``sample(batch_index, n)`` returns ``n`` float64 inputs; batches must
            be independent.
        distribution: ``"gaussian"``, ``"sphere"`` or ``"two-spheres"``.
        d: input dimension.
        max_degree: highest degree.
        batch_size: points per batch (memory ~ (max_degree + 3) * batch_size^2 * 8 B).
        n_batches: number of independent batches (>= 2).
        variance: the exact ``Var f`` if known; otherwise estimated.

    Returns:
        A :class:`DegreeEnergy` with ``method="monte-carlo"``.
    """
    per_batch = np.zeros((n_batches, max_degree + 1))
    var_batch = np.zeros(n_batches)
    n = batch_size
    for b in range(n_batches):
        X = sample(b, n)
        y = np.asarray(f(X), dtype=np.float64)
        for k, K in enumerate(_kernels(distribution, X, d, max_degree)):
            # U-statistic: drop the diagonal i == j.
            per_batch[b, k] = (y @ K @ y - np.sum(y**2 * np.diag(K))) / (n * (n - 1))
        var_batch[b] = np.mean(y**2) - per_batch[b, 0]
    energy = per_batch.mean(axis=0)
    stderr = per_batch.std(axis=0, ddof=1) / math.sqrt(n_batches)
    var = float(var_batch.mean()) if variance is None else float(variance)
    return DegreeEnergy(
        energy=energy,
        stderr=stderr,
        method="monte-carlo",
        variance=var,
        # an exact variance given by the family is checkable against a large sample
        variance_stderr=None if variance is None else 0.0,
    )
