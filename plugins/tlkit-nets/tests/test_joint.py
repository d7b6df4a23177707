"""Joint training: SGD step against NumPy, µP learning rates, seeds, failures."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from nets_testlib import make_data
from tlkit.errors import ParameterError
from tlkit_nets.joint import joint, three_layer_wang
from tlkit_nets.three_layer import three_layer
from tlkit_nets.two_layer import two_layer

D = 6


def _batch_indices(key: jax.Array, n: int, batch: int) -> np.ndarray:
    # the trainer's draw for its first step: chunk key, then step key, then indices
    k = jax.random.split(jax.random.split(key, 1)[0], 1)[0]
    return np.asarray(jax.random.randint(k, (batch,), 0, n))


def test_one_sgd_step_matches_numpy(stages: list) -> None:
    model = two_layer(d=D, seed=0, m=10, dtype="float64", sigma="tanh")
    W, b, a = (np.asarray(v[...]) for v in (model.W, model.b, model.a))
    data = make_data(0, 40, D, dtype=jnp.float64)
    report = joint(
        optimizer="sgd", lr=0.1, steps=1, batch_size=16, eval_every=1, parametrization="standard"
    ).fit(model, data, stages.append)
    assert report.status == "ok"
    idx = _batch_indices(data.key, 40, 16)
    X, y = np.asarray(data.X)[idx], np.asarray(data.y)[idx]
    h = np.tanh(X @ W.T + b)
    r = (h @ a / 10 - y) / 16  # d/df of ½ mean (f - y)²
    gW = (r[:, None] * (1 - h**2) * a / 10).T @ X
    ga = h.T @ r / 10
    np.testing.assert_allclose(np.asarray(model.W[...]), W - 0.1 * gW, rtol=1e-10)
    np.testing.assert_allclose(np.asarray(model.a[...]), a - 0.1 * ga, rtol=1e-10)
    np.testing.assert_array_equal(np.asarray(model.b[...]), b)  # train_bias=False


def _one_mup_sgd_step(model, data, lr: float, stages: list) -> None:
    """One SGD step under µP on a batch of 16 (biases trained)."""
    joint(
        optimizer="sgd",
        lr=lr,
        steps=1,
        batch_size=16,
        eval_every=1,
        parametrization="mup",
        train_bias=True,
    ).fit(model, data, stages.append)


def test_one_mup_sgd_step_of_a_two_layer_network_matches_numpy(stages: list) -> None:
    """µP with SGD: the learning rates of W, b and a are multiplied by the width m."""
    m, lr = 10, 0.1
    model = two_layer(d=D, seed=5, m=m, dtype="float64", sigma="tanh")
    W, b, a = (np.asarray(v[...]) for v in (model.W, model.b, model.a))
    data = make_data(5, 40, D, dtype=jnp.float64)
    _one_mup_sgd_step(model, data, lr, stages)
    idx = _batch_indices(data.key, 40, 16)
    X, y = np.asarray(data.X)[idx], np.asarray(data.y)[idx]
    h = np.tanh(X @ W.T + b)
    r = (h @ a / m - y) / 16  # d/df of ½ mean (f - y)²
    delta = r[:, None] * (1 - h**2) * a / m  # d/d(pre-activation)
    np.testing.assert_allclose(np.asarray(model.W[...]), W - lr * m * (delta.T @ X), rtol=1e-10)
    np.testing.assert_allclose(np.asarray(model.b[...]), b - lr * m * delta.sum(0), rtol=1e-10)
    np.testing.assert_allclose(np.asarray(model.a[...]), a - lr * m * (h.T @ r / m), rtol=1e-10)


def test_one_mup_sgd_step_of_a_three_layer_network_matches_numpy(stages: list) -> None:
    """µP with SGD: the learning rate of a is multiplied by m1; W and b keep lr."""
    m1, m2, lr = 8, 12, 0.1
    model = three_layer(
        d=D, seed=6, dtype="float64", m1=m1, m2=m2, w_init="gaussian", sigma1="tanh"
    )
    V, W, b, a = (np.asarray(v[...]) for v in (model.V, model.W, model.b, model.a))
    data = make_data(6, 40, D, dtype=jnp.float64)
    _one_mup_sgd_step(model, data, lr, stages)
    idx = _batch_indices(data.key, 40, 16)
    X, y = np.asarray(data.X)[idx], np.asarray(data.y)[idx]
    h0 = np.abs(X @ V.T) - np.sqrt(2 / np.pi)  # σ2 = abs (centred), V fixed
    h = np.tanh(h0 @ W.T + b)
    r = (h @ a / m1 - y) / 16
    delta = r[:, None] * (1 - h**2) * a / m1
    np.testing.assert_allclose(np.asarray(model.W[...]), W - lr * (delta.T @ h0), rtol=1e-10)
    np.testing.assert_allclose(np.asarray(model.b[...]), b - lr * delta.sum(0), rtol=1e-10)
    np.testing.assert_allclose(np.asarray(model.a[...]), a - lr * m1 * (h.T @ r / m1), rtol=1e-10)
    np.testing.assert_array_equal(np.asarray(model.V[...]), V)


def test_mup_adam_scales_hidden_learning_rate_by_fan_in(stages: list) -> None:
    model = three_layer(d=D, seed=1, dtype="float64", m1=8, m2=50, w_init="gaussian")
    W0, a0 = np.asarray(model.W[...]), np.asarray(model.a[...])
    report = joint(lr=1e-2, steps=1, eval_every=1, batch_size=32).fit(
        model, make_data(1, 64, D, dtype=jnp.float64), stages.append
    )
    assert report.choices["lr_multipliers"]["W"] == pytest.approx(1 / 50)
    # Adam's first update is lr * g / (|g| + eps) = ±lr per coordinate (up to eps/|g|,
    # about 1e-3 for the smallest gradients here)
    dW = np.abs(np.asarray(model.W[...]) - W0)
    da = np.abs(np.asarray(model.a[...]) - a0)
    np.testing.assert_allclose(dW[dW > 0], 1e-2 / 50, rtol=1e-2)
    np.testing.assert_allclose(da[da > 0], 1e-2, rtol=1e-2)  # dead ReLUs get no step
    assert (dW > 0).mean() > 0.5 and (da > 0).mean() > 0.5


def test_training_reduces_validation_error(stages: list) -> None:
    model = three_layer_wang(d=D, seed=2, m2=64)
    report = joint(steps=400, lr=3e-3).fit(model, make_data(2, 1024, D, n_val=512), stages.append)
    val = np.asarray(stages[0].curves["val_mse"].values)
    assert report.status == "ok" and val.shape == (1, 4)
    assert val[0, -1] < 0.8 * val[0, 0]
    assert model.m1 == D * D and model.sigma1_name == "cube" and model.sigma2_name == "relu"


def test_fit_many_equals_looped_fits(stages: list) -> None:
    trainer = joint(steps=20, eval_every=10, batch_size=16)
    datas = [make_data(s, 64, D, dtype=jnp.float64) for s in range(3)]
    looped = [two_layer(d=D, seed=s, m=8, dtype="float64") for s in range(3)]
    for model, data in zip(looped, datas, strict=True):
        trainer.fit(model, data, stages.append)
    batched = [two_layer(d=D, seed=s, m=8, dtype="float64") for s in range(3)]
    trainer.fit_many(batched, datas, stages.append)
    for one, many in zip(looped, batched, strict=True):
        np.testing.assert_allclose(many.W[...], one.W[...], rtol=1e-10)
        np.testing.assert_allclose(many.a[...], one.a[...], rtol=1e-10)


def test_divergence_is_reported(stages: list) -> None:
    model = two_layer(d=D, seed=0, m=8, sigma="cube")
    report = joint(optimizer="sgd", lr=1e8, steps=50, eval_every=10).fit(
        model, make_data(0, 64, D), stages.append
    )
    assert report.status == "failed" and "diverged" in report.reason


def test_learning_rate_grid_keeps_the_best_single_fit(stages: list) -> None:
    # reference: each learning rate trained on its own, compared by final validation MSE
    grid = (1e-3, 1e-2, 1e-1)
    data = make_data(3, 128, D, dtype=jnp.float64, n_val=64)
    singles = []
    for lr in grid:
        model = two_layer(d=D, seed=3, m=16, dtype="float64")
        one: list = []
        joint(lr=lr, steps=40, eval_every=20).fit(model, data, one.append)
        singles.append((float(one[0].curves["val_mse"].values[0, -1]), model))
    best = int(np.argmin([v for v, _ in singles]))
    model = two_layer(d=D, seed=3, m=16, dtype="float64")
    report = joint(lr=grid, steps=40, eval_every=20).fit(model, data, stages.append)
    curve = stages[0].curves["val_mse"]
    assert curve.dims == ("lr", "step") and curve.coords["lr"] == list(grid)
    np.testing.assert_allclose(curve.values[:, -1], [v for v, _ in singles], rtol=1e-10)
    assert stages[0].info["lr"] == grid[best] and report.choices["lr_grid"] == list(grid)
    np.testing.assert_allclose(model.W[...], singles[best][1].W[...], rtol=1e-10)
    np.testing.assert_allclose(model.a[...], singles[best][1].a[...], rtol=1e-10)


def test_learning_rate_grid_skips_diverged_values(stages: list) -> None:
    model = two_layer(d=D, seed=0, m=8, sigma="cube")
    report = joint(optimizer="sgd", lr=(1e-3, 1e8), steps=50, eval_every=10).fit(
        model, make_data(0, 64, D), stages.append
    )
    assert report.status == "ok" and stages[0].info["lr"] == 1e-3
    assert stages[0].info["lr_grid_diverged"] == 1
    assert stages[0].info["lr_at_grid_edge"] == "lowest"


def test_parameter_errors() -> None:
    with pytest.raises(ParameterError, match=r"lr must be a non-empty list"):
        joint(lr=())
    with pytest.raises(ParameterError, match="lr must be a finite number > 0, got -1"):
        joint(lr=(1e-3, -1))
    with pytest.raises(ParameterError, match="optimizer must be one of adam, sgd"):
        joint(optimizer="lbfgs")
    with pytest.raises(ParameterError, match="lr must be a finite number > 0"):
        joint(lr=0.0)
    with pytest.raises(ParameterError, match="lr_extend must be an integer >= 0, got -1"):
        joint(lr_extend=-1)
    with pytest.raises(ParameterError, match="trainer 'joint' needs a finite m2"):
        joint().fit(three_layer(d=D, seed=0, m2=None), make_data(0, 32, D), print)


def test_lr_extend_equals_training_the_extended_grid_from_the_start(stages: list) -> None:
    # a grid far too low: the best value is at its top end, so the grid grows upwards
    data = make_data(4, 128, D, dtype=jnp.float64, n_val=64)
    model = two_layer(d=D, seed=4, m=16, dtype="float64")
    report = joint(lr=(1e-5, 3e-5), steps=40, eval_every=20, lr_extend=3).fit(
        model, data, stages.append
    )
    grid = report.choices["lr_grid"]
    assert grid[:2] == [1e-5, 3e-5] and len(grid) == 5 and grid == sorted(grid)
    np.testing.assert_allclose(np.diff(np.log(grid))[1:], np.log(3.0))  # the grid's own ratio
    assert report.choices["lr_extend"] == 3
    # reference: the same five values as one grid from the start
    alone = two_layer(d=D, seed=4, m=16, dtype="float64")
    reference: list = []
    joint(lr=tuple(grid), steps=40, eval_every=20).fit(alone, data, reference.append)
    for name in ("val_mse", "train_mse"):
        np.testing.assert_allclose(
            stages[0].curves[name].values, reference[0].curves[name].values, rtol=1e-10
        )
    assert stages[0].info["lr"] == reference[0].info["lr"] == grid[-1]
    assert stages[0].info["lr_at_grid_edge"] == "highest"  # still rising after 3 steps out
    np.testing.assert_allclose(model.W[...], alone.W[...], rtol=1e-10)
    np.testing.assert_allclose(model.a[...], alone.a[...], rtol=1e-10)


def test_lr_extend_leaves_a_grid_alone_when_the_choice_is_inside(stages: list) -> None:
    data = make_data(3, 128, D, dtype=jnp.float64, n_val=64)
    grid = (3e-2, 1e-1, 3e-1)  # 1e-1 is best here
    plain = joint(lr=grid, steps=40, eval_every=20).fit(
        two_layer(d=D, seed=3, m=16, dtype="float64"), data, stages.append
    )
    assert stages[0].info["lr_at_grid_edge"] == ""
    extended = joint(lr=grid, steps=40, eval_every=20, lr_extend=2).fit(
        two_layer(d=D, seed=3, m=16, dtype="float64"), data, stages.append
    )
    assert extended.choices["lr_grid"] == plain.choices["lr_grid"] == list(grid)


def test_lr_extend_vmapped_seeds_choose_as_they_would_alone(stages: list) -> None:
    # seeds whose choices sit at different ends: the vmapped call trains every added
    # value for every seed, and each seed still makes the choice it makes alone
    grid = (0.03, 0.1)
    datas = [make_data(s, 64, D, dtype=jnp.float64, n_val=32) for s in range(3)]
    first: list = []
    for s, data in enumerate(datas):
        joint(lr=grid, steps=40, eval_every=20, batch_size=16).fit(
            two_layer(d=D, seed=s, m=8, dtype="float64"), data, first.append
        )
    # the premise: these seeds' choices sit at both ends of the grid
    assert {st.info["lr_at_grid_edge"] for st in first} == {"lowest", "highest"}
    trainer = joint(lr=grid, steps=40, eval_every=20, batch_size=16, lr_extend=2)
    looped, alone_lrs = [], []
    for s, data in enumerate(datas):
        model, one = two_layer(d=D, seed=s, m=8, dtype="float64"), []
        trainer.fit(model, data, one.append)
        looped.append(model)
        alone_lrs.append(one[0].info["lr"])
    batched = [two_layer(d=D, seed=s, m=8, dtype="float64") for s in range(3)]
    together: list = []
    reports = trainer.fit_many(batched, datas, together.append)
    assert [st.info["lr"] for st in together] == alone_lrs
    assert len(reports[0].choices["lr_grid"]) > len(grid) + 1  # grown at both ends
    for one, many in zip(looped, batched, strict=True):
        np.testing.assert_allclose(many.W[...], one.W[...], rtol=1e-10)
        np.testing.assert_allclose(many.a[...], one.a[...], rtol=1e-10)


def test_a_seed_takes_an_added_value_only_past_its_own_end() -> None:
    from tlkit_nets.joint import _Config, _merge_grids

    cfg = _Config(2, 4, 3, "relu", "identity", "adam", (0.1, 0.3), 20, 8, 0.0, "mup", False, 10)
    # final validation MSE per grid value: seed A chose 0.3 (top end), seed B 0.1 (bottom)
    a = ({"W": "A"}, np.zeros((2, 2)), np.array([[1.0, 0.9], [1.0, 0.5]]), 1)
    b = ({"W": "B"}, np.zeros((2, 2)), np.array([[1.0, 0.4], [1.0, 0.6]]), 0)
    # the value added past the top end (0.9) is better than both seeds' choices
    extra = [({"W": f"{w} at 0.9"}, np.zeros((1, 2)), np.array([[1.0, 0.1]]), 0) for w in "AB"]
    merged_cfg, (ma, mb) = _merge_grids(cfg, [a, b], "highest", 0.9, extra)
    assert merged_cfg.lrs == (0.1, 0.3, 0.9)
    assert (ma[0], ma[3]) == ({"W": "A at 0.9"}, 2)  # A's choice was at that end: taken
    assert (mb[0], mb[3]) == ({"W": "B"}, 0)  # B's was at the other end: kept
    np.testing.assert_array_equal(mb[2][:, -1], [0.4, 0.6, 0.1])  # curves keep all values
