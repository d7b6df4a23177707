"""Sweeps over the fake plugin: grids, cells, resume, failures, the CLI's error paths."""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import textwrap
import time
import tomllib
from pathlib import Path

import numpy as np
import pytest
import tlkit
import tomli_w
import xarray as xr
from click.testing import CliRunner
from fakes import LeastSquares, fake_config
from tlkit.cli import TlkitGroup
from tlkit.errors import ConfigError, TlkitError
from tlkit.pipeline import train
from tlkit.results import combine, open_results
from tlkit.sweep_cli import COMMANDS
from tlkit.sweeps import (
    Cell,
    SweepSpec,
    axis_dims,
    expand_cells,
    train_many,
    validate_cells,
)

TESTS = Path(__file__).parent

SPEC = {
    "seeds": [0, 1],
    "base": {
        "target": {"name": "linear", "params": {"d": 4}},
        "arch": "linear-net",
        "trainer": "lstsq",
        "n_val": 16,
        "n_test": 64,
    },
    "grid": {"target.d": [2, 3], "n_train": [16, 32], "trainer.ridge": [0.0, 0.5]},
}


class ManyLeastSquares(LeastSquares):
    """LeastSquares with a ``fit_many`` that records how it was called."""

    calls: list[int] = []

    def fit_many(self, models, datas, on_stage):
        ManyLeastSquares.calls.append(len(models))
        return [self.fit(m, d, on_stage) for m, d in zip(models, datas, strict=True)]


class Exploding(LeastSquares):
    """Raises inside ``fit`` for one sample size (a cell that crashes)."""

    def __init__(self, explode_at: int = -1, blow_up: bool = False) -> None:
        super().__init__(ridge=0.0, blow_up=blow_up)
        self.explode_at = explode_at

    def fit(self, model, data, on_stage):
        if data.X.shape[0] == self.explode_at:
            raise RuntimeError("boom at this n")
        return super().fit(model, data, on_stage)


class ExtraPlugin:
    @tlkit.hookimpl
    def tlkit_register_trainers(self, register):
        register("lstsq-many", ManyLeastSquares, architectures=["linear-net"])
        register("exploding", Exploding, architectures=["linear-net"])


@pytest.fixture
def xhost(host):
    host.add_plugin(ExtraPlugin(), name="extra", version="0.0")
    host.ensure_registered()
    yield host
    host.remove_plugin("extra")


@pytest.fixture
def invoke(host):
    group = TlkitGroup("tlkit")
    for command in COMMANDS:
        group.add_command(command)
    runner = CliRunner()

    def _invoke(*args):
        return runner.invoke(group, [str(a) for a in args], obj=host, catch_exceptions=False)

    return _invoke


def write_toml(path: Path, text: str) -> Path:
    path.write_text(textwrap.dedent(text))
    return path


BASE_TOML = """
seeds = [0, 1]

[base]
target = {name = "linear", params = {d = 4}}
arch = "linear-net"
trainer = "lstsq"
n_val = 16
n_test = 64
"""


# -- grid expansion ---------------------------------------------------------------------
def test_cells_are_the_cartesian_product_crossed_with_variants():
    spec = SweepSpec.from_dict(
        {
            **SPEC,
            "variants": [{"trainer": "lstsq"}, {"trainer": {"name": "lstsq", "blow_up": False}}],
        }
    )
    cells = expand_cells(spec)
    assert len(cells) == 2 * 2 * 2 * 2
    assert len({c.id for c in cells}) == len(cells)
    assert all([c_["seed"] for c_ in c.configs] == [0, 1] for c in cells)
    first = cells[0].configs[0]
    assert first["target"] == {"name": "linear", "params": {"d": 2}}
    assert first["trainer"] == {"name": "lstsq", "params": {"ridge": 0.0}}


def test_axis_dims_reuse_run_dims_and_avoid_collisions():
    dims_of = axis_dims(["target.d", "n_train", "arch", "arch.m2", "arch.layer", "trainer.m2"])
    assert dims_of == {
        "target.d": None,
        "n_train": None,
        "arch": None,
        "arch.m2": "arch_m2",
        "arch.layer": "arch_layer",
        "trainer.m2": "trainer_m2",
    }
    assert axis_dims(["arch.width", "n_val"]) == {"arch.width": "width", "n_val": "n_val"}


def test_identical_coordinates_need_named_variants(host):
    spec = SweepSpec.from_dict(
        {**SPEC, "variants": [{"trainer": {"name": "lstsq", "ridge": 1.0}}, {"trainer": "lstsq"}]}
    )
    spec.grid.pop("trainer.ridge")
    with pytest.raises(ConfigError, match="same result coordinates; give each"):
        validate_cells(expand_cells(spec), spec, host)
    spec.variants[0]["name"] = "ridge1"
    cells = validate_cells(expand_cells(spec), spec, host)
    assert {c.coords["variant"] for c in cells} == {"ridge1", "v1"}


