"""Baselines against NumPy references and closed-form errors."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from probe_fakes import FakeNet, FakeTarget, make_run, relu_nngp_numpy
from tlkit.config import RunConfig
from tlkit.errors import ParameterError
from tlkit.run import Run
from tlkit.testing import check_probe
from tlkit.types import FitReport
from tlkit_probes.baselines import (
    hermite_features,
    kernel_ridge,
    network_kernel,
    nystrom_featurizer,
    poly_ridge,
    rf_ridge,
)


def run_with(n_train: int, n_val: int = 256, n_test: int = 1024, d: int = 4) -> Run:
    target = FakeTarget(d=d)
    config = RunConfig(
        target="fake",
        arch="fake",
        n_train=n_train,
        n_val=n_val,
        n_test=n_test,
        seed=5,
        dtype="float64",
    )
    return Run(config=config, target=target, model=FakeNet(d, target.beta), fit=FitReport())


@pytest.mark.parametrize("solver", ["cholesky", "eigh"])
def test_kernel_ridge_matches_numpy_solve_along_the_path(solver) -> None:
    run = run_with(300)
    lams = [1e-4, 1e-2, 1.0]
    out = check_probe(kernel_ridge(ridges=lams, activation="relu", block=128, solver=solver), run)
    data = run.train_data()
    X, y = np.asarray(data.X), np.asarray(data.y)
    K = relu_nngp_numpy(X, X)
    Kv = relu_nngp_numpy(np.asarray(data.X_val), X)
    scale = np.mean(np.diag(K))
    val = []
    for lam in lams:
        alpha = np.linalg.solve(K + 300 * lam * scale * np.eye(300), y - y.mean())
        val.append(np.mean((y.mean() + Kv @ alpha - np.asarray(data.y_val)) ** 2))
    np.testing.assert_allclose(out["val_mse"].values, val, rtol=1e-8)
    best = lams[int(np.argmin(val))]
    alpha = np.linalg.solve(K + 300 * best * scale * np.eye(300), y - y.mean())
    Xt, _ = run.test_data()
    Xt = np.asarray(Xt)
    f = np.asarray(run.target.function(Xt))
    nmse = np.mean((y.mean() + relu_nngp_numpy(Xt, X) @ alpha - f) ** 2) / np.var(f)
    np.testing.assert_allclose(out["normalized_mse"].values, nmse, rtol=1e-8)
    assert out["ridge"].values == best


def test_kernel_ridge_nystrom_above_the_exact_limit() -> None:
    run = run_with(256, n_test=512)
    exact = kernel_ridge(activation="relu")(run)
    approx = kernel_ridge(activation="relu", exact_limit=100, nystrom_points=256)(run)
    assert "Nystrom" in approx["normalized_mse"].long_name
    # All training points as landmarks: the Nystrom features span the same function
    # space; the fits differ only through the intercept (centred features vs centred
    # labels) and the ridge scale, so the errors are close but not equal.
    assert abs(approx["normalized_mse"].values - exact["normalized_mse"].values) < 0.1
    assert approx["normalized_mse"].values < 0.2


def test_nystrom_features_reproduce_the_kernel_through_the_landmarks() -> None:
    # phi(x) = K(x, Z) K(Z, Z)^{-1/2}: phi(X) phi(Z)^T = K(X, Z) and
    # phi(X) phi(X)^T = K(X, Z) K(Z, Z)^{-1} K(Z, X), with the NumPy arc-cosine kernel.
    rng = np.random.default_rng(6)
    Z, X = rng.standard_normal((40, 4)), rng.standard_normal((30, 4))
    featurize = nystrom_featurizer(network_kernel("relu", "nngp"), Z)
    phi_x, phi_z = featurize(X), featurize(Z)
    Kxz, Kzz = relu_nngp_numpy(X, Z), relu_nngp_numpy(Z, Z)
    assert np.linalg.eigvalsh(Kzz).min() > 1e-6 * np.linalg.eigvalsh(Kzz).max()  # full rank
    np.testing.assert_allclose(phi_x @ phi_z.T, Kxz, rtol=1e-8, atol=1e-10 * Kxz.max())
    np.testing.assert_allclose(phi_z @ phi_z.T, Kzz, rtol=1e-8, atol=1e-10 * Kzz.max())
    np.testing.assert_allclose(
        phi_x @ phi_x.T, Kxz @ np.linalg.solve(Kzz, Kxz.T), rtol=1e-8, atol=1e-10 * Kxz.max()
    )


def test_nystrom_on_every_training_point_is_centred_kernel_ridge() -> None:
    # Landmarks = the n training points: phi(X) phi(X)^T = K exactly, so the feature
    # ridge with an unpenalized intercept (centred features, absolute ridge
    # lam_rel tr(Cov phi) / n) is kernel ridge with the centred kernel written out here.
    n = 128
    run = run_with(n, n_val=128, n_test=512)
    lams = [1e-4, 1e-2, 1.0]
    out = kernel_ridge(ridges=lams, activation="relu", exact_limit=n - 1, nystrom_points=n)(run)
    assert "Nystrom" in out["normalized_mse"].long_name
    data = run.train_data()
    X, y = np.asarray(data.X), np.asarray(data.y)
    H = np.eye(n) - np.ones((n, n)) / n
    K = relu_nngp_numpy(X, X)
    Kc = H @ K @ H

    def centred(Xo: np.ndarray) -> np.ndarray:  # (phi(x) - mean phi) . (phi_i - mean phi)
        return relu_nngp_numpy(Xo, X) @ H - (H @ K.mean(axis=1))[None, :]

    def predict(Xo: np.ndarray, lam: float) -> np.ndarray:
        lam_abs = lam * np.trace(Kc) / n / n  # tr(Cov phi) / p with p = n features
        return y.mean() + centred(Xo) @ np.linalg.solve(Kc + n * lam_abs * np.eye(n), y - y.mean())

    _assert_ridge_choice(out, predict, data, run, lams)


def test_ntk_runs_and_beats_the_mean() -> None:
    out = kernel_ridge(kernel="ntk", activation="relu")(run_with(300))
    assert 0 < out["normalized_mse"].values < 0.5


def test_poly_ridge_recovers_the_degree_energies() -> None:
    # f* = h + h^2/2 with h ~ N(0,1): Var f* = 3/2, degree-2 energy 1/2, degree-1 energy 1.
    run = run_with(600, n_test=4096)
    one = poly_ridge(degree=1)(run)["normalized_mse"].values
    two = poly_ridge(degree=2)(run)["normalized_mse"].values
    three = poly_ridge(degree=3)(run)["normalized_mse"].values
    zero = poly_ridge(degree=0)(run)["normalized_mse"].values
    assert abs(one - 1 / 3) < 0.05
    assert two < 1e-3 and three < 1e-2
    assert abs(zero - 1) < 0.05  # the training mean predicts E f*: error Var f*


def test_rf_ridge_with_identity_features_is_linear_regression() -> None:
    run = run_with(600, n_test=4096)
    out = check_probe(rf_ridge(features=64, activation="identity"), run)
    assert abs(out["normalized_mse"].values - 1 / 3) < 0.05
    relu = rf_ridge(features=256, activation="relu")(run)["normalized_mse"].values
    assert relu < 1 / 3


def test_rf_ridge_with_tanh_is_numpy_ridge_on_tanh_features_with_v_of_variance_one_over_d():
    # tanh is not homogeneous, so the scale of V ~ N(0, I/d) shows in the error. The
    # reference draws V from the same key (standard normals / sqrt(d)) and fits a NumPy
    # ridge with an unpenalized intercept at lam_rel tr(Cov phi) / p.
    d, p, seed = 4, 64, 7
    run = run_with(300, n_test=512, d=d)
    lams = [1e-4, 1e-2, 1.0]
    out = rf_ridge(features=p, activation="tanh", ridges=lams, seed=seed)(run)
    V = np.asarray(jax.random.normal(jax.random.PRNGKey(seed), (d, p), dtype=jnp.float64))
    V = V / np.sqrt(d)
    data = run.train_data()
    phi = np.tanh(np.asarray(data.X) @ V)
    y = np.asarray(data.y)
    mu = phi.mean(axis=0)
    cov = (phi - mu).T @ (phi - mu) / len(y)
    cross = (phi - mu).T @ (y - y.mean()) / len(y)

    def predict(X: np.ndarray, lam: float) -> np.ndarray:
        w = np.linalg.solve(cov + lam * np.trace(cov) / p * np.eye(p), cross)
        return y.mean() + (np.tanh(np.asarray(X) @ V) - mu) @ w

    _assert_ridge_choice(out, predict, data, run, lams)


def test_hermite_features_are_orthonormal_under_the_gaussian() -> None:
    rng = np.random.default_rng(0)
    X = rng.standard_normal((200_000, 3))
    F = hermite_features(X, 2)
    assert F.shape == (200_000, 1 + 3 + 3 + 3)
    gram = F.T @ F / F.shape[0]
    np.testing.assert_allclose(gram, np.eye(10), atol=5 * math.sqrt(8 / 200_000) * 3)


@pytest.mark.parametrize(
    ("factory", "kwargs", "name"),
    [
        (kernel_ridge, {"kernel": "rbf"}, "kernel"),
        (kernel_ridge, {"ridges": [0.0]}, "ridges"),
        (kernel_ridge, {"activation": "nope"}, "activation"),
        (kernel_ridge, {"solver": "lu"}, "solver"),
        (rf_ridge, {"features": 0}, "features"),
        (poly_ridge, {"degree": -1}, "degree"),
    ],
)
def test_bad_parameters(factory, kwargs, name) -> None:
    with pytest.raises(ParameterError, match=name):
        factory(**kwargs)


def test_poly_kernel_refuses_above_its_exact_limit() -> None:
    with pytest.raises(ParameterError, match="exact_limit"):
        poly_ridge(degree=3, exact_limit=10)(run_with(64))


def test_uses_the_network_activation_when_auto() -> None:
    class Net(FakeNet):
        sigma2_name = "identity"

    target = FakeTarget(d=4)
    run = make_run(target, Net(4, target.beta), n_test=256)
    assert "of identity" in kernel_ridge()(run)["normalized_mse"].long_name


def test_a_second_run_of_the_same_shapes_compiles_no_kernel_again() -> None:
    # every seed of a sweep cell runs the probe on data of the same shapes
    from jax import monitoring

    compiles: list[str] = []
    monitoring.register_event_duration_secs_listener(
        lambda name, secs, **kw: (
            compiles.append(name) if name == "/jax/core/compile/backend_compile_duration" else None
        )
    )
    probe = kernel_ridge(ridges=[1e-3], activation="relu", block=128)
    probe(run_with(200))
    before = len(compiles)
    probe = kernel_ridge(ridges=[1e-3], activation="relu", block=128)  # a new probe object
    probe(run_with(200))
    assert len(compiles) == before


def _assert_ridge_choice(out, predict, data, run, lams) -> None:
    """The probe's validation curve, chosen ridge and test error equal the NumPy
    reference ``predict(X, lam)`` fitted on the same data."""
    Xv, yv = np.asarray(data.X_val), np.asarray(data.y_val)
    val = [np.mean((predict(Xv, lam) - yv) ** 2) for lam in lams]
    np.testing.assert_allclose(out["val_mse"].values, val, rtol=1e-6)
    best = lams[int(np.argmin(val))]
    assert out["ridge"].values == best
    Xt = np.asarray(run.test_data()[0])
    f = np.asarray(run.target.function(Xt))
    nmse = np.mean((predict(Xt, best) - f) ** 2) / np.var(f)
    np.testing.assert_allclose(out["normalized_mse"].values, nmse, rtol=1e-6)
