"""The Monte Carlo degree-energy estimator and its kernels against independent references."""

from __future__ import annotations

import math

import numpy as np
import pytest
from numpy.polynomial import hermite_e, legendre
from tlkit_targets import energy


def sphere_points(rng: np.random.Generator, n: int, d: int) -> np.ndarray:
    """NumPy reference sampler: uniform on the sphere of radius sqrt(d)."""
    z = rng.standard_normal((n, d))
    return z * np.sqrt(d) / np.linalg.norm(z, axis=1, keepdims=True)


def h(k: int, x: np.ndarray) -> np.ndarray:
    return hermite_e.hermeval(x, np.eye(k + 1)[k]) / math.sqrt(math.factorial(k))


def test_gaussian_kernel_d1_is_product_of_hermite(rng: np.random.Generator) -> None:
    x, y = rng.standard_normal(5), rng.standard_normal(5)
    K = energy.gaussian_kernels(x * y, x**2, y**2, 1, 6)
    for k in range(7):
        np.testing.assert_allclose(K[k], h(k, x) * h(k, y), rtol=1e-10, atol=1e-12)


def test_gaussian_kernel_d2_sums_over_multi_indices(rng: np.random.Generator) -> None:
    x, y = rng.standard_normal((2, 4)), rng.standard_normal((2, 4))
    K = energy.gaussian_kernels(np.sum(x * y, 0), np.sum(x**2, 0), np.sum(y**2, 0), 2, 5)
    for k in range(6):
        ref = sum(h(a, x[0]) * h(k - a, x[1]) * h(a, y[0]) * h(k - a, y[1]) for a in range(k + 1))
        np.testing.assert_allclose(K[k], ref, rtol=1e-9, atol=1e-12)


def test_sphere_kernel_d3_is_legendre() -> None:
    t = np.linspace(-1, 1, 9)
    Z = energy.sphere_kernels(t, 3, 5)
    for k in range(6):
        np.testing.assert_allclose(Z[k], (2 * k + 1) * legendre.legval(t, np.eye(k + 1)[k]))


def test_sphere_kernel_d2_is_fourier() -> None:
    theta = np.linspace(0, np.pi, 7)
    Z = energy.sphere_kernels(np.cos(theta), 2, 4)
    for k in range(1, 5):
        np.testing.assert_allclose(Z[k], 2 * np.cos(k * theta), atol=1e-12)


@pytest.mark.parametrize(("k", "d", "n"), [(0, 5, 1), (1, 5, 5), (2, 5, 14), (3, 4, 16)])
def test_harmonic_dimension_counts(k: int, d: int, n: int) -> None:
    # Reference: dim of harmonics = C(k+d-1, d-1) - C(k+d-3, d-1) (tabulated values).
    assert energy.harmonic_dimension(k, d) == n


def test_monte_carlo_energy_gaussian_known_function() -> None:
    # f = 0.6 h_2(x_1) + 0.8 h_1(x_2) + 0.5: energies [0.25, 0.64, 0.36, 0, ...].
    d = 4
    rng = np.random.default_rng(0)
    est = energy.monte_carlo_energy(
        lambda X: 0.6 * h(2, X[:, 0]) + 0.8 * X[:, 1] + 0.5,
        lambda b, n: rng.standard_normal((n, d)),
        "gaussian",
        d,
        4,
        batch_size=256,
        n_batches=16,
    )
    expected = np.array([0.25, 0.64, 0.36, 0.0, 0.0])
    assert est.stderr is not None
    assert np.all(np.abs(est.energy - expected) <= 6 * est.stderr + 1e-3)
    assert est.variance == pytest.approx(1.0, abs=0.1)


def test_monte_carlo_energy_sphere_harmonic_quadratic(rng: np.random.Generator) -> None:
    # x^T A x with tr A = 0 is a degree-2 harmonic: all energy at degree 2.
    d = 6
    A = np.diag([1.0, -1.0, 0, 0, 0, 0]) / math.sqrt(2)
    est = energy.monte_carlo_energy(
        lambda X: np.einsum("ni,ij,nj->n", X, A, X),
        lambda b, n: sphere_points(rng, n, d),
        "sphere",
        d,
        4,
        batch_size=256,
        n_batches=16,
    )
    expected = np.array([0.0, 0.0, 2 * d / (d + 2), 0.0, 0.0])
    assert est.stderr is not None
    assert np.all(np.abs(est.energy - expected) <= 6 * est.stderr + 1e-3)


def two_sphere_points(rng: np.random.Generator, n: int, m: int) -> np.ndarray:
    """NumPy reference sampler: (x1, x2), independent and uniform on spheres of radius sqrt(m)."""
    return np.concatenate([sphere_points(rng, n, m), sphere_points(rng, n, m)], axis=1)


def test_two_spheres_kernel_m3_is_product_of_legendre(rng: np.random.Generator) -> None:
    # On S^2(sqrt 3) the zonal kernel of degree j is (2j+1) P_j(t), so the degree-k
    # kernel of two spheres is sum_j (2j+1) P_j(t1) (2(k-j)+1) P_{k-j}(t2).
    m, k_max = 3, 5
    X = two_sphere_points(rng, 7, m)
    K = energy._kernels("two-spheres", X, 2 * m, k_max)
    t1 = np.clip(X[:, :m] @ X[:, :m].T / m, -1, 1)
    t2 = np.clip(X[:, m:] @ X[:, m:].T / m, -1, 1)

    def zonal(j: int, t: np.ndarray) -> np.ndarray:
        return (2 * j + 1) * legendre.legval(t, np.eye(j + 1)[j])

    for k in range(k_max + 1):
        ref = sum(zonal(j, t1) * zonal(k - j, t2) for j in range(k + 1))
        np.testing.assert_allclose(K[k], ref, rtol=1e-10, atol=1e-10)


def test_monte_carlo_energy_two_spheres_inner_product(rng: np.random.Generator) -> None:
    # f = <x1, x2> + 0.6 x1_1 + 0.8 x2_1 on two spheres of radius sqrt(m): the linear
    # terms are degree 1 (energy 0.36 + 0.64; E x_i^2 = 1), and <x1, x2> is degree 2
    # with energy E<x1, x2>^2 = sum_i E x1_i^2 E x2_i^2 = m; f has mean 0.
    m = 4
    est = energy.monte_carlo_energy(
        lambda X: np.sum(X[:, :m] * X[:, m:], axis=1) + 0.6 * X[:, 0] + 0.8 * X[:, m],
        lambda b, n: two_sphere_points(rng, n, m),
        "two-spheres",
        2 * m,
        4,
        batch_size=256,
        n_batches=16,
    )
    expected = np.array([0.0, 1.0, float(m), 0.0, 0.0])
    assert est.stderr is not None
    assert np.all(np.abs(est.energy - expected) <= 6 * est.stderr + 1e-3), (est.energy, est.stderr)
    assert est.variance == pytest.approx(m + 1.0, rel=0.1)
