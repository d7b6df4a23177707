"""tlkit.numerics.kernels against Monte Carlo over wide random layers (NumPy reference)."""

from __future__ import annotations

import math

import jax.numpy as jnp
import numpy as np
import pytest
import tlkit  # noqa: F401  (enables float64)
from tlkit.numerics.kernels import blocked_gram, random_feature_kernel

D = 5
M = 400_000  # random rows; standard errors are ~1e-3 of the kernel scale


def _points() -> np.ndarray:
    rng = np.random.default_rng(0)
    X = rng.standard_normal((4, D))
    X[1] = -0.7 * X[0] + 0.1 * X[1]  # strongly anti-correlated pair
    X[2] = X[0] * 1.0001  # rho ~ 1, another norm
    X[3] *= 0.3  # a short vector: s != 1
    return X


NUMPY_FNS = {
    "relu": (lambda z: np.maximum(z, 0), lambda z: (z > 0).astype(float)),
    "abs": (lambda z: np.abs(z) - math.sqrt(2 / math.pi), np.sign),
    "identity": (lambda z: z, np.ones_like),
    "cube": (lambda z: z**3, lambda z: 3 * z**2),
    "tanh": (np.tanh, lambda z: 1 - np.tanh(z) ** 2),
    "he3": (lambda z: (z**3 - 3 * z) / math.sqrt(6), lambda z: (3 * z**2 - 3) / math.sqrt(6)),
}


def _monte_carlo(fn, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(1)
    V = rng.standard_normal((M, D)) / math.sqrt(D)  # v ~ N(0, I/d)
    F = fn(X @ V.T)  # (n, M)
    prod = F[:, None, :] * F[None, :, :]
    return prod.mean(-1), prod.std(-1) / math.sqrt(M)


@pytest.mark.parametrize("name", list(NUMPY_FNS))
@pytest.mark.parametrize("derivative", [False, True])
def test_kernel_matches_monte_carlo(name: str, derivative: bool) -> None:
    X = _points()
    mc, se = _monte_carlo(NUMPY_FNS[name][int(derivative)], X)
    K = np.asarray(
        random_feature_kernel(name, derivative=derivative)(jnp.asarray(X), jnp.asarray(X))
    )
    # 5 standard errors (plus a floor for entries whose MC variance is ~0)
    np.testing.assert_array_less(np.abs(K - mc), 5 * se + 1e-6)


def test_series_kernel_matches_closed_forms() -> None:
    """The Hermite-series path (used for any callable) agrees with the closed forms."""
    X = jnp.asarray(_points()[[0, 1, 3]])
    for name, fn in [("relu", lambda z: jnp.maximum(z, 0)), ("cube", lambda z: z**3)]:
        closed = np.asarray(random_feature_kernel(name)(X, X))
        series = np.asarray(random_feature_kernel(fn, k_max=40)(X, X))
        # ReLU's Hermite coefficients decay like k^(-5/4): truncation error ~1e-3 at rho = 1
        np.testing.assert_allclose(series, closed, rtol=3e-3, atol=1e-4)


def test_identity_kernel_is_scaled_inner_product() -> None:
    X = _points()
    K = np.asarray(random_feature_kernel("identity")(jnp.asarray(X), jnp.asarray(X)))
    np.testing.assert_allclose(K, X @ X.T / D, rtol=1e-12)


def test_user_activation_by_module_path() -> None:
    X = jnp.asarray(_points())
    K_user = np.asarray(random_feature_kernel("jax.numpy:tanh")(X, X))
    K_name = np.asarray(random_feature_kernel("tanh")(X, X))
    np.testing.assert_allclose(K_user, K_name, rtol=1e-12)


def test_blocked_gram_equals_one_block() -> None:
    rng = np.random.default_rng(3)
    X = jnp.asarray(rng.standard_normal((37, D)))
    Y = jnp.asarray(rng.standard_normal((11, D)))
    k = random_feature_kernel("relu")
    np.testing.assert_allclose(blocked_gram(k, X, Y, block=8), np.asarray(k(X, Y)), rtol=1e-12)


def test_float32_inputs_stay_float32() -> None:
    X = jnp.asarray(_points(), dtype=jnp.float32)
    assert random_feature_kernel("abs")(X, X).dtype == jnp.float32


def test_float32_arccos_arcsin_within_float32_rounding_and_float64_exact():
    from tlkit.numerics.kernels import arccos, arcsin

    grid = np.concatenate(
        [np.linspace(-1, 1, 200_001), 1 - np.logspace(-7, -1, 50), -1 + np.logspace(-7, -1, 50)]
    )
    x32 = jnp.asarray(grid, dtype=jnp.float32)
    exact = np.asarray(x32, np.float64)  # the float32 inputs, evaluated in float64
    for ours, numpy_fn, jax_fn in (
        (arccos, np.arccos, jnp.arccos),
        (arcsin, np.arcsin, jnp.arcsin),
    ):
        err_ours = np.max(np.abs(np.asarray(ours(x32), np.float64) - numpy_fn(exact)))
        err_jax = np.max(np.abs(np.asarray(jax_fn(x32), np.float64) - numpy_fn(exact)))
        # float32 rounding at pi (jax's own: ~2e-7)
        assert err_ours < 4e-7 and err_jax < 4e-7, (ours.__name__, err_ours, err_jax)
        x64 = jnp.asarray(grid, dtype=jnp.float64)
        np.testing.assert_allclose(np.asarray(ours(x64)), numpy_fn(grid), rtol=0, atol=1e-15)
    assert float(arccos(jnp.float32(1.0))) == 0.0
    assert float(arccos(jnp.float32(-1.0))) == pytest.approx(np.pi, abs=3e-7)
    # no cancellation: relative accuracy near 0 (arcsin) and near 1 (arccos)
    tiny = jnp.asarray([1e-6, -3e-5, 1e-3], dtype=jnp.float32)
    np.testing.assert_allclose(arcsin(tiny), np.arcsin(np.asarray(tiny, np.float64)), rtol=1e-6)
    near_one = jnp.asarray([1 - 2**-20, 1 - 2**-12], dtype=jnp.float32)
    np.testing.assert_allclose(
        arccos(near_one), np.arccos(np.asarray(near_one, np.float64)), rtol=1e-6
    )
    assert float(arcsin(jnp.float32(0.0))) == 0.0
