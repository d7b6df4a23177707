"""The layer-wise trainer (Algorithm 1) against NumPy references."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from nets_testlib import (
    make_block_data,
    make_data,
    numpy_ridge,
    numpy_validation_grid,
    quadratic_problem,
    relative_ridge,
)
from tlkit.errors import ParameterError
from tlkit.numerics.kernels import random_feature_kernel
from tlkit.sampling import BlockSource
from tlkit.testing import check_architecture
from tlkit.types import TrainData
from tlkit_nets.layerwise import autodiff_step, layer_wise
from tlkit_nets.stage2 import Stage2Spec, fit_output_weights
from tlkit_nets.three_layer import three_layer
from tlkit_nets.two_layer import two_layer

D = 8
ARCH = {"m1": 24, "m2": 48}
GRID = {"step_sizes": [0.5, 1.0, 2.0], "ridges": [1e-4, 1e-2, 1.0]}


def _fit(model, data, stages, **options):
    return layer_wise(**GRID, **options).fit(model, data, stages.append)


def _h0(model, X: np.ndarray) -> np.ndarray:
    return np.abs(X @ np.asarray(model.V[...]).T) - math.sqrt(2 / math.pi)


def _numpy_direction(model, a0: np.ndarray, b0: np.ndarray, X1: np.ndarray, y1: np.ndarray):
    """ĝ = (1/n1) Σ (y - c0) h0(x) on D1 (relu σ1, abs σ2) and φ̂(X) = <ĝ, h0(X)>/m2."""
    c0 = np.mean(a0 * np.maximum(b0, 0))
    g = ((y1 - c0)[:, None] * _h0(model, X1)).mean(0)
    return g, lambda X: _h0(model, X) @ g / model.m2


def test_fit_reports_and_curves(stages: list) -> None:
    model = three_layer(d=D, seed=0, dtype="float64", **ARCH)
    report = _fit(model, make_data(0, 256, D, dtype=jnp.float64), stages)
    assert report.status == "ok" and report.reason is None
    assert [s.stage for s in stages] == ["stage1", "stage2"] == [s.stage for s in report.stages]
    curve = stages[0].curves["val_mse"]
    assert curve.dims == ("step_size", "ridge") and np.shape(curve.values) == (3, 3)
    assert list(curve.coords["ridge"]) == GRID["ridges"]
    best = np.unravel_index(np.argmin(curve.values), (3, 3))
    assert stages[0].info["step_size"] == GRID["step_sizes"][best[0]]
    assert stages[1].info["ridge"] == GRID["ridges"][best[1]]
    assert stages[1].info["val_mse"] == pytest.approx(np.min(curve.values))
    edges = {0: "lowest", 2: "highest"}
    assert stages[0].info["step_size_at_grid_edge"] == edges.get(int(best[0]), "")
    assert stages[1].info["ridge_at_grid_edge"] == edges.get(int(best[1]), "")
    assert report.choices["n1"] == 128 and report.choices["n2"] == 128
    assert report.choices["stage1"] == "streamed"


def test_trained_network_matches_numpy_algorithm(stages: list) -> None:
    """W is rank one, φ̂ is the closed form, a is a NumPy ridge solve on D2."""
    model = three_layer(d=D, seed=1, dtype="float64", **ARCH)
    a0, b0 = np.asarray(model.a[...]), np.asarray(model.b[...])
    data = make_data(1, 300, D, dtype=jnp.float64)
    _fit(model, data, stages, split=0.4)
    X, y = np.asarray(data.X), np.asarray(data.y)
    n1 = 120
    c0 = np.mean(a0 * np.maximum(b0, 0))
    g = ((y[:n1] - c0)[:, None] * _h0(model, X[:n1])).mean(0)
    phi_ref = _h0(model, X) @ g / ARCH["m2"]
    s = np.linalg.svd(np.asarray(model.W[...]), compute_uv=False)
    assert s[1] / s[0] < 1e-12
    np.testing.assert_allclose(np.asarray(model.learned_feature(data.X)), phi_ref, rtol=1e-9)
    Phi2 = np.asarray(model.representations(data.X[n1:])["h2"]) / ARCH["m1"]
    # relative ridge units: λ times the mean eigenvalue of Φ2ᵀΦ2/n2, derived here
    lam_abs = relative_ridge(Phi2, stages[1].info["ridge"])
    assert stages[1].info["ridge_abs"] == pytest.approx(lam_abs, rel=1e-9)
    a_ref = numpy_ridge(Phi2, y[n1:], lam_abs)
    np.testing.assert_allclose(np.asarray(model.a[...]), a_ref, rtol=1e-7, atol=1e-9)


@pytest.mark.parametrize("form", ["standardized", "literal"])
def test_step_size_and_ridge_are_chosen_on_the_validation_set(form: str, stages: list) -> None:
    """The whole val_mse grid rebuilt in NumPy (φ̂, slopes, ridge solves, MSE on X_val)."""
    model = three_layer(d=D, seed=8, dtype="float64", **ARCH)
    a0, b0 = np.asarray(model.a[...]), np.asarray(model.b[...])
    data = make_data(8, 256, D, n_val=200, dtype=jnp.float64)
    _fit(model, data, stages, feature_form=form)
    X, y, n1 = np.asarray(data.X), np.asarray(data.y), 128
    _, phi = _numpy_direction(model, a0, b0, X[:n1], y[:n1])
    phi2, phi_val = phi(X[n1:]), phi(np.asarray(data.X_val))
    mu, sd = phi2.mean(), phi2.std()

    def features(values: np.ndarray, step: float) -> np.ndarray:
        if form == "standardized":  # slope s a_i on the standardized φ̂
            pre = step * a0 * (values[:, None] - mu) / sd
        else:  # slope η a_i σ1'(b_i), η = step / sd(φ̂ on D2)
            pre = values[:, None] * (step / sd) * a0 * (b0 > 0)
        return np.maximum(pre + b0, 0) / ARCH["m1"]

    steps, ridges = GRID["step_sizes"], GRID["ridges"]
    grid = numpy_validation_grid(
        [(features(phi2, s), features(phi_val, s)) for s in steps],
        y[n1:],
        np.asarray(data.y_val),
        ridges,
    )
    np.testing.assert_allclose(stages[0].curves["val_mse"].values, grid, rtol=1e-8)
    i, j = np.unravel_index(np.argmin(grid), grid.shape)
    assert (stages[0].info["step_size"], stages[1].info["ridge"]) == (steps[i], ridges[j])
    assert stages[1].info["val_mse"] == pytest.approx(grid[i, j], rel=1e-8)


def test_standardized_form_sees_standardized_feature(stages: list) -> None:
    model = three_layer(d=D, seed=2, dtype="float64", **ARCH)
    a0 = np.asarray(model.a[...])
    data = make_data(2, 256, D, dtype=jnp.float64)
    _fit(model, data, stages, feature_form="standardized")
    phi2 = np.asarray(model.learned_feature(data.X[128:]))
    z = (phi2 - phi2.mean()) / phi2.std()
    pre = z[:, None] * stages[0].info["step_size"] * a0 + np.asarray(model.b[...])
    h2 = np.asarray(model.representations(data.X[128:])["h2"])
    np.testing.assert_allclose(h2, np.maximum(pre, 0), rtol=1e-8, atol=1e-10)


def test_literal_form_kills_relu_neurons_with_negative_bias(stages: list) -> None:
    model = three_layer(d=D, seed=3, dtype="float64", **ARCH)
    _fit(model, make_data(3, 256, D, dtype=jnp.float64), stages, feature_form="literal")
    b, slope = np.asarray(model.b[...]), np.asarray(model.slope[...])
    assert np.all(slope[b < 0] == 0) and np.all(slope[b > 0] != 0)
    assert stages[0].info["eta1_raw"] == pytest.approx(
        stages[0].info["eta"] * ARCH["m1"] / ARCH["m2"]
    )


def test_literal_step_is_the_autodiff_step_and_the_numpy_outer_product(stages: list) -> None:
    """The W a literal fit writes is the nnx.grad step at the reported η1, and
    outer(η a σ1'(b)/m2, ĝ) with η = step/sd(φ̂ on D2) derived here (docs/networks.md)."""
    model = three_layer(d=D, seed=9, dtype="float64", **ARCH)
    fresh = three_layer(d=D, seed=9, dtype="float64", **ARCH)
    a0, b0 = np.asarray(fresh.a[...]), np.asarray(fresh.b[...])
    data = make_data(9, 256, D, dtype=jnp.float64)
    _fit(model, data, stages, feature_form="literal")
    info, n1 = stages[0].info, 128
    W = np.asarray(model.W[...])
    W_grad = autodiff_step(fresh, data.X[:n1], data.y[:n1], info["eta1_raw"])
    np.testing.assert_allclose(W, np.asarray(W_grad), rtol=1e-9, atol=1e-14)
    X, y = np.asarray(data.X), np.asarray(data.y)
    g, phi = _numpy_direction(fresh, a0, b0, X[:n1], y[:n1])
    eta = info["step_size"] / phi(X[n1:]).std()
    np.testing.assert_allclose(W, np.outer(eta * a0 * (b0 > 0) / ARCH["m2"], g), rtol=1e-9)
    assert info["eta"] == pytest.approx(eta, rel=1e-9)
    assert info["eta1_raw"] == pytest.approx(eta * ARCH["m1"] / ARCH["m2"], rel=1e-9)


def test_autodiff_and_streamed_stage1_agree(stages: list) -> None:
    data = make_data(4, 256, D, dtype=jnp.float64)
    fitted = []
    for impl in ("streamed", "autodiff"):
        model = three_layer(d=D, seed=4, dtype="float64", **ARCH)
        report = _fit(model, data, stages, stage1=impl, batch_size=50)
        assert report.choices["stage1"] == impl
        fitted.append(model)
    np.testing.assert_allclose(fitted[0].W[...], fitted[1].W[...], rtol=1e-9, atol=1e-14)
    np.testing.assert_allclose(fitted[0].a[...], fitted[1].a[...], rtol=1e-7, atol=1e-10)


@pytest.mark.parametrize("m2", [48, pytest.param(None, marks=pytest.mark.slow)])
def test_fit_many_equals_looped_fits(m2: int | None, stages: list) -> None:
    arch = {"m1": 24, "m2": m2}
    datas = [make_data(s, 200, D, dtype=jnp.float64) for s in range(3)]
    looped = [three_layer(d=D, seed=s, dtype="float64", **arch) for s in range(3)]
    for model, data in zip(looped, datas, strict=True):
        _fit(model, data, stages)
    batched = [three_layer(d=D, seed=s, dtype="float64", **arch) for s in range(3)]
    reports = layer_wise(**GRID).fit_many(batched, datas, stages.append)
    assert [r.status for r in reports] == ["ok"] * 3
    for one, many in zip(looped, batched, strict=True):
        np.testing.assert_allclose(many(datas[0].X_val), one(datas[0].X_val), rtol=1e-8)


@pytest.mark.parametrize("step_batch", [2, 3, 10])
def test_batched_step_grid_equals_one_step_size_at_a_time(step_batch: int) -> None:
    """Step sizes evaluated together (2 of 3: a remainder; 10: capped) choose as one at a time."""
    datas = [make_data(s, 200, D, dtype=jnp.float64) for s in range(2)]
    fitted, curves = [], []
    for batch in (1, step_batch):
        models = [three_layer(d=D, seed=s, dtype="float64", **ARCH) for s in range(2)]
        stages: list = []
        layer_wise(**GRID, step_batch=batch).fit_many(models, datas, stages.append)
        fitted.append(models)
        curves.append([s.curves["val_mse"].values for s in stages if s.stage == "stage1"])
    np.testing.assert_allclose(curves[1], curves[0], rtol=1e-10)
    for one, together in zip(*fitted, strict=True):
        np.testing.assert_allclose(together.a[...], one.a[...], rtol=1e-9, atol=1e-12)


def _in_memory(data: TrainData) -> TrainData:
    X, y = data.blocks.rows(0, data.n_train)
    return TrainData(X, y, data.X_val, data.y_val, data.key)


def test_block_drawn_data_streams_stage1_without_holding_d1(stages: list, monkeypatch) -> None:
    """Stage 1 walks D1 block by block (never the whole split) and equals the fit on
    the same rows held in memory, which the NumPy test above checks."""
    materialized: list[tuple[int, int]] = []
    rows = BlockSource.rows

    def recording_rows(self, start, stop):
        materialized.append((start, stop))
        return rows(self, start, stop)

    monkeypatch.setattr(BlockSource, "rows", recording_rows)
    # n1 = 120 ends inside the second block of 70: the partial block is padded
    data = make_block_data(11, 300, 70)
    streamed = three_layer(d=D, seed=11, dtype="float64", **ARCH)
    report = _fit(streamed, data, stages, split=0.4)
    assert report.choices["stage1_data"] == "streamed block by block"
    assert materialized == [(120, 300)], "only D2 may be held in memory"
    in_memory = three_layer(d=D, seed=11, dtype="float64", **ARCH)
    reference = _fit(in_memory, _in_memory(data), stages, split=0.4)
    assert reference.choices["stage1_data"] == "in memory"
    np.testing.assert_allclose(streamed.W[...], in_memory.W[...], rtol=1e-10, atol=1e-15)
    np.testing.assert_allclose(streamed.a[...], in_memory.a[...], rtol=1e-6, atol=1e-9)
    assert report.stages[1].info["val_mse"] == pytest.approx(
        reference.stages[1].info["val_mse"], rel=1e-9
    )


def test_block_drawn_data_vmapped_seeds_equal_looped(stages: list) -> None:
    datas = [make_block_data(s, 200, 64) for s in range(3)]
    looped = [three_layer(d=D, seed=s, dtype="float64", **ARCH) for s in range(3)]
    for model, data in zip(looped, datas, strict=True):
        _fit(model, data, stages)
    batched = [three_layer(d=D, seed=s, dtype="float64", **ARCH) for s in range(3)]
    reports = layer_wise(**GRID).fit_many(batched, datas, stages.append)
    assert [r.choices["stage1_data"] for r in reports] == ["streamed block by block"] * 3
    for one, many in zip(looped, batched, strict=True):
        np.testing.assert_allclose(many(datas[0].X_val), one(datas[0].X_val), rtol=1e-8)


def test_block_drawn_data_at_infinite_width_keeps_d1_as_support(stages: list) -> None:
    data = make_block_data(12, 160, 50)
    model = three_layer(d=D, seed=12, dtype="float64", m1=16, m2=None)
    report = _fit(model, data, stages)
    assert report.choices["stage1_data"] == "in memory"
    np.testing.assert_array_equal(model.support_X[...], data.blocks.rows(0, 80)[0])


def test_infinite_width_feature_and_restore(stages: list) -> None:
    model = three_layer(d=D, seed=5, dtype="float64", m1=16, m2=None)
    data = make_data(5, 160, D, dtype=jnp.float64)
    _fit(model, data, stages)
    a0 = np.asarray(three_layer(d=D, seed=5, dtype="float64", m1=16, m2=None).a[...])
    b0 = np.asarray(model.b[...])
    c0 = np.mean(a0 * np.maximum(b0, 0))
    X, y = np.asarray(data.X), np.asarray(data.y)
    K = np.asarray(random_feature_kernel("abs")(data.X[:80], data.X_val))
    phi_ref = (y[:80] - c0) @ K / 80
    np.testing.assert_allclose(model.learned_feature(data.X_val), phi_ref, rtol=1e-9)
    assert list(model.representations(data.X_val)) == ["h2"]
    # support points have data-dependent shapes; the saved ones win on restore
    check_architecture(
        model, D, factory=three_layer, params={"m1": 16, "m2": None}, dtype="float64"
    )
    assert X.shape[0] == 160


def test_redraw_bias(stages: list) -> None:
    model = three_layer(d=D, seed=6, **ARCH)
    b0 = np.asarray(model.b[...])
    report = _fit(model, make_data(6, 128, D), stages, redraw_bias=True)
    assert report.choices["redraw_bias"] is True
    assert not np.allclose(np.asarray(model.b[...]), b0)


def test_gd_stage2_converges_to_ridge_and_follows_numpy_gd() -> None:
    rng = np.random.default_rng(0)
    Phi, y, a0 = rng.standard_normal((60, 7)), rng.standard_normal(60), rng.standard_normal(7)
    lam = 0.3
    ridge = Stage2Spec((lam,), "absolute", "ridge", 0, 1.0)
    A_ridge, _ = fit_output_weights(jnp.asarray(Phi), jnp.asarray(y), jnp.asarray(a0), ridge)
    np.testing.assert_allclose(A_ridge[0], numpy_ridge(Phi, y, lam), rtol=1e-10)
    # five explicit GD steps on J(a) = ½[(1/n)|Φa - y|² + λ|a|²], step 0.7/(μ_max + λ)
    H = Phi.T @ Phi / 60
    lr = 0.7 / (np.linalg.eigvalsh(H).max() + lam)
    a = a0.copy()
    for _ in range(5):
        a -= lr * (H @ a - Phi.T @ y / 60 + lam * a)
    few = Stage2Spec((lam,), "absolute", "gd", 5, 0.7)
    A5, _ = fit_output_weights(jnp.asarray(Phi), jnp.asarray(y), jnp.asarray(a0), few)
    np.testing.assert_allclose(A5[0], a, rtol=1e-10)
    many = Stage2Spec((lam,), "absolute", "gd", 5000, 1.0)
    A_inf, _ = fit_output_weights(jnp.asarray(Phi), jnp.asarray(y), jnp.asarray(a0), many)
    np.testing.assert_allclose(A_inf[0], A_ridge[0], rtol=1e-8)


def test_diverging_configuration_is_reported_not_raised(stages: list) -> None:
    model = three_layer(d=D, seed=7, **ARCH)
    report = layer_wise(
        feature_form="literal", step_size_units="absolute", step_sizes=[1e38], ridges=[1e-3]
    ).fit(model, make_data(7, 128, D), stages.append)
    assert report.status == "failed"
    assert "NaN" in report.reason and "\n" not in report.reason


def test_split_larger_than_data_is_a_parameter_error() -> None:
    trainer = layer_wise(n1=100, n2=100)
    with pytest.raises(ParameterError, match=r"n1 \+ n2 must be at most n_train = 128"):
        trainer.fit(three_layer(d=D, seed=0, **ARCH), make_data(0, 128, D), lambda s: None)


def test_wrong_architecture_or_init_is_a_parameter_error() -> None:
    data = make_data(0, 64, D)
    with pytest.raises(ParameterError, match="needs architecture 'three-layer'"):
        layer_wise().fit(two_layer(d=D, seed=0, m=8), data, lambda s: None)
    with pytest.raises(ParameterError, match="w_init must be 'zero'"):
        layer_wise().fit(three_layer(d=D, seed=0, w_init="gaussian", **ARCH), data, print)
    with pytest.raises(ParameterError, match="stage1='autodiff' needs a finite m2"):
        layer_wise(stage1="autodiff").fit(three_layer(d=D, seed=0, m2=None), data, print)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"feature_form": "exact"}, "feature_form must be one of literal, standardized"),
        ({"step_sizes": []}, "step_sizes must be a non-empty list"),
        ({"ridges": [1.0, -1.0]}, "ridges must be a finite number > 0, got -1.0"),
        ({"split": 1.0}, "split must lie strictly between 0 and 1"),
        ({"n1": 0}, "n1 must be an integer >= 1"),
        ({"stage2": "sgd"}, "stage2 must be one of ridge, gd"),
        ({"gd_lr": 2.0}, "gd_lr must be in"),
        ({"stage1": "exact"}, "stage1 must be one of streamed, autodiff"),
        ({"step_batch": 0}, "step_batch must be 'auto' or an integer >= 1, got 0"),
        ({"step_batch": "grid"}, "step_batch must be 'auto' or an integer >= 1, got 'grid'"),
    ],
)
def test_bad_trainer_parameters(options: dict, message: str) -> None:
    with pytest.raises(ParameterError, match=message):
        layer_wise(**options)


