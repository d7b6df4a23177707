"""The three-layer architecture: contract, forward pass against NumPy, parameters."""

from __future__ import annotations

import math

import jax.numpy as jnp
import numpy as np
import pytest
from tlkit.errors import ParameterError
from tlkit.testing import check_architecture
from tlkit_nets.three_layer import three_layer

D = 6


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("m2", [16, None])
def test_contract(dtype: str, m2: int | None) -> None:
    params = {"m1": 8, "m2": m2}
    check_architecture(
        three_layer(d=D, seed=0, dtype=dtype, **params),
        D,
        factory=three_layer,
        params=params,
        dtype=dtype,
    )


def test_contract_with_random_w_and_sphere_v() -> None:
    params = {"m1": 8, "m2": 16, "w_init": "gaussian", "v_init": "sphere", "sigma1": "tanh"}
    check_architecture(three_layer(d=D, seed=0, **params), D, factory=three_layer, params=params)


def test_forward_matches_numpy() -> None:
    model = three_layer(
        d=D, seed=1, dtype="float64", m1=5, m2=7, w_init="gaussian", sigma1="tanh", sigma2="abs"
    )
    X = np.random.default_rng(0).standard_normal((4, D))
    V, W = np.asarray(model.V[...]), np.asarray(model.W[...])
    b, a = np.asarray(model.b[...]), np.asarray(model.a[...])
    h1 = np.abs(X @ V.T) - math.sqrt(2 / math.pi)
    h2 = np.tanh(h1 @ W.T + b)
    np.testing.assert_allclose(np.asarray(model(jnp.asarray(X))), h2 @ a / 5, rtol=1e-12)
    reps = model.representations(jnp.asarray(X))
    assert list(reps) == ["h1", "h2"]
    np.testing.assert_allclose(np.asarray(reps["h2"]), h2, rtol=1e-12)


def _relu_kernel(X: np.ndarray, Y: np.ndarray) -> np.ndarray:
    """E relu(v·x) relu(v·y), v ~ N(0, I/d): the arc-cosine kernel (Cho & Saul 2009)."""
    nx, ny = np.linalg.norm(X, axis=1), np.linalg.norm(Y, axis=1)
    rho = np.clip(X @ Y.T / np.outer(nx, ny), -1, 1)
    theta = np.arccos(rho)
    return np.outer(nx, ny) / X.shape[1] * (np.sin(theta) + (np.pi - theta) * rho) / (2 * np.pi)


def test_infinite_width_forward_matches_numpy() -> None:
    model = three_layer(d=D, seed=2, dtype="float64", m1=5, m2=None, sigma1="tanh", sigma2="relu")
    rng = np.random.default_rng(3)
    X = rng.standard_normal((9, D))
    b, a = np.asarray(model.b[...]), np.asarray(model.a[...])
    # untrained: φ̂ = 0, so every prediction is (1/m1) Σ a σ1(b)
    np.testing.assert_allclose(np.asarray(model(jnp.asarray(X))), np.tanh(b) @ a / 5, rtol=1e-12)
    # "trained": a support set, its coefficients (r_j / n1) and slopes set by hand;
    # φ̂(x) = Σ_j (r_j / n1) K(x_j, x)
    support, coef, slope = (
        rng.standard_normal((4, D)),
        rng.standard_normal(4),
        rng.standard_normal(5),
    )
    model.support_X.set_value(jnp.asarray(support))
    model.support_coef.set_value(jnp.asarray(coef))
    model.slope[...] = jnp.asarray(slope)
    phi = _relu_kernel(X, support) @ coef
    np.testing.assert_allclose(np.asarray(model.learned_feature(jnp.asarray(X))), phi, rtol=1e-10)
    h2 = np.tanh(phi[:, None] * slope + b)
    np.testing.assert_allclose(np.asarray(model(jnp.asarray(X))), h2 @ a / 5, rtol=1e-12)
    np.testing.assert_allclose(np.asarray(model.representations(jnp.asarray(X))["h2"]), h2)


def test_initial_distributions() -> None:
    model = three_layer(d=32, seed=0, dtype="float64", m1=4000, m2=4000, bias_scale=2.0)
    V = np.asarray(model.V[...])
    # rows ~ N(0, I/d): E|v|² = 1 (sd of the mean of 4000 chi²_32/32 is ~0.004)
    assert abs(np.mean(np.sum(V**2, 1)) - 1) < 0.02
    assert set(np.unique(np.asarray(model.a[...]))) == {-1.0, 1.0}
    b = np.asarray(model.b[...])
    assert b.min() >= -2 and b.max() <= 2 and abs(np.mean(b)) < 0.1
    assert not np.any(np.asarray(model.W[...]))
    sphere = three_layer(d=32, seed=0, m1=4, m2=10, v_init="sphere")
    np.testing.assert_allclose(np.linalg.norm(np.asarray(sphere.V[...]), axis=1), 1, rtol=1e-6)


def test_untrained_model_has_no_learned_feature() -> None:
    X = jnp.ones((3, D), dtype=jnp.float32)
    assert three_layer(d=D, seed=0, m1=4, m2=8).learned_feature(X) is None
    assert three_layer(d=D, seed=0, m1=4, m2=None).learned_feature(X) is None


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"m1": 0}, "m1 must be an integer >= 1, got 0"),
        ({"m2": -3}, "m2 must be an integer >= 1, got -3"),
        ({"sigma1": "softsign"}, "unknown sigma1 'softsign'"),
        ({"sigma2": "nope:x"}, "sigma2: cannot import"),
        ({"v_init": "uniform"}, "v_init must be one of gaussian, sphere; got 'uniform'"),
        ({"bias_init": "x"}, "bias_init must be one of uniform, gaussian, zero"),
        ({"w_init": "ones"}, "w_init must be one of zero, gaussian"),
        ({"bias_scale": -1.0}, "bias_scale must be a finite number >= 0"),
        ({"m2": None, "v_init": "sphere"}, "v_init must be 'gaussian' when m2=None"),
        ({"dtype": "float16"}, "dtype must be one of float32, float64"),
    ],
)
def test_bad_parameters(params: dict, message: str) -> None:
    with pytest.raises(ParameterError, match=message):
        three_layer(d=D, seed=0, **params)