# -- train_many -------------------------------------------------------------------------
def test_train_many_equals_separate_runs_and_uses_fit_many(xhost):
    ManyLeastSquares.calls.clear()
    configs = [fake_config(seed=s, trainer="lstsq-many") for s in (0, 1, 2)]
    runs = train_many(configs, xhost)
    assert ManyLeastSquares.calls == [3]
    for cfg, run in zip(configs, runs, strict=True):
        alone = train(cfg, host=xhost)
        np.testing.assert_array_equal(np.asarray(run.model.w[...]), np.asarray(alone.model.w[...]))
        xr.testing.assert_identical(run.results, alone.results)


def test_train_many_refuses_configs_that_differ_in_more_than_seeds(host):
    with pytest.raises(ConfigError, match="differ only in their seeds"):
        train_many([fake_config(seed=0), fake_config(seed=1, n_train=32)], host)


# -- running, resuming, failures ----------------------------------------------------------
def test_sweep_results_have_a_dim_per_axis_and_match_single_runs(host, tmp_path):
    result = tlkit.sweep(SPEC, tmp_path / "sw", host=host, progress="none")
    ds = open_results(tmp_path / "sw" / "results.nc")
    assert result.cells == 8 and result.ran == 8 and not result.errors
    assert dict(ds["mse_mse"].sizes) == {
        "arch": 1,
        "trainer": 1,
        "d": 2,
        "n_train": 2,
        "seed": 2,
        "trainer_ridge": 2,
    }
    assert len(list((tmp_path / "sw" / "cells").glob("*.nc"))) == 8
    # One grid point, trained alone by the plain pipeline, gives the same number.
    alone = train(
        fake_config(
            target={"name": "linear", "params": {"d": 3}},
            n_train=32,
            n_val=16,
            n_test=64,
            seed=1,
            trainer={"name": "lstsq", "params": {"ridge": 0.5}},
        ),
        host=host,
    )
    got = ds["mse_mse"].sel(d=3, n_train=32, seed=1, trainer_ridge=0.5).squeeze().item()
    assert got == alone.results["mse_mse"].squeeze().item()
    assert set(ds["fit_status"].values.ravel()) == {"ok"}


def test_rerun_skips_finished_cells(host, tmp_path):
    out = tmp_path / "sw"
    tlkit.sweep(SPEC, out, host=host, progress="none")
    files = sorted((out / "cells").glob("*.nc"))
    before = {p: p.stat().st_mtime_ns for p in files}
    reference = open_results(out / "results.nc")
    files[3].unlink()
    again = tlkit.sweep(SPEC, out, host=host, progress="none")
    assert (again.ran, again.reused) == (1, 7)
    for p in files:
        if p != files[3]:
            assert p.stat().st_mtime_ns == before[p]
    xr.testing.assert_identical(open_results(out / "results.nc"), reference)


VARIANT_SPEC = {
    **SPEC,
    "grid": {"n_train": [16, 32]},
    "variants": [
        {"name": "exact", "trainer": "lstsq"},
        {"name": "ridge", "trainer": {"name": "lstsq", "params": {"ridge": 0.5}}},
    ],
}


def test_variants_split_between_two_machines_give_the_whole_sweep(host, tmp_path):
    whole = tlkit.sweep(VARIANT_SPEC, tmp_path / "whole", host=host, progress="none")
    # "machine" A runs one variant, B the other, each into its own copy of the sweep
    a = tlkit.sweep(VARIANT_SPEC, tmp_path / "a", host=host, progress="none", variants=["exact"])
    b = tlkit.sweep(VARIANT_SPEC, tmp_path / "b", host=host, progress="none", variants=["ridge"])
    assert (a.ran, a.reused, a.unselected) == (2, 0, 2)
    assert "2 of other variants not run" in a.summary()
    assert list(a.results["variant"].values) == ["exact"]  # what is finished so far
    assert (b.ran, b.unselected) == (2, 2)
    for cell in (tmp_path / "b" / "cells").glob("*.nc"):
        shutil.copy(cell, tmp_path / "a" / "cells" / cell.name)
    merged = tlkit.sweep(VARIANT_SPEC, tmp_path / "a", host=host, progress="none")
    assert (merged.ran, merged.reused) == (0, 4)
    xr.testing.assert_identical(merged.results, whole.results)


