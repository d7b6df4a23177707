"""Sweep and results files that are damaged, foreign or newer: refused in one line,
never overwritten, with a way to recover that keeps the finished cells."""

from __future__ import annotations

import json

import pytest
import tlkit
import xarray as xr
from fakes import fake_config
from test_sweep import SPEC, ExtraPlugin
from tlkit.errors import ConfigError, RunDirectoryError, TlkitError
from tlkit.results import open_results, save_dataset
from tlkit.sweeps import SweepSpec, plan_sweep

SMALL = {**SPEC, "grid": {"n_train": [16, 32]}}


@pytest.fixture
def finished(host, tmp_path):
    """A finished two-cell sweep, and a copy of it to damage."""
    out = tmp_path / "sw"
    tlkit.sweep(SMALL, out, host=host, progress="none")
    return out


@pytest.mark.parametrize("text", ["[1, 2]", "null", '{"spec": ', "", '{"spec": 3}'])
def test_a_damaged_sweep_json_says_how_to_recover_without_losing_cells(host, finished, text):
    reference = open_results(finished / "results.nc")
    (finished / "sweep.json").write_text(text)
    with pytest.raises(TlkitError) as err:
        tlkit.sweep(SMALL, finished, host=host, progress="none")
    message = str(err.value)
    assert message.startswith(f"{finished / 'sweep.json'} is unreadable (")
    assert "delete it and rerun the same sweep command" in message
    assert "--force" not in message
    # the advice works: every finished cell is reused
    (finished / "sweep.json").unlink()
    again = tlkit.sweep(SMALL, finished, host=host, progress="none")
    assert (again.ran, again.reused) == (0, 2)
    xr.testing.assert_identical(again.results, reference)


def test_a_sweep_written_by_a_newer_tlkit_is_refused(host, finished):
    record = json.loads((finished / "sweep.json").read_text())
    record["tlkit_sweep_schema"] = 99
    (finished / "sweep.json").write_text(json.dumps(record))
    with pytest.raises(TlkitError, match=r"written by a newer tlkit \(sweep schema 99; this"):
        tlkit.sweep(SMALL, finished, host=host, progress="none")
    assert json.loads((finished / "sweep.json").read_text())["tlkit_sweep_schema"] == 99


def test_a_results_file_of_a_newer_schema_is_refused_not_downgraded(host, tmp_path):
    run = tlkit.train(fake_config(), out=tmp_path / "run", host=host)
    ds = open_results(tmp_path / "run" / "results.nc")
    ds.attrs["tlkit_results_schema"] = 2
    save_dataset(ds, tmp_path / "run" / "results.nc")
    before = (tmp_path / "run" / "results.nc").read_bytes()
    with pytest.raises(TlkitError, match=r"newer tlkit \(results schema 2; this tlkit reads"):
        tlkit.analyze(run.path, probes=["mse"], host=host)
    assert (tmp_path / "run" / "results.nc").read_bytes() == before


def test_a_damaged_cell_file_says_how_to_rerun_that_cell(host, finished):
    cell = sorted((finished / "cells").glob("*.nc"))[0]
    cell.write_bytes(cell.read_bytes()[:500])
    with pytest.raises(TlkitError, match="delete it and rerun to run that cell again"):
        tlkit.sweep(SMALL, finished, host=host, progress="none")
    cell.unlink()
    again = tlkit.sweep(SMALL, finished, host=host, progress="none")
    assert (again.ran, again.reused) == (1, 1)


def test_analyze_never_overwrites_another_runs_or_a_sweeps_results(host, tmp_path, finished):
    a = tlkit.train(fake_config(seed=1), out=tmp_path / "a", host=host)
    b = tlkit.train(fake_config(seed=2), out=tmp_path / "b", host=host)
    cell = sorted((finished / "cells").glob("*.nc"))[0]
    for victim in (b.path / "results.nc", cell, finished / "results.nc"):
        before = victim.read_bytes()
        with pytest.raises(TlkitError, match="holds other results than this run's"):
            tlkit.analyze(a.path, probes=["mse"], out=victim, host=host)
        assert victim.read_bytes() == before
    # the same run's earlier file elsewhere is replaced, as before
    mine = tmp_path / "mine.nc"
    tlkit.analyze(a.path, probes=["mse"], out=mine, host=host)
    tlkit.analyze(a.path, probes=["mse"], out=mine, host=host)
    assert open_results(mine).attrs["config"] == a.config.to_json()


