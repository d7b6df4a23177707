"""How many step sizes the trainers evaluate together (``step_batch``), and its record."""

from __future__ import annotations

import jax
import pytest
from nets_testlib import make_data
from tlkit_nets.grids import STEP_BATCH_BUDGET_BYTES, grid_batch
from tlkit_nets.layerwise import layer_wise
from tlkit_nets.onestep import one_step
from tlkit_nets.three_layer import three_layer
from tlkit_nets.two_layer import two_layer


def test_auto_is_one_step_size_at_a_time_on_a_cpu() -> None:
    assert grid_batch("auto", 8, seeds=8, floats_per_value=10, itemsize=4, backend="cpu") == 1


def test_auto_batches_the_whole_grid_on_a_gpu_when_it_fits() -> None:
    assert grid_batch("auto", 8, seeds=8, floats_per_value=10, itemsize=4, backend="gpu") == 8


def test_auto_stays_within_the_memory_budget_on_a_gpu() -> None:
    # 3 grid values' features fit the budget, a fourth would not
    per_value = STEP_BATCH_BUDGET_BYTES // 3
    floats = per_value // (2 * 4)  # 2 seeds, float32
    assert grid_batch("auto", 8, seeds=2, floats_per_value=floats, itemsize=4, backend="gpu") == 3
    # a single grid value over the budget is still evaluated (one at a time)
    huge = STEP_BATCH_BUDGET_BYTES
    assert grid_batch("auto", 8, seeds=2, floats_per_value=huge, itemsize=4, backend="gpu") == 1


@pytest.mark.parametrize(("requested", "expected"), [(1, 1), (3, 3), (100, 8)])
def test_an_explicit_batch_is_kept_on_any_backend(requested: int, expected: int) -> None:
    for backend in ("cpu", "gpu"):
        kwargs = {"seeds": 8, "floats_per_value": 10**12, "itemsize": 8, "backend": backend}
        assert grid_batch(requested, 8, **kwargs) == expected


def test_the_batch_used_is_recorded_with_the_choices() -> None:
    """The manifest says how the grid was run: "auto" is one step size at a time on a CPU
    and the whole (small) grid on a GPU."""
    datas = [make_data(s, 64, 4) for s in range(2)]
    models = [three_layer(d=4, seed=s, m1=8, m2=8) for s in range(2)]
    reports = layer_wise(step_sizes=(0.5, 1.0, 2.0)).fit_many(models, datas, lambda r: None)
    expected = 1 if jax.default_backend() == "cpu" else 3
    assert [r.choices["step_batch"] for r in reports] == [expected, expected]
    model = two_layer(d=4, seed=0, m=8)
    report = one_step(step_sizes=(0.5, 1.0, 2.0), step_batch=2).fit(model, datas[0], print)
    assert report.choices["step_batch"] == 2