def test_unnamed_variants_are_selected_by_their_component_labels(host, tmp_path):
    spec = {
        **SPEC,
        "grid": {"n_train": [16, 32]},
        "variants": [{"arch": "linear-net", "trainer": "lstsq"}],
    }
    result = tlkit.sweep(
        spec, tmp_path / "sw", host=host, progress="none", variants=["linear-net/lstsq"]
    )
    assert (result.ran, result.unselected) == (2, 0)
    # one part of the label selects too (all unnamed variants with that architecture)
    part = tlkit.sweep(spec, tmp_path / "sw2", host=host, progress="none", variants=["linear-net"])
    assert (part.ran, part.unselected) == (2, 0)
    # a variant named like that part is meant exactly: the unnamed one is not selected
    both = {
        **spec,
        "variants": [
            {"name": "linear-net", "trainer": {"name": "lstsq", "params": {"ridge": 0.5}}},
            {"arch": "linear-net", "trainer": "lstsq"},
        ],
    }
    named = tlkit.sweep(both, tmp_path / "sw3", host=host, progress="none", variants=["linear-net"])
    assert (named.ran, named.unselected) == (2, 2)


def test_variants_by_one_name_or_by_coordinate(host, tmp_path):
    spec = {**VARIANT_SPEC, "variants": [VARIANT_SPEC["variants"][0], {"trainer": "lstsq"}]}
    # a Python string is one name, not a list of letters
    one = tlkit.sweep(spec, tmp_path / "a", host=host, progress="none", variants="exact")
    assert (one.ran, one.unselected) == (2, 2)
    # the unnamed variant: its component label, or its coordinate in results.nc ("v1")
    by_coord = tlkit.sweep(spec, tmp_path / "b", host=host, progress="none", variants=["v1"])
    by_label = tlkit.sweep(spec, tmp_path / "c", host=host, progress="none", variants=["lstsq"])
    assert list(by_coord.results["variant"].values) == ["v1"]
    xr.testing.assert_identical(by_coord.results, by_label.results)


# Two variants sweep different parameters (the lstsq ridge; the network's scale) along
# one shared results dimension, as the two-layer `arch.m` and the three-layer `arch.m1`.
SHARED_DIM_SPEC = {
    **SPEC,
    "grid": {"n_train": [16, 32]},
    "variants": [
        {"trainer": "lstsq", "grid": {"trainer.ridge": {"values": [0.0, 4.0], "dim": "knob"}}},
        {"trainer": "lstsq-many", "grid": {"arch.scale": {"values": [0.5, 4.0], "dim": "knob"}}},
    ],
}


def test_variant_grids_share_a_named_dimension(xhost, tmp_path):
    result = tlkit.sweep(SHARED_DIM_SPEC, tmp_path / "sw", host=xhost, progress="none")
    assert result.cells == 8 and not result.errors
    mse = result.results["mse_mse"]
    assert "knob" in mse.dims and "ridge" not in mse.dims and "scale" not in mse.dims
    assert sorted(mse["knob"].values) == [0.0, 0.5, 4.0]
    # each variant's cells are where its own axis put them, NaN elsewhere (a sparse grid)
    exact = mse.sel(trainer="lstsq", n_train=32, seed=1)
    assert np.isnan(exact.sel(knob=0.5)).all() and not np.isnan(exact.sel(knob=4.0)).any()
    scaled = mse.sel(trainer="lstsq-many", n_train=32, seed=1)
    assert np.isnan(scaled.sel(knob=0.0)).all() and not np.isnan(scaled.sel(knob=0.5)).any()
    # the numbers are those of single runs with that parameter set
    for trainer, arch, knob in (
        ({"name": "lstsq", "params": {"ridge": 4.0}}, "linear-net", 4.0),
        ("lstsq-many", {"name": "linear-net", "params": {"scale": 0.5}}, 0.5),
    ):
        alone = train(
            fake_config(arch=arch, trainer=trainer, n_train=32, n_val=16, n_test=64, seed=1),
            host=xhost,
        )
        name = trainer if isinstance(trainer, str) else trainer["name"]
        got = mse.sel(trainer=name, n_train=32, seed=1, knob=knob).squeeze().item()
        assert got == alone.results["mse_mse"].squeeze().item()
    # the variant axes are in the cells' labels, so cells and progress lines tell them apart
    labels = [c.label for c in expand_cells(SweepSpec.from_dict(SHARED_DIM_SPEC))]
    assert "lstsq, n_train=16, knob=4.0" in labels  # the dim's name, as in results.nc


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            {
                "grid": {"n_train": [16]},
                "variants": [{"trainer": "lstsq", "grid": {"trainer.ridge": [0.0]}}, {}],
            },
            "variants lstsq and variant 1 give their cells different grid dimensions "
            "(trainer_ridge vs none); every variant needs the same ones",
        ),
        (
            {"variants": [{"grid": {"n_train": [8]}}]},
            "variants[0].grid.n_train is also an axis of [grid]; give it in one place",
        ),
        (
            {"grid": {"n_train": {"values": [16], "dim": "n"}}},
            "grid.n_train: n_train is always the results dimension 'n_train'; it cannot be",
        ),
        (
            {"grid": {"trainer.ridge": {"values": [0.0], "dim": "seed"}}},
            "grid.trainer.ridge.dim 'seed' is a dimension tlkit already uses",
        ),
        (
            {"grid": {"trainer.ridge": {"values": [0.0], "dim": "two words"}}},
            "grid.trainer.ridge.dim must be a name of letters, digits and '_', got 'two words'",
        ),
        (
            {"grid": {"trainer.ridge": {"value": [0.0]}}},
            "grid.trainer.ridge must be a list of values or a table with 'values' and",
        ),
        (
            {
                "grid": {
                    "trainer.ridge": {"values": [0.0], "dim": "x"},
                    "arch.scale": {"values": [1.0], "dim": "x"},
                }
            },
            "grid: two axes are named dim 'x'; give each its own",
        ),
        (
            {"grid": {"trainer.ridge": {"values": [0.0], "dim": "scale"}, "arch.scale": [1.0]}},
            "[grid]: two grid axes get the results dimension 'scale'",
        ),
    ],
)
def test_bad_grid_dimensions_are_one_line(change, message):
    with pytest.raises(ConfigError) as err:
        expand_cells(SweepSpec.from_dict({**SPEC, **change}))
    assert str(err.value).startswith(message), str(err.value)


