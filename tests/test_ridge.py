"""tlkit.numerics.ridge against plain NumPy float64 solves."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pytest
from tlkit.numerics.ridge import (
    covariance_ridge_path,
    feature_ridge_path,
    feature_ridge_solve,
    kernel_ridge_coefficients,
    kernel_ridge_path,
    kernel_ridge_path_predictions,
)


@pytest.fixture
def problem():
    rng = np.random.default_rng(0)
    Phi = rng.standard_normal((60, 8))
    y = Phi @ rng.standard_normal(8) + 0.3 * rng.standard_normal(60)
    Y = np.stack([y, rng.standard_normal(60)], axis=1)
    return Phi, y, Y


def numpy_ridge(Phi, y, lam):
    n, p = Phi.shape
    return np.linalg.solve(Phi.T @ Phi / n + lam * np.eye(p), Phi.T @ y / n)


@pytest.mark.parametrize("lam", [1e-6, 1e-2, 3.0])
def test_feature_ridge_matches_numpy_solve(problem, lam) -> None:
    Phi, y, _ = problem
    path = feature_ridge_path(jnp.asarray(Phi), jnp.asarray(y))
    np.testing.assert_allclose(feature_ridge_solve(path, lam), numpy_ridge(Phi, y, lam), rtol=1e-9)


def test_feature_ridge_path_of_many_ridges_and_outputs(problem) -> None:
    Phi, y, Y = problem
    lams = np.array([1e-3, 0.1, 10.0])
    W = feature_ridge_solve(feature_ridge_path(jnp.asarray(Phi), jnp.asarray(y)), lams)
    assert W.shape == (3, 8)
    for i, lam in enumerate(lams):
        np.testing.assert_allclose(W[i], numpy_ridge(Phi, y, lam), rtol=1e-9)
    WY = feature_ridge_solve(feature_ridge_path(jnp.asarray(Phi), jnp.asarray(Y)), lams)
    assert WY.shape == (3, 8, 2)
    for i, lam in enumerate(lams):
        np.testing.assert_allclose(WY[i], numpy_ridge(Phi, Y, lam), rtol=1e-9)
    single = feature_ridge_solve(feature_ridge_path(jnp.asarray(Phi), jnp.asarray(Y)), 0.1)
    assert single.shape == (8, 2)


def test_covariance_path_equals_feature_path(problem) -> None:
    Phi, y, _ = problem
    n = Phi.shape[0]
    a = feature_ridge_solve(covariance_ridge_path(Phi.T @ Phi / n, Phi.T @ y / n), 0.5)
    np.testing.assert_allclose(a, numpy_ridge(Phi, y, 0.5), rtol=1e-9)


@pytest.mark.parametrize("lam", [1e-8, 1e-3, 1.0])
def test_kernel_ridge_matches_numpy_float64_solve(lam) -> None:
    rng = np.random.default_rng(1)
    X = rng.standard_normal((80, 5))
    K = np.exp(-((X[:, None] - X[None]) ** 2).sum(-1) / 10)
    y = np.sin(X[:, 0])
    alpha = kernel_ridge_coefficients(kernel_ridge_path(K, y), lam)
    expected = np.linalg.solve(K + 80 * lam * np.eye(80), y)
    np.testing.assert_allclose(alpha, expected, rtol=1e-7, atol=1e-9)
    # Residual check independent of conditioning: (K + nλI) α = y.
    np.testing.assert_allclose((K + 80 * lam * np.eye(80)) @ alpha, y, atol=1e-8)


def test_kernel_ridge_vector_targets_and_path_predictions() -> None:
    rng = np.random.default_rng(2)
    X = rng.standard_normal((50, 3))
    Xn = rng.standard_normal((7, 3))
    K = (1 + X @ X.T / 3) ** 2
    Kn = (1 + Xn @ X.T / 3) ** 2
    y = rng.standard_normal(50)
    path = kernel_ridge_path(K, y)
    lams = np.array([1e-4, 1e-2])
    preds = kernel_ridge_path_predictions(path, Kn, lams)
    for i, lam in enumerate(lams):
        np.testing.assert_allclose(
            preds[i], Kn @ np.linalg.solve(K + 50 * lam * np.eye(50), y), rtol=1e-7, atol=1e-9
        )
    Y = np.stack([y, 2 * y], axis=1)
    A = kernel_ridge_coefficients(kernel_ridge_path(K, Y), 1e-2)
    np.testing.assert_allclose(A[:, 1], 2 * A[:, 0], rtol=1e-12)


def test_kernel_ridge_cholesky_matches_numpy_solve_and_leaves_k_unchanged() -> None:
    from tlkit.numerics.ridge import kernel_ridge_cholesky

    rng = np.random.default_rng(3)
    X = rng.standard_normal((70, 4))
    K = np.exp(-((X[:, None] - X[None]) ** 2).sum(-1) / 8)
    K_before = K.copy()
    y = np.cos(X[:, 1])
    lams = np.array([1e-6, 1e-3, 0.1])
    A = kernel_ridge_cholesky(K, y, lams)
    assert A.shape == (70, 3)
    np.testing.assert_array_equal(K, K_before)
    for i, lam in enumerate(lams):
        np.testing.assert_allclose((K + 70 * lam * np.eye(70)) @ A[:, i], y, atol=1e-8)
        np.testing.assert_allclose(
            A[:, i], np.linalg.solve(K + 70 * lam * np.eye(70), y), rtol=1e-6, atol=1e-8
        )
    path = kernel_ridge_path(K, y)
    np.testing.assert_allclose(A[:, 2], kernel_ridge_coefficients(path, 0.1), rtol=1e-9, atol=1e-12)


def test_kernel_ridge_cholesky_gives_nan_for_an_indefinite_system() -> None:
    from tlkit.numerics.ridge import kernel_ridge_cholesky

    K = np.diag([1.0, -1.0])
    A = kernel_ridge_cholesky(K, np.ones(2), np.array([0.0, 1.0]))
    assert np.all(np.isnan(A[:, 0]))
    np.testing.assert_allclose((K + 2 * np.eye(2)) @ A[:, 1], np.ones(2))