def test_a_sweep_analysis_never_overwrites_other_results(host, tmp_path):
    out = tmp_path / "sw"
    tlkit.sweep(SMALL, out, host=host, progress="none", save_runs=True)
    other = tlkit.train(fake_config(), out=tmp_path / "run", host=host)
    before = (other.path / "results.nc").read_bytes()
    with pytest.raises(TlkitError, match="holds other results than this sweep's analysis"):
        tlkit.analyze_sweep(
            out, probes=["mse"], out=other.path / "results.nc", host=host, progress="none"
        )
    assert (other.path / "results.nc").read_bytes() == before
    mine = tmp_path / "analysis-copy.nc"
    tlkit.analyze_sweep(out, probes=["mse"], out=mine, host=host, progress="none")
    tlkit.analyze_sweep(out, probes=["mse"], out=mine, host=host, progress="none")


def test_a_damaged_saved_run_says_how_to_train_it_again(host, tmp_path):
    out = tmp_path / "sw"
    tlkit.sweep(SMALL, out, host=host, progress="none", save_runs=True)
    seed_dir = sorted((out / "runs").glob("*/seed-0"))[0]
    # altered, not missing (a run missing a file counts as not saved: trained again)
    state_file = max(
        (p for p in (seed_dir / "state").rglob("*") if p.is_file()), key=lambda p: p.stat().st_size
    )
    state_file.write_bytes(b"x" + state_file.read_bytes()[1:])
    with pytest.raises(RunDirectoryError) as err:
        tlkit.analyze_sweep(out, probes=["mse"], host=host, progress="none")
    assert f"delete {seed_dir} and rerun the sweep with --save-runs" in str(err.value)


def test_a_cell_that_raises_while_saving_its_runs_is_counted(xhost, tmp_path):
    out = tmp_path / "sw"
    tlkit.sweep(SMALL, out, host=xhost, progress="none")
    (out / "runs").write_text("a file where the runs would go")
    result = tlkit.sweep(SMALL, out, host=xhost, progress="none", save_runs=True)
    assert result.ran == 2 and len(result.errors) == 2
    assert all("is a file, not a directory" in why for why in result.errors.values())
    assert result.selected_errors == result.errors


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"grid": {"n_train": [16, 16]}}, "grid.n_train has the value 16 twice"),
        (
            {"grid": {"arch.scale": [1.0], "arch.params.scale": [2.0]}},
            "grid: arch.scale and arch.params.scale set the same parameter",
        ),
        (
            {"variants": [{"name": "a"}, {"name": "a", "trainer": "lstsq"}]},
            "variant name 'a' is used twice",
        ),
    ],
)
def test_duplicates_in_a_sweep_config_are_named(change, message):
    with pytest.raises(ConfigError, match=None) as err:
        SweepSpec.from_dict({**SPEC, **change})
    assert str(err.value) == message