def test_a_config_without_named_dims_records_what_earlier_versions_recorded():
    # sweep.json compares recorded configs: a new key would make old sweeps "different"
    assert set(SweepSpec.from_dict(SPEC).to_dict()) == {"base", "grid", "seeds", "variants"}
    named = {**SPEC, "grid": {"trainer.ridge": {"values": [0.0], "dim": "knob"}}}
    assert SweepSpec.from_dict(named).to_dict()["dims"] == {"trainer.ridge": "knob"}


def test_cells_from_a_newer_tlkit_still_load():
    cell = expand_cells(SweepSpec.from_dict(VARIANT_SPEC))[0]
    data = {**cell.to_dict(), "a_field_from_the_future": 1}
    assert Cell.from_dict(data) == cell


@pytest.mark.parametrize(
    ("spec", "variants", "message"),
    [
        (
            VARIANT_SPEC,
            "exact,nope",
            "error: unknown variant 'nope'; this sweep's variants: exact, ridge",
        ),
        (VARIANT_SPEC, " , ", "error: --variants names no variant; this sweep's: exact, ridge"),
        (SPEC, "exact", "error: --variants: this sweep has no variants"),
    ],
)
def test_unknown_variants_are_one_line_and_nothing_is_written(
    invoke, tmp_path, spec, variants, message
):
    config = tmp_path / "sweep.toml"
    config.write_text(tomli_w.dumps(spec))
    result = invoke("sweep", config, "--out", tmp_path / "out", "--variants", variants)
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [message]
    assert not (tmp_path / "out").exists()


def test_changed_config_is_refused_unless_forced(host, tmp_path, invoke):
    out = tmp_path / "sw"
    tlkit.sweep(SPEC, out, host=host, progress="none")
    changed = {**SPEC, "seeds": [0, 1, 2]}
    with pytest.raises(TlkitError, match="holds a sweep with a different config.*--force"):
        tlkit.sweep(changed, out, host=host, progress="none")
    forced = tlkit.sweep(changed, out, host=host, progress="none", force=True)
    assert forced.ran == 8 and forced.results.sizes["seed"] == 3
    assert len(list((out / "cells").glob("*.nc"))) == 8


def test_force_never_writes_into_a_directory_that_is_not_a_sweep(host, tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "results.nc").write_text("a run's results")
    with pytest.raises(TlkitError, match="is not empty and is not a sweep directory"):
        tlkit.sweep(SPEC, run, host=host, progress="none", force=True)
    assert sorted(p.name for p in run.iterdir()) == ["results.nc"]
    assert (run / "results.nc").read_text() == "a run's results"


