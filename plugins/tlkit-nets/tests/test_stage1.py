"""Stage 1 of Algorithm 1: autodiff step = closed form = NumPy; rank one; m2 -> infinity."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from nets_testlib import quadratic_problem
from tlkit.numerics.kernels import random_feature_kernel
from tlkit_nets.features import feature_direction, feature_values, kernel_feature_values
from tlkit_nets.layerwise import autodiff_step
from tlkit_nets.three_layer import three_layer

D = 8


def _numpy_stage1(model, X: np.ndarray, y: np.ndarray, eta1: float) -> tuple[np.ndarray, ...]:
    """Independent NumPy reference: relu σ1, abs-centred σ2, loss (1/(2n)) Σ (f - y)²."""
    V, b, a = (np.asarray(v[...], dtype=np.float64) for v in (model.V, model.b, model.a))
    h0 = np.abs(X @ V.T) - math.sqrt(2 / math.pi)
    c0 = np.mean(a * np.maximum(b, 0))
    g = ((y - c0)[:, None] * h0).mean(0)
    u = a * (b > 0) / model.m1
    return eta1 * np.outer(u, g), g, h0, c0


def test_autodiff_step_equals_numpy_closed_form() -> None:
    model = three_layer(d=D, seed=3, dtype="float64", m1=12, m2=40)
    X, y, _ = quadratic_problem(jax.random.PRNGKey(0), 50, D, jnp.float64)
    W1 = np.asarray(autodiff_step(model, X, y, eta1=3.5))
    ref, *_ = _numpy_stage1(model, np.asarray(X), np.asarray(y), 3.5)
    np.testing.assert_allclose(W1, ref, rtol=1e-10, atol=1e-14)


def test_stage1_step_is_rank_one_to_float64_precision() -> None:
    model = three_layer(d=D, seed=4, dtype="float64", m1=30, m2=60, sigma1="tanh")
    X, y, _ = quadratic_problem(jax.random.PRNGKey(1), 200, D, jnp.float64)
    W1 = np.asarray(autodiff_step(model, X, y, eta1=1.0))
    s = np.linalg.svd(W1, compute_uv=False)
    assert s[0] > 0
    assert s[1] / s[0] < 1e-13


def test_streamed_direction_equals_numpy() -> None:
    model = three_layer(d=D, seed=5, dtype="float64", m1=4, m2=33)
    X, y, _ = quadratic_problem(jax.random.PRNGKey(2), 103, D, jnp.float64)
    _, g_ref, h0, c0 = _numpy_stage1(model, np.asarray(X), np.asarray(y), 1.0)
    # batch 10 does not divide 103: the padded rows must carry zero weight
    g = feature_direction(X, y - c0, model.V[...], model.sigma2, 10)
    np.testing.assert_allclose(np.asarray(g), g_ref, rtol=1e-12)
    phi = feature_values(X, g, model.V[...], model.sigma2, 7)
    np.testing.assert_allclose(np.asarray(phi), h0 @ g_ref / 33, rtol=1e-12)


def test_kernel_feature_equals_numpy_sum() -> None:
    rng = np.random.default_rng(0)
    X1, X, r = rng.standard_normal((45, D)), rng.standard_normal((17, D)), rng.standard_normal(45)
    k = random_feature_kernel("abs")
    K = np.asarray(k(jnp.asarray(X1), jnp.asarray(X)))
    got = kernel_feature_values(jnp.asarray(X), jnp.asarray(X1), jnp.asarray(r), k, 8)
    np.testing.assert_allclose(np.asarray(got), r @ K / 45, rtol=1e-12)


@pytest.mark.parametrize("sigma2", ["abs", "relu"])
def test_finite_width_feature_converges_to_infinite_width(sigma2: str) -> None:
    """|φ̂_m2 - φ̂_∞| shrinks like 1/sqrt(m2) (Monte Carlo over the random inner layer)."""
    X1, y1, _ = quadratic_problem(jax.random.PRNGKey(7), 300, D, jnp.float64)
    Xt, _, _ = quadratic_problem(jax.random.PRNGKey(8), 100, D, jnp.float64)
    r = y1 - jnp.mean(y1)
    phi_inf = np.asarray(kernel_feature_values(Xt, X1, r, random_feature_kernel(sigma2), 64))
    errors = []
    for m2 in (256, 16384):
        model = three_layer(d=D, seed=11, dtype="float64", m1=2, m2=m2, sigma2=sigma2)
        g = feature_direction(X1, r, model.V[...], model.sigma2, 64)
        phi = np.asarray(feature_values(Xt, g, model.V[...], model.sigma2, 64))
        errors.append(np.linalg.norm(phi - phi_inf) / np.linalg.norm(phi_inf))
    # 64x the width: a Monte Carlo error drops ~8x; allow sampling noise in the ratio
    assert 4 < errors[0] / errors[1] < 16