@pytest.mark.slow
def test_feature_recovery_improves_with_n() -> None:
    """Behaviour (small): corr(φ̂, h*) grows with n and the test error falls."""
    d = 8
    Xt, yt, ht = quadratic_problem(jax.random.PRNGKey(99), 2048, d)
    corr, mse = [], []
    for n in (256, 4096):
        model = three_layer(d=d, seed=0, m1=64, m2=None)
        layer_wise().fit(model, make_data(10, n, d, n_val=1024), lambda s: None)
        corr.append(np.corrcoef(np.asarray(model.learned_feature(Xt)), np.asarray(ht))[0, 1])
        mse.append(float(jnp.mean((model(Xt) - yt) ** 2) / jnp.var(yt)))
    assert corr[1] > corr[0] and corr[1] > 0.9
    assert mse[1] < mse[0]


def test_grid_edge_flags_the_ends_of_unordered_grids() -> None:
    from tlkit_nets.grids import grid_edge

    grid = [0.1, 1e-3, 10.0, 1.0]
    assert [grid_edge(grid, i) for i in range(4)] == ["", "lowest", "highest", ""]
    assert grid_edge([0.5], 0) == ""  # nothing was chosen


@pytest.mark.parametrize(("size", "batch"), [(1, 1), (5, 1), (5, 2), (6, 3), (5, 5), (3, 8)])
def test_map_grid_equals_a_python_loop(size: int, batch: int) -> None:
    """Chunked, padded, vmapped or sequential: the values of a loop, in order, none extra."""
    from tlkit_nets.grids import map_grid

    M = np.random.default_rng(0).normal(size=(4, 4))
    grid = np.linspace(0.5, 2.0, size)

    def evaluate(t):  # eigh inside, as in the trainers
        return jnp.linalg.eigh(t * (M @ M.T))[0] + t

    out = np.asarray(jax.jit(lambda g: map_grid(evaluate, g, batch))(jnp.asarray(grid)))
    expected = [np.linalg.eigh(t * (M @ M.T))[0] + t for t in grid]
    assert out.shape == (size, 4)
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-5)


def test_trains_with_a_user_activation(stages: list) -> None:
    model = three_layer(d=D, seed=0, dtype="float64", sigma2="jax.numpy:tanh", **ARCH)
    report = _fit(model, make_data(0, 200, D, dtype=jnp.float64), stages)
    assert report.status == "ok"
    assert np.isfinite(np.asarray(model.a[...])).all()