def test_bad_plugin_reference_or_blocked_results_are_one_line_before_any_work(
    host, invoke, tmp_path
):
    config = write_toml(tmp_path / "s.toml", BASE_TOML + "\n[grid]\nn_train = [16]\n")
    for ref, message in (
        ("nonsense", "--plugin 'nonsense' must be of the form module:attribute"),
        ("no_such_module_x:P", "--plugin 'no_such_module_x:P' cannot be loaded"),
    ):
        result = invoke("sweep", config, "--out", tmp_path / "sw", "--plugin", ref)
        assert result.exit_code == 2 and result.stderr.strip().startswith(f"error: {message}")
        assert not (tmp_path / "sw").exists()
    # importable, but not a plugin: no hook implementations
    for ref in ("os:path", "fakes:fake_config"):
        result = invoke("sweep", config, "--out", tmp_path / "sw", "--plugin", ref)
        assert result.exit_code == 2, result.output
        assert result.stderr.strip() == (
            f"error: --plugin {ref!r} is not a tlkit plugin: it has no @tlkit.hookimpl methods"
        )
        assert not (tmp_path / "sw").exists()
    for ref in ("fakes:FakePlugin",):  # a class, as documented
        dry = invoke("sweep", config, "--out", tmp_path / "sw", "--plugin", ref, "--dry-run")
        assert dry.exit_code == 0, dry.output
    (tmp_path / "sw2" / "results.nc").mkdir(parents=True)
    (tmp_path / "sw2" / "sweep.json").write_text("{}")
    result = invoke("sweep", config, "--out", tmp_path / "sw2", "--force")
    assert result.exit_code == 2 and "results.nc is a directory" in result.stderr
    assert not (tmp_path / "sw2" / "cells").exists()


def test_a_raising_cell_is_recorded_and_the_sweep_goes_on(xhost, tmp_path):
    spec = {
        "seeds": [0, 1],
        "base": {**SPEC["base"], "trainer": {"name": "exploding", "params": {"explode_at": 32}}},
        "grid": {"n_train": [16, 32, 64]},
    }
    result = tlkit.sweep(spec, tmp_path / "sw", host=xhost, progress="none")
    assert (result.ran, len(result.errors)) == (3, 1)
    (reason,) = result.errors.values()
    assert reason == "RuntimeError: boom at this n"
    (err_file,) = (tmp_path / "sw" / "cells").glob("*.error.json")
    assert "Traceback" in json.loads(err_file.read_text())["traceback"]
    ds = open_results(tmp_path / "sw" / "results.nc")
    assert list(ds["fit_status"].sel(n_train=32).values.ravel()) == ["error", "error"]
    assert list(ds["fit_status"].sel(n_train=64).values.ravel()) == ["ok", "ok"]
    assert ds["fit_reason"].sel(n_train=32, seed=0).squeeze().item() == reason
    assert np.isnan(ds["mse_mse"].sel(n_train=32)).all()
    assert np.isfinite(ds["mse_mse"].sel(n_train=64)).all()
    assert ds.attrs["sweep_cells_failed"] == 1


def test_cli_exits_1_after_writing_everything_when_a_cell_raised(xhost, invoke, tmp_path):
    config = write_toml(
        tmp_path / "s.toml",
        BASE_TOML.replace(
            'trainer = "lstsq"', 'trainer = {name = "exploding", params = {explode_at = 32}}'
        )
        + "\n[grid]\nn_train = [16, 32]\n",
    )
    result = invoke("sweep", config, "--out", tmp_path / "sw", "--quiet")
    assert result.exit_code == 1
    assert result.stderr.strip().splitlines()[-1].startswith("error: 1 cell(s) raised")
    assert (tmp_path / "sw" / "results.nc").is_file()
    assert len(list((tmp_path / "sw" / "cells").glob("*.nc"))) == 1


def test_cli_exit_status_counts_only_the_variants_asked_for(xhost, invoke, tmp_path):
    config = write_toml(
        tmp_path / "s.toml",
        BASE_TOML
        + "\n[grid]\nn_train = [16]\n"
        + '[[variants]]\nname = "good"\n'
        + '[[variants]]\nname = "bad"\n'
        + 'trainer = {name = "exploding", params = {explode_at = 16}}\n',
    )
    out = tmp_path / "sw"
    assert invoke("sweep", config, "--out", out, "--quiet").exit_code == 1
    again = invoke("sweep", config, "--out", out, "--quiet", "--variants", "good")
    assert again.exit_code == 0, again.output
    assert invoke("sweep", config, "--out", out, "--quiet", "--variants", "bad").exit_code == 1


def test_diverged_runs_are_counted(xhost, tmp_path):
    spec = {
        "seeds": [0],
        "base": {**SPEC["base"], "trainer": {"name": "exploding", "params": {"blow_up": True}}},
        "grid": {"n_train": [16, 32]},
    }
    result = tlkit.sweep(spec, tmp_path / "sw", host=xhost, progress="none")
    assert result.failed_runs == 2 and not result.errors
    assert set(result.results["fit_status"].values.ravel()) == {"failed"}


