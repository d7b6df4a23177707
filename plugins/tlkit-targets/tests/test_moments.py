"""Exact moments of quadratic forms against closed forms and NumPy Monte Carlo."""

from __future__ import annotations

import math

import numpy as np
import pytest
from tlkit_targets.moments import (
    gaussian_quadratic_moments,
    moments_from_cumulants,
    sphere_quadratic_moments,
)


def sphere_points(rng: np.random.Generator, n: int, d: int) -> np.ndarray:
    """NumPy reference sampler: uniform on the sphere of radius sqrt(d)."""
    z = rng.standard_normal((n, d))
    return z * np.sqrt(d) / np.linalg.norm(z, axis=1, keepdims=True)


def test_moments_from_cumulants_of_a_normal() -> None:
    # N(mu, s^2): kappa_1 = mu, kappa_2 = s^2, all others 0;
    # E X^n = sum_k C(n, 2k) mu^(n-2k) s^(2k) (2k-1)!!.
    mu, s2, n_max = 0.7, 1.3, 8
    kappa = np.zeros(n_max + 1)
    kappa[1], kappa[2] = mu, s2

    def double_factorial(m: int) -> int:
        return math.prod(range(m, 0, -2))

    expected = [
        sum(
            math.comb(n, 2 * k) * mu ** (n - 2 * k) * s2**k * double_factorial(2 * k - 1)
            for k in range(n // 2 + 1)
        )
        for n in range(n_max + 1)
    ]
    np.testing.assert_allclose(moments_from_cumulants(kappa, n_max), expected, rtol=1e-12)


def test_moments_from_cumulants_of_a_poisson() -> None:
    # Poisson(lam): every cumulant is lam; moments by direct summation over the pmf.
    lam, n_max = 1.7, 6
    x = np.arange(80.0)
    log_pmf = -lam + x * math.log(lam) - np.array([math.lgamma(v + 1) for v in x])
    expected = [np.sum(np.exp(log_pmf) * x**n) for n in range(n_max + 1)]
    kappa = np.full(n_max + 1, lam)
    np.testing.assert_allclose(moments_from_cumulants(kappa, n_max), expected, rtol=1e-12)


@pytest.mark.parametrize("d", [1, 5, 16])
def test_gaussian_quadratic_moments_identity_is_chi_square(d: int) -> None:
    # A = I_d: z^T z ~ chi^2_d with E[q^j] = 2^j Gamma(d/2 + j) / Gamma(d/2).
    j = np.arange(7)
    expected = np.exp(j * math.log(2) + np.array([math.lgamma(d / 2 + i) for i in j]))
    expected /= math.gamma(d / 2)
    np.testing.assert_allclose(gaussian_quadratic_moments(np.ones(d), 6), expected, rtol=1e-12)


def test_gaussian_quadratic_moments_low_orders_closed_form() -> None:
    # E q = tr A, E q^2 = (tr A)^2 + 2 tr A^2, E q^3 = (tr A)^3 + 6 tr A tr A^2 + 8 tr A^3.
    lam = np.array([0.9, -0.4, 0.25, 1.6])
    t1, t2, t3 = (np.sum(lam**m) for m in (1, 2, 3))
    expected = [1.0, t1, t1**2 + 2 * t2, t1**3 + 6 * t1 * t2 + 8 * t3]
    np.testing.assert_allclose(gaussian_quadratic_moments(lam, 3), expected, rtol=1e-12)


def test_sphere_quadratic_moments_identity_is_constant() -> None:
    # x^T x = d on the sphere of radius sqrt(d).
    d = 7
    np.testing.assert_allclose(
        sphere_quadratic_moments(np.ones(d), d, 5), float(d) ** np.arange(6), rtol=1e-12
    )


@pytest.mark.parametrize("shift", [0.0, 0.3])
def test_sphere_quadratic_moments_match_monte_carlo(shift: float) -> None:
    # A = (trace-free, unit Frobenius norm) + shift I, so E[x^T A x] = shift d.
    d, j_max, n = 6, 4, 400_000
    rng = np.random.default_rng(7)
    g = rng.standard_normal((d, d))
    A = (g + g.T) / 2
    A -= np.trace(A) / d * np.eye(d)
    A = A / np.linalg.norm(A) + shift * np.eye(d)
    X = sphere_points(rng, n, d)
    q = np.einsum("ni,ij,nj->n", X, A, X)
    powers = q[:, None] ** np.arange(1, j_max + 1)
    mc, se = powers.mean(axis=0), powers.std(axis=0) / math.sqrt(n)
    exact = sphere_quadratic_moments(np.linalg.eigvalsh(A), d, j_max)
    assert exact[0] == 1.0
    assert np.all(np.abs(exact[1:] - mc) <= 6 * se + 1e-12), (exact[1:], mc, se)
