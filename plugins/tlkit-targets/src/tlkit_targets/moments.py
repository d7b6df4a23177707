"""Exact moments of quadratic forms and of polynomials of them.

Used for exact variances: for z ~ N(0, I_d) the quadratic form ``q = z^T A z`` has
cumulants ``kappa_m = 2^(m-1) (m-1)! tr(A^m)``; on the sphere of radius sqrt(d) the
radial part factors out: ``E_S[q^j] = d^j E_G[q^j] / (d (d+2) ... (d+2j-2))``.
"""

from __future__ import annotations

import math

import numpy as np


def moments_from_cumulants(kappa: np.ndarray, m_max: int) -> np.ndarray:
    """Raw moments ``mu_0..mu_m_max`` from cumulants ``kappa[1..]`` (``kappa[0]`` unused)."""
    mu = np.zeros(m_max + 1)
    mu[0] = 1.0
    for n in range(1, m_max + 1):
        mu[n] = sum(math.comb(n - 1, k - 1) * kappa[k] * mu[n - k] for k in range(1, n + 1))
    return mu


def gaussian_quadratic_moments(eigenvalues: np.ndarray, m_max: int) -> np.ndarray:
    """``E[(z^T A z)^j]`` for j = 0..m_max, z ~ N(0, I), A with the given eigenvalues."""
    lam = np.asarray(eigenvalues, dtype=np.float64)
    kappa = np.zeros(m_max + 1)
    for m in range(1, m_max + 1):
        kappa[m] = 2.0 ** (m - 1) * math.factorial(m - 1) * np.sum(lam**m)
    return moments_from_cumulants(kappa, m_max)


def sphere_quadratic_moments(eigenvalues: np.ndarray, d: int, m_max: int) -> np.ndarray:
    """``E[(x^T A x)^j]`` for j = 0..m_max, x uniform on the sphere of radius sqrt(d)."""
    mu = gaussian_quadratic_moments(eigenvalues, m_max)
    out = np.empty_like(mu)
    for j in range(m_max + 1):
        radial = math.prod(d + 2.0 * i for i in range(j))  # E|z|^(2j)
        out[j] = d**j * mu[j] / radial
    return out


def polynomial_mean_variance(monomials: np.ndarray, moments: np.ndarray) -> tuple[float, float]:
    """Mean and variance of ``sum_j a_j u^j`` given ``moments[j] = E[u^j]``."""
    a = np.asarray(monomials, dtype=np.float64)
    mean = float(sum(a[j] * moments[j] for j in range(len(a))))
    second = float(sum(a[i] * a[j] * moments[i + j] for i in range(len(a)) for j in range(len(a))))
    return mean, second - mean**2