def test_combine_cells_fills_sparse_grids():
    a = xr.Dataset(
        {"m": (("arch", "n"), [[1.0, 2.0]]), "s": (("arch", "n"), [["ok", "ok"]])},
        coords={"arch": ["b"], "n": [1, 2]},
    )
    b = xr.Dataset({"m": (("arch", "n"), [[3.0]])}, coords={"arch": ["a"], "n": [4]})
    ds = combine([a, b])
    assert list(ds["arch"].values) == ["b", "a"]  # labels keep first-appearance order
    assert list(ds["n"].values) == [1, 2, 4]  # numbers are sorted
    np.testing.assert_array_equal(ds["m"].values, [[1.0, 2.0, np.nan], [np.nan, np.nan, 3.0]])
    assert ds["s"].values.tolist() == [["ok", "ok", ""], ["", "", ""]]


# -- CLI: success and one-line errors, nothing written ---------------------------------------
def test_cli_sweep_runs_and_resumes(invoke, tmp_path):
    cfg = write_toml(tmp_path / "s.toml", BASE_TOML + "\n[grid]\nn_train = [16, 32]\n")
    first = invoke("sweep", cfg, "--out", tmp_path / "sw", "--quiet")
    assert first.exit_code == 0, first.output
    assert "2 cells: 2 run, 0 reused, 0 failed" in first.output
    second = invoke("sweep", cfg, "--out", tmp_path / "sw")  # with the progress bar
    assert second.exit_code == 0, second.output
    assert "2 cells: 0 run, 2 reused" in second.stdout


@pytest.mark.parametrize(
    ("grid", "message"),
    [
        ("n_train = []", "error: grid.n_train is an empty list: the sweep would have 0 cells"),
        ("colour = [1]", "error: unknown grid field 'colour'; valid: n_train, n_val, "),
        (
            'n_train = ["many"]',
            "error: sweep cell [n_train=many]: n_train must be an integer, got 'many'",
        ),
        ('"target.d" = ["x"]', "error: sweep cell [target.d=x]: parameter 'd' of target "),
        ('"target.width" = [2]', "error: sweep cell [target.width=2]: "),
    ],
)
def test_cli_bad_configs_give_one_line_and_write_nothing(invoke, tmp_path, grid, message):
    cfg = write_toml(tmp_path / "s.toml", BASE_TOML + f"\n[grid]\n{grid}\n")
    result = invoke("sweep", cfg, "--out", tmp_path / "sw")
    assert result.exit_code == 2
    assert result.stderr.startswith(message), result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "sw").exists()


def test_a_cell_too_small_for_the_trainer_is_refused_before_any_cell_runs(
    invoke, tmp_path, monkeypatch
):
    # The trainer's data-size check runs for every cell up front, also for cells that
    # share their components with an earlier one (only n_train differs).
    import fakes

    def no_sampling(*args, **kwargs):
        raise AssertionError("data drawn before the sweep was checked")

    monkeypatch.setattr(fakes.LinearTarget, "sample", no_sampling)
    toml = BASE_TOML.replace(
        'trainer = "lstsq"', 'trainer = {name = "lstsq", params = {min_n = 20}}'
    )
    cfg = write_toml(tmp_path / "s.toml", toml + "\n[grid]\nn_train = [32, 16]\n")
    result = invoke("sweep", cfg, "--out", tmp_path / "sw")
    assert result.exit_code == 2
    assert result.stderr.strip() == (
        "error: sweep cell [n_train=16]: trainer 'lstsq': needs n_train >= min_n = 20, got 16"
    )
    assert not (tmp_path / "sw").exists()


def test_cli_unknown_top_level_field_and_zero_seeds(invoke, tmp_path):
    cfg = write_toml(tmp_path / "a.toml", "colour = 1\n" + BASE_TOML)
    result = invoke("sweep", cfg, "--out", tmp_path / "sw")
    assert result.exit_code == 2
    assert result.stderr.strip() == (
        "error: unknown sweep field 'colour'; valid: base, grid, seeds, variants"
    )
    cfg = write_toml(tmp_path / "b.toml", BASE_TOML.replace("seeds = [0, 1]", "seeds = []"))
    result = invoke("sweep", cfg, "--out", tmp_path / "sw")
    assert result.stderr.strip() == "error: seeds is an empty list: the sweep would have 0 cells"
    cfg = write_toml(
        tmp_path / "d.toml",
        BASE_TOML.replace("seeds = [0, 1]", "seeds = [2, 18446744073709551616]"),
    )
    result = invoke("sweep", cfg, "--out", tmp_path / "sw")
    assert result.stderr.strip().startswith("error: seeds must be a list of integers in [0, 2**63)")
    (tmp_path / "e.toml").write_bytes(b"\xff\xfe" + BASE_TOML.encode())
    result = invoke("sweep", tmp_path / "e.toml", "--out", tmp_path / "sw")
    assert result.exit_code == 2 and "is not UTF-8 text" in result.stderr
    cfg = write_toml(tmp_path / "c.toml", BASE_TOML.replace("n_val = 16", "n_vall = 16"))
    result = invoke("sweep", cfg, "--out", tmp_path / "sw")
    assert result.stderr.startswith("error: sweep cell [base]: unknown config field 'n_vall'")
    assert not (tmp_path / "sw").exists()


