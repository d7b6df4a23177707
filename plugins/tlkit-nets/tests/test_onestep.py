"""Two-layer network and its one-step / random-features trainers against NumPy."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pytest
from nets_testlib import make_data, numpy_ridge, numpy_validation_grid, relative_ridge
from tlkit.errors import ParameterError
from tlkit.testing import check_architecture
from tlkit_nets.onestep import one_step, random_features
from tlkit_nets.three_layer import three_layer
from tlkit_nets.two_layer import two_layer

D = 8
GRID = {"ridges": [1e-4, 1e-2, 1.0]}


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_contract(dtype: str) -> None:
    check_architecture(
        two_layer(d=D, seed=0, m=12, dtype=dtype),
        D,
        factory=two_layer,
        params={"m": 12},
        dtype=dtype,
    )


def test_forward_matches_numpy() -> None:
    model = two_layer(d=D, seed=1, m=9, dtype="float64", sigma="tanh")
    X = np.random.default_rng(0).standard_normal((5, D))
    W, b, a = (np.asarray(v[...]) for v in (model.W, model.b, model.a))
    np.testing.assert_allclose(model(jnp.asarray(X)), np.tanh(X @ W.T + b) @ a / 9, rtol=1e-12)


def _relu_features(W: np.ndarray, b: np.ndarray, X: np.ndarray) -> np.ndarray:
    return np.maximum(X @ W.T + b, 0) / W.shape[0]


def _relu_gradient(W, b, a, X1, y1) -> np.ndarray:
    """∇_W (1/(2n)) Σ (f - y)² of the ReLU two-layer network f = relu(XWᵀ + b) a / m."""
    m, n = W.shape[0], X1.shape[0]
    pre = X1 @ W.T + b
    resid = np.maximum(pre, 0) @ a / m - y1
    return ((resid[:, None] * (pre > 0) * a / m).T @ X1) / n


def test_one_step_is_a_numpy_gradient_step_then_ridge(stages: list) -> None:
    model = two_layer(d=D, seed=2, m=16, dtype="float64")
    W0, b, a0 = (np.asarray(v[...]) for v in (model.W, model.b, model.a))
    data = make_data(2, 200, D, dtype=jnp.float64)
    report = one_step(step_sizes=[0.5, 1.0], **GRID).fit(model, data, stages.append)
    assert report.status == "ok" and [s.stage for s in stages] == ["stage1", "stage2"]
    X, y = np.asarray(data.X), np.asarray(data.y)
    W1 = W0 - stages[0].info["step_abs"] * _relu_gradient(W0, b, a0, X[:100], y[:100])
    np.testing.assert_allclose(np.asarray(model.W[...]), W1, rtol=1e-9, atol=1e-12)
    # relative units: the first step has Frobenius norm step_size * |W0|
    step_norm = np.linalg.norm(W1 - W0) / np.linalg.norm(W0)
    assert step_norm == pytest.approx(stages[0].info["step_size"], rel=1e-9)
    Phi2 = _relu_features(W1, b, X[100:])
    lam_abs = relative_ridge(Phi2, stages[1].info["ridge"])  # λ tr(Φ2ᵀΦ2/n2)/p, derived here
    assert stages[1].info["ridge_abs"] == pytest.approx(lam_abs, rel=1e-9)
    a_ref = numpy_ridge(Phi2, y[100:], lam_abs)
    np.testing.assert_allclose(np.asarray(model.a[...]), a_ref, rtol=1e-7, atol=1e-10)


def test_one_step_chooses_step_size_and_ridge_on_the_validation_set(stages: list) -> None:
    """The whole val_mse grid rebuilt in NumPy: W after one relative-units step of each
    size, ridge on D2 at the relative ridge, MSE on (X_val, y_val)."""
    model = two_layer(d=D, seed=5, m=16, dtype="float64")
    W0, b, a0 = (np.asarray(v[...]) for v in (model.W, model.b, model.a))
    data = make_data(5, 200, D, n_val=200, dtype=jnp.float64)
    steps = [0.25, 1.0, 4.0]
    one_step(step_sizes=steps, **GRID).fit(model, data, stages.append)
    X, y, Xv = np.asarray(data.X), np.asarray(data.y), np.asarray(data.X_val)
    G0 = _relu_gradient(W0, b, a0, X[:100], y[:100])
    Ws = [W0 - s * np.linalg.norm(W0) / np.linalg.norm(G0) * G0 for s in steps]
    grid = numpy_validation_grid(
        [(_relu_features(W, b, X[100:]), _relu_features(W, b, Xv)) for W in Ws],
        y[100:],
        np.asarray(data.y_val),
        GRID["ridges"],
    )
    np.testing.assert_allclose(stages[0].curves["val_mse"].values, grid, rtol=1e-8)
    i, j = np.unravel_index(np.argmin(grid), grid.shape)
    assert (stages[0].info["step_size"], stages[1].info["ridge"]) == (steps[i], GRID["ridges"][j])
    np.testing.assert_allclose(np.asarray(model.W[...]), Ws[i], rtol=1e-9, atol=1e-12)


def test_k_steps_follow_numpy_gradient_descent(stages: list) -> None:
    model = two_layer(d=D, seed=3, m=10, dtype="float64", sigma="tanh")
    W, b, a0 = (np.asarray(v[...]) for v in (model.W, model.b, model.a))
    data = make_data(3, 100, D, dtype=jnp.float64)
    one_step(steps=3, step_sizes=[0.3], step_size_units="absolute", **GRID).fit(
        model, data, stages.append
    )
    X1, y1 = np.asarray(data.X)[:50], np.asarray(data.y)[:50]
    for _ in range(3):
        h = np.tanh(X1 @ W.T + b)
        resid = h @ a0 / 10 - y1
        grad = ((resid[:, None] * (1 - h**2) * a0 / 10).T @ X1) / 50
        W = W - 0.3 * 10 * grad  # absolute units: W <- W - eta m grad
    np.testing.assert_allclose(np.asarray(model.W[...]), W, rtol=1e-9)


def test_random_features_keep_w_and_fit_ridge(stages: list) -> None:
    model = two_layer(d=D, seed=4, m=16, dtype="float64")
    W0, b = np.asarray(model.W[...]), np.asarray(model.b[...])
    data = make_data(4, 120, D, dtype=jnp.float64)
    report = random_features(**GRID).fit(model, data, stages.append)
    assert report.status == "ok" and [s.stage for s in stages] == ["stage2"]
    assert stages[0].curves["val_mse"].dims == ("step_size", "ridge")
    np.testing.assert_array_equal(np.asarray(model.W[...]), W0)
    Phi = _relu_features(W0, b, np.asarray(data.X))
    lam_abs = relative_ridge(Phi, stages[0].info["ridge"])  # λ tr(ΦᵀΦ/n)/p, derived here
    assert stages[0].info["ridge_abs"] == pytest.approx(lam_abs, rel=1e-9)
    a_ref = numpy_ridge(Phi, np.asarray(data.y), lam_abs)
    np.testing.assert_allclose(np.asarray(model.a[...]), a_ref, rtol=1e-7, atol=1e-10)


def test_random_features_choose_the_ridge_on_the_validation_set(stages: list) -> None:
    """The val_mse curve (one step size, 0) rebuilt in NumPy: ridge on the first n2
    training points at the relative ridge, MSE on (X_val, y_val)."""
    model = two_layer(d=D, seed=6, m=16, dtype="float64")
    W0, b = np.asarray(model.W[...]), np.asarray(model.b[...])
    data = make_data(6, 150, D, n_val=200, dtype=jnp.float64)
    random_features(n2=100, **GRID).fit(model, data, stages.append)
    X, y = np.asarray(data.X)[:100], np.asarray(data.y)[:100]
    Phi, Phi_val = _relu_features(W0, b, X), _relu_features(W0, b, np.asarray(data.X_val))
    grid = numpy_validation_grid([(Phi, Phi_val)], y, np.asarray(data.y_val), GRID["ridges"])
    curve = stages[0].curves["val_mse"]
    assert curve.coords["step_size"] == [0.0]
    np.testing.assert_allclose(curve.values, grid, rtol=1e-8)
    j = int(np.argmin(grid[0]))
    assert stages[0].info["ridge"] == GRID["ridges"][j]
    a_ref = numpy_ridge(Phi, y, relative_ridge(Phi, GRID["ridges"][j]))
    np.testing.assert_allclose(np.asarray(model.a[...]), a_ref, rtol=1e-7, atol=1e-10)


@pytest.mark.parametrize("factory", [one_step, random_features])
def test_fit_many_equals_looped_fits(factory, stages: list) -> None:
    datas = [make_data(s, 160, D, dtype=jnp.float64) for s in range(3)]
    looped = [two_layer(d=D, seed=s, m=12, dtype="float64") for s in range(3)]
    for model, data in zip(looped, datas, strict=True):
        factory(**GRID).fit(model, data, stages.append)
    batched = [two_layer(d=D, seed=s, m=12, dtype="float64") for s in range(3)]
    factory(**GRID).fit_many(batched, datas, stages.append)
    for one, many in zip(looped, batched, strict=True):
        np.testing.assert_allclose(many(datas[0].X_val), one(datas[0].X_val), rtol=1e-8)


def test_batched_step_grid_equals_one_step_size_at_a_time(stages: list) -> None:
    datas = [make_data(s, 160, D, dtype=jnp.float64) for s in range(2)]
    fitted = []
    for batch in (1, 2):
        models = [two_layer(d=D, seed=s, m=12, dtype="float64") for s in range(2)]
        one_step(**GRID, step_batch=batch).fit_many(models, datas, stages.append)
        fitted.append(models)
    for one, together in zip(*fitted, strict=True):
        np.testing.assert_allclose(together(datas[0].X_val), one(datas[0].X_val), rtol=1e-9)
    curves = [s.curves["val_mse"].values for s in stages if s.stage == "stage1"]
    np.testing.assert_allclose(curves[2:], curves[:2], rtol=1e-10)


def test_diverging_step_is_reported(stages: list) -> None:
    report = one_step(step_sizes=[1e30], step_size_units="absolute", **GRID).fit(
        two_layer(d=D, seed=0, m=8, sigma="cube"), make_data(0, 64, D), stages.append
    )
    assert report.status == "failed" and "NaN" in report.reason


def test_parameter_errors() -> None:
    data = make_data(0, 64, D)
    with pytest.raises(ParameterError, match="needs architecture 'two-layer'"):
        one_step().fit(three_layer(d=D, seed=0, m1=4, m2=8), data, print)
    with pytest.raises(ParameterError, match="steps must be an integer >= 1, got 0"):
        one_step(steps=0)
    with pytest.raises(ParameterError, match="step_batch must be 'auto' or an integer >= 1, got 0"):
        one_step(step_batch=0)
    with pytest.raises(ParameterError, match="must be 'auto' or an integer >= 1, got 'all'"):
        one_step(step_batch="all")
    with pytest.raises(ParameterError, match="n2 must be at most n_train = 64"):
        random_features(n2=100).fit(two_layer(d=D, seed=0, m=8), data, print)
    with pytest.raises(ParameterError, match="m must be an integer >= 1"):
        two_layer(d=D, seed=0, m=0)
    with pytest.raises(ParameterError, match=r"m must be below 2\*\*63, got 100000000000000000000"):
        two_layer(d=D, seed=0, m=10**20)
    with pytest.raises(ParameterError, match="unknown sigma 'gelu'"):
        two_layer(d=D, seed=0, sigma="gelu")


def test_trains_with_a_user_activation(stages: list) -> None:
    """A ``module:function`` activation is traced inside the jitted trainer (and vmapped)."""
    datas = [make_data(s, 64, D) for s in range(2)]
    models = [two_layer(d=D, seed=s, m=8, sigma="jax.numpy:tanh") for s in range(2)]
    reports = one_step(**GRID).fit_many(models, datas, stages.append)
    assert [r.status for r in reports] == ["ok", "ok"]
    W, b = np.asarray(models[0].W[...]), np.asarray(models[0].b[...])
    hidden = np.asarray(models[0].representations(datas[0].X)["h1"])
    np.testing.assert_allclose(hidden, np.tanh(np.asarray(datas[0].X) @ W.T + b), atol=1e-6)