def test_dry_run_checks_that_the_output_can_be_created(host, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    with pytest.raises(TlkitError, match="a-file is a file, not a directory"):
        plan_sweep(SMALL, blocker / "sw", host=host)
    assert not (blocker.parent / "sw").exists()


def test_analyze_with_no_probe_anywhere_is_one_line(host, tmp_path):
    run = tlkit.train(fake_config(), out=tmp_path / "run", probes=[], host=host)
    host.registry._components["probe"].clear()  # as with the probe plugins disabled
    with pytest.raises(ConfigError, match="no probes to run: the run names none"):
        tlkit.analyze(run.path, host=host)
    assert not (tmp_path / "run" / "results.nc").exists()


@pytest.fixture
def xhost(host):
    host.add_plugin(ExtraPlugin(), name="extra", version="0.0")
    host.ensure_registered()
    yield host
    host.remove_plugin("extra")


def test_resuming_with_save_runs_trains_a_damaged_run_again(host, tmp_path):
    out = tmp_path / "sw"
    tlkit.sweep(SMALL, out, host=host, progress="none", save_runs=True)
    seed_dir = sorted((out / "runs").glob("*/seed-0"))[0]
    state_file = next(p for p in (seed_dir / "state").rglob("*") if p.is_file())
    state_file.unlink()
    again = tlkit.sweep(SMALL, out, host=host, progress="none", save_runs=True)
    assert (again.ran, again.reused) == (1, 1)
    assert tlkit.load_run(seed_dir, host=host).ok


def test_a_read_only_sweep_is_analyzed_into_a_file_of_ones_own(host, tmp_path, monkeypatch):
    import tlkit.atomic

    out = tmp_path / "sw"
    tlkit.sweep(SMALL, out, host=host, progress="none", save_runs=True)
    real = tlkit.atomic.ensure_writable_dir

    def read_only_sweep(directory):
        if out in directory.parents:
            raise TlkitError(f"output directory is not writable: {directory}")
        real(directory)

    # as root the tests cannot make a directory unwritable: the check itself says no
    monkeypatch.setattr(tlkit.atomic, "ensure_writable_dir", read_only_sweep)
    with pytest.raises(
        TlkitError, match=r"not writable: .*; write the results elsewhere with --out"
    ):
        tlkit.analyze_sweep(out, probes=["mse"], host=host, progress="none")
    mine = tmp_path / "mine" / "analysis.nc"
    done = tlkit.analyze_sweep(out, probes=["mse"], out=mine, host=host, progress="none")
    assert done.path == mine and "mse_mse" in open_results(mine)
    assert not (out / "analysis-cells").exists()
    assert list((mine.parent / ".analysis.nc.cells").glob("*/*.nc"))


@pytest.mark.parametrize("as_earlier_versions_wrote", [False, True])
def test_a_sweep_whose_grid_is_not_in_sorted_order_is_analyzed(
    host, tmp_path, as_earlier_versions_wrote
):
    # the grid's order makes the cells' ids; sweep.json used to be written with sorted
    # keys, which expanded to other ids, and the saved runs were not found
    spec = {**SPEC, "grid": {"target.d": [2, 3], "n_train": [16, 32]}}
    out = tmp_path / "sw"
    tlkit.sweep(spec, out, host=host, progress="none", save_runs=True)
    if as_earlier_versions_wrote:
        record = json.loads((out / "sweep.json").read_text())
        (out / "sweep.json").write_text(json.dumps(record, indent=2, sort_keys=True))
    done = tlkit.analyze_sweep(out, probes=["mse"], host=host, progress="none")
    assert (done.cells, done.runs) == (4, 8)
    xr.testing.assert_allclose(done.results["mse_mse"], open_results(out / "results.nc")["mse_mse"])


def test_a_missing_plugin_never_gets_advice_to_delete_intact_runs(host, tmp_path):
    from fakes import NormProbePlugin
    from tlkit.errors import PluginMismatchError

    host.add_plugin(NormProbePlugin(), name="norm")
    out = tmp_path / "sw"
    tlkit.sweep(SMALL, out, host=host, progress="none", save_runs=True)
    host.remove_plugin("fake")  # as on a machine (or Dask worker) without it
    with pytest.raises(PluginMismatchError) as err:
        tlkit.analyze_sweep(out, probes=["norm"], host=host, progress="none")
    assert "needs target 'linear' of plugin 'fake', which is not installed" in str(err.value)
    assert "delete" not in str(err.value)


def test_force_after_deleting_a_damaged_record_keeps_the_cells(host, finished):
    (finished / "sweep.json").write_text("{")
    (finished / "sweep.json").unlink()  # the advice of the unreadable-record error
    again = tlkit.sweep(SMALL, finished, host=host, progress="none", force=True)
    assert (again.ran, again.reused) == (0, 2)