def test_cli_unreachable_scheduler(invoke, tmp_path):
    cfg = write_toml(tmp_path / "s.toml", BASE_TOML + "\n[grid]\nn_train = [16]\n")
    result = invoke(
        "sweep",
        cfg,
        "--out",
        tmp_path / "sw",
        "--executor",
        "dask",
        "--scheduler",
        "tcp://127.0.0.1:9",
        "--timeout",
        "2",
    )
    assert result.exit_code == 2
    assert result.stderr.strip().startswith(
        "error: cannot reach the Dask scheduler at tcp://127.0.0.1:9 within 2 s"
    )
    assert not (tmp_path / "sw").exists()


@pytest.mark.parametrize("value", ["nan", "inf", "-1", "0"])
@pytest.mark.parametrize("executor", [("--executor", "dask"), ()])
def test_cli_timeout_must_be_a_positive_number_of_seconds(invoke, tmp_path, value, executor):
    cfg = write_toml(tmp_path / "s.toml", BASE_TOML + "\n[grid]\nn_train = [16]\n")
    scheduler = ("--scheduler", "tcp://127.0.0.1:9") if executor else ()
    for dry in ((), ("--dry-run",)):
        result = invoke(
            "sweep", cfg, "--out", tmp_path / "sw", *executor, *scheduler, "--timeout", value, *dry
        )
        assert result.exit_code == 2, result.output
        assert result.stderr.strip() == (
            f"error: --timeout must be a positive number of seconds, got {value}"
        )
        assert not (tmp_path / "sw").exists()


def test_dask_executor_refuses_a_bad_timeout_before_connecting():
    from tlkit.executors import DaskExecutor, HostSpec

    for value in (float("nan"), float("inf"), -1.0):
        with pytest.raises(ConfigError, match="connect_timeout must be a positive number"):
            DaskExecutor(host_spec=HostSpec(), scheduler="tcp://127.0.0.1:9", connect_timeout=value)


def test_cli_option_mismatch(invoke, tmp_path):
    cfg = write_toml(tmp_path / "s.toml", BASE_TOML + "\n[grid]\nn_train = [16]\n")
    cases = [
        (("--workers", "2"), "--workers, --scheduler and --gpus need --executor dask"),
        (("--gpus", "0,1"), "--workers, --scheduler and --gpus need --executor dask"),
        (("--executor", "dask", "--gpus", "0,,1"), "--gpus: '' is not a GPU id; use indices"),
        (("--executor", "dask", "--gpus", "-1"), "--gpus: '-1' is not a GPU id"),
        (("--executor", "dask", "--gpus", "a"), "--gpus: 'a' is not a GPU id"),
        (
            ("--executor", "dask", "--gpus", "0", "--scheduler", "tcp://127.0.0.1:9"),
            "--gpus starts local GPU workers; with --scheduler",
        ),
    ]
    for args, message in cases:
        result = invoke("sweep", cfg, "--out", tmp_path / "sw", *args)
        assert result.exit_code == 2, (args, result.output)
        assert result.stderr.strip().startswith(f"error: {message}"), (args, result.stderr)
        assert not (tmp_path / "sw").exists()


# -- SIGKILL at a random moment ---------------------------------------------------------------
KILL_SCRIPT = """
import sys, time
import tlkit
from fakes import FakePlugin, LeastSquares
from tlkit.plugins import PluginHost


class Slow(LeastSquares):
    def fit(self, model, data, on_stage):
        time.sleep(0.15)  # long enough that a kill lands inside a cell
        return super().fit(model, data, on_stage)


class SlowPlugin:
    @tlkit.hookimpl
    def tlkit_register_trainers(self, register):
        register("slow", Slow, architectures=["linear-net"])


host = PluginHost(load_entry_points=False, strict=False)
host.add_plugin(FakePlugin(), name="fake", version="0.0")
host.add_plugin(SlowPlugin(), name="slow", version="0.0")
spec = {SPEC!r}
spec["base"]["trainer"] = "slow"
spec["grid"] = {{"n_train": [16, 24, 32, 48, 64, 96], "target.d": [2, 3]}}
tlkit.sweep(spec, sys.argv[1], host=host, progress="none")
"""


def test_sigkill_then_rerun_equals_an_uninterrupted_sweep(tmp_path):
    script = tmp_path / "run_sweep.py"
    script.write_text(KILL_SCRIPT.format(SPEC=SPEC))
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")]),
    }
    out, clean = tmp_path / "killed", tmp_path / "clean"
    # The uninterrupted reference runs alongside (same script, separate directory).
    reference = subprocess.Popen(
        [sys.executable, str(script), str(clean)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    proc = subprocess.Popen(
        [sys.executable, str(script), str(out)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 120
    while not list((out / "cells").glob("*.nc")) and time.monotonic() < deadline:
        assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
        time.sleep(0.05)
    delay = random.uniform(0.0, 1.5)
    time.sleep(delay)
    finished_early = proc.poll() is not None
    proc.send_signal(signal.SIGKILL)
    proc.communicate()
    done = sorted((out / "cells").glob("*.nc"))
    assert finished_early or len(done) < 12, f"kill after {delay:.2f} s came too late"
    for path in done:  # no partial or corrupt file under a finished cell's name
        assert open_results(path)["fit_status"].sizes["seed"] == 2
    subprocess.run(
        [sys.executable, str(script), str(out)],
        env=env,
        check=True,
        timeout=300,
        capture_output=True,
    )
    _, err = reference.communicate(timeout=300)
    assert reference.returncode == 0, err.decode()
    xr.testing.assert_identical(
        open_results(out / "results.nc"), open_results(clean / "results.nc")
    )
    assert not list((out / "cells").glob(".*tmp*"))


def test_dry_run_checks_everything_lists_what_would_run_and_writes_nothing(invoke, tmp_path):
    cfg = write_toml(tmp_path / "s.toml", BASE_TOML + "\n[grid]\nn_train = [16, 32, 64]\n")
    out = tmp_path / "sw"
    plan = invoke("sweep", cfg, "--out", out, "--dry-run")
    assert plan.exit_code == 0, plan.output
    assert plan.stdout.splitlines() == [
        "3 cells: 3 to run, 0 finished (dry run: nothing written)",
        "  would run: n_train=16 (2 seeds)",
        "  would run: n_train=32 (2 seeds)",
        "  would run: n_train=64 (2 seeds)",
    ]
    assert not out.exists()
    assert invoke("sweep", cfg, "--out", out, "--quiet").exit_code == 0
    next((out / "cells").glob("*n_train=32*.nc")).unlink()
    again = invoke("sweep", cfg, "--out", out, "--dry-run")
    assert (
        again.stdout.splitlines()[0] == "3 cells: 1 to run, 2 finished (dry run: nothing written)"
    )
    assert "would run: n_train=32" in again.stdout
    # bad input is refused as by a real run
    bad = invoke("sweep", cfg, "--out", out, "--dry-run", "--workers", "2")
    assert bad.exit_code == 2 and bad.stderr.startswith("error: --workers, --scheduler and --gpus")


def test_the_sweep_configs_in_the_docs_parse_and_expand():
    text = (TESTS.parent / "docs" / "sweeps.md").read_text()
    blocks = [b.split("```")[0] for b in text.split("```toml\n")[1:]]
    sweeps = [tomllib.loads(b) for b in blocks if "[grid]" in b]
    assert len(sweeps) >= 2
    for data in sweeps:
        cells = expand_cells(SweepSpec.from_dict(data))
        assert cells and len({c.id for c in cells}) == len(cells)
    widths = expand_cells(SweepSpec.from_dict(sweeps[1]))
    assert {tuple(c.coords) for c in widths} == {("width",)}


def test_a_recorded_sweep_config_reads_back_as_the_same_sweep():
    # sweep.json is re-read by tlkit analyze SWEEP_DIR and saved_runs
    for data in (
        SPEC,
        {**SPEC, "grid": {"trainer.ridge": {"values": [0.0, 2.0], "dim": "knob"}}},
        SHARED_DIM_SPEC,
    ):
        spec = SweepSpec.from_dict(data)
        again = SweepSpec.from_dict(spec.to_dict())
        assert again == spec
        assert [c.id for c in expand_cells(again)] == [c.id for c in expand_cells(spec)]
        assert [c.coords for c in expand_cells(again)] == [c.coords for c in expand_cells(spec)]


def test_a_grid_axis_is_named_alike_in_every_variant():
    # an axis renamed with dim does not push a [grid] axis of the same parameter name
    # to a prefixed name in one variant only
    spec = SweepSpec.from_dict(
        {
            **SPEC,
            "grid": {"trainer.width": [0, 1]},
            "variants": [
                {"name": "a", "grid": {"arch.width": {"values": [1], "dim": "knob"}}},
                {"name": "b", "grid": {"arch.scale": {"values": [1], "dim": "knob"}}},
            ],
        }
    )
    assert {tuple(sorted(c.coords)) for c in expand_cells(spec)} == {("knob", "variant", "width")}
