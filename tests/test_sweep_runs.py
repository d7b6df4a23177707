"""Sweeps that keep their trained runs (--save-runs), and probing them again later."""

from __future__ import annotations

import numpy as np
import pytest
import tlkit
import xarray as xr
from click.testing import CliRunner
from fakes import NormProbePlugin
from tlkit.cli import cli
from tlkit.errors import TlkitError
from tlkit.results import open_results
from tlkit.sweep_analysis import analyze_sweep
from tlkit.sweeps import SweepSpec, expand_cells, run_paths

SPEC = {
    "seeds": [0, 1],
    "base": {
        "target": {"name": "linear", "params": {"d": 3, "noise_std": 0.3}},
        "arch": "linear-net",
        "trainer": "lstsq",
        "n_val": 16,
        "n_test": 256,
    },
    "grid": {"n_train": [8, 32], "trainer.ridge": [0.0, 2.0]},
}


@pytest.fixture
def invoke(host):
    runner = CliRunner()

    def _invoke(*args):
        return runner.invoke(cli, [str(a) for a in args], obj=host, catch_exceptions=False)

    return _invoke


def test_saved_runs_reload_and_reanalysis_reproduces_the_sweep(host, tmp_path):
    out = tmp_path / "sw"
    result = tlkit.sweep(SPEC, out, host=host, progress="none", save_runs=True)
    assert result.ran == 4 and not result.errors
    cells = expand_cells(SweepSpec.load(SPEC))
    paths = [p for c in cells for p in run_paths(out, c)]
    assert len(paths) == 8 and all((p / "manifest.json").is_file() for p in paths)

    # Re-probing the saved networks gives the sweep's own numbers, on the same labels.
    again = analyze_sweep(out, host=host, progress="none")
    assert (again.cells, again.runs, again.cells_without_runs) == (4, 8, 0)
    sweep_ds = open_results(out / "results.nc")
    xr.testing.assert_equal(again.results["mse_mse"], sweep_ds["mse_mse"])
    assert again.path == out / "analysis.nc" and again.path.is_file()

    # A new probe setting, checked against NumPy on the reloaded network.
    plain = analyze_sweep(out, ["mse"], host=host, progress="none", out=tmp_path / "plain.nc")
    cell = next(c for c in cells if c.coords["trainer_ridge"] == 2.0 and "n_train=8" in c.label)
    run = tlkit.load_run(run_paths(out, cell)[1], host)
    X, _ = run.test_data()
    w = np.asarray(run.model.w[...], np.float64)
    f_star = np.asarray(run.target.function(X), np.float64)
    expected = np.mean((np.asarray(X, np.float64) @ w - f_star) ** 2) / np.var(f_star)
    got = plain.results["mse_mse"].sel(n_train=8, trainer_ridge=2.0, seed=1).squeeze().item()
    assert got == pytest.approx(expected, rel=1e-5)


def test_a_sweep_resumed_with_save_runs_trains_only_cells_without_runs(host, tmp_path):
    out = tmp_path / "sw"
    assert tlkit.sweep(SPEC, out, host=host, progress="none").ran == 4
    reference = open_results(out / "results.nc")
    cells = expand_cells(SweepSpec.load(SPEC))
    with pytest.raises(TlkitError, match="holds no saved runs; rerun the sweep with --save-runs"):
        analyze_sweep(out, host=host, progress="none")
    assert (tlkit.sweep(SPEC, out, host=host, progress="none", save_runs=True).ran) == 4
    xr.testing.assert_identical(open_results(out / "results.nc"), reference)  # same seeds
    second = tlkit.sweep(SPEC, out, host=host, progress="none", save_runs=True)
    assert (second.ran, second.reused) == (0, 4)
    # a cell whose runs are gone (deleted by hand) is trained again, the others not
    for path in run_paths(out, cells[2]):
        for f in sorted(path.rglob("*"), reverse=True):
            f.unlink() if f.is_file() else f.rmdir()
        path.rmdir()
    third = tlkit.sweep(SPEC, out, host=host, progress="none", save_runs=True)
    assert (third.ran, third.reused) == (1, 3)
    assert analyze_sweep(out, host=host, progress="none").runs == 8


def test_cli_analyze_of_a_sweep_and_its_one_line_errors(invoke, host, tmp_path):
    out = tmp_path / "sw"
    assert tlkit.sweep(SPEC, out, host=host, progress="none").ran == 4
    result = invoke("analyze", out)
    assert result.exit_code == 2
    assert result.output.strip().startswith(f"error: {out} holds no saved runs")
    assert not (out / "analysis.nc").exists()

    sweep = CliRunner().invoke(
        cli, ["sweep", str(_toml(tmp_path)), "--out", str(out), "--save-runs", "--quiet"], obj=host
    )
    assert sweep.exit_code == 0, sweep.output
    assert "4 cells: 4 run, 0 reused" in sweep.output
    before = sorted(p.name for p in out.iterdir())
    for args, message in [
        (("--out", out / "results.nc"), "belongs to the sweep (it rewrites it)"),
        (("--out", out / "runs" / "mine.nc"), "belongs to the sweep (it rewrites it)"),
        (("--out", out / "cells" / "sub" / "mine.nc"), "belongs to the sweep (it rewrites it)"),
        (("--probe", "nope"), "unknown probe 'nope'; available: mse, never"),
        (("--probe", "mse", "-p", "kind=cubic"), "parameter 'kind' of probe 'mse'"),
    ]:
        result = invoke("analyze", out, *args)
        assert result.exit_code == 2, result.output
        assert len(result.output.strip().splitlines()) == 1 and message in result.output
        assert sorted(p.name for p in out.iterdir()) == before

    result = invoke("analyze", out, "--probe", "mse", "-p", "kind=plain", "--quiet")
    assert result.exit_code == 0, result.output
    assert "analyzed 8 runs of 4 cells" in result.output
    ds = open_results(out / "analysis.nc")
    assert ds["mse_mse"].attrs["long_name"] == "plain test MSE"
    assert dict(ds["mse_mse"].sizes) == dict(open_results(out / "results.nc")["mse_mse"].sizes)


def _toml(tmp_path):
    import tomli_w

    path = tmp_path / "sweep.toml"
    path.write_text(tomli_w.dumps(SPEC))
    return path


def test_reproduce_passes_save_runs_through_to_its_sweep(host, tmp_path, monkeypatch):
    import tlkit.sweeps
    from tlkit.reproduce import run_reproduction

    seen = {}

    def fake_sweep(spec, out, **kwargs):
        seen.update(kwargs)
        raise TlkitError("stop here")

    monkeypatch.setattr(tlkit.sweeps, "sweep", fake_sweep)
    with pytest.raises(TlkitError, match="stop here"):
        run_reproduction("depth-separation", tmp_path, small=True, host=host, save_runs=True)
    assert seen["save_runs"] is True


def test_the_sweeps_analysis_file_gains_probes_and_reports_skips(host, tmp_path):
    host.add_plugin(NormProbePlugin(), name="norm", version="0.0")
    try:
        out = tmp_path / "sw"
        tlkit.sweep(SPEC, out, host=host, progress="none", save_runs=True)
        first = analyze_sweep(out, ["norm"], host=host, progress="none")
        norms = first.results["norm_l2"]
        assert not first.skipped and int(norms.notnull().sum()) == 8

        # a probe that applies to no run: one line, the file untouched
        before = (out / "analysis.nc").read_bytes()
        with pytest.raises(TlkitError, match="no probe applied to any run, nothing written: "):
            analyze_sweep(out, ["never"], host=host, progress="none")
        assert (out / "analysis.nc").read_bytes() == before

        # another probe: added beside the first; a skipped one is reported, not hidden
        second = analyze_sweep(out, ["mse", "never"], host=host, progress="none")
        on_disk = open_results(out / "analysis.nc")
        xr.testing.assert_identical(on_disk["norm_l2"], norms)
        assert "mse_mse" in on_disk
        assert second.skipped == {"never": (8, "fake networks have no learned feature")}
        assert "probe 'never' skipped for 8 of 8 runs: fake networks" in second.summary()
    finally:
        host.remove_plugin("norm")


def test_an_unwritable_output_is_found_before_any_run_is_probed(host, tmp_path, monkeypatch):
    import tlkit.pipeline

    out = tmp_path / "sw"
    tlkit.sweep(SPEC, out, host=host, progress="none", save_runs=True)
    blocker = tmp_path / "file"
    blocker.write_text("")
    monkeypatch.setattr(tlkit.pipeline, "analyze", lambda *a, **k: pytest.fail("probed"))
    with pytest.raises(TlkitError, match="is a file, not a directory"):
        analyze_sweep(out, ["mse"], host=host, progress="none", out=blocker / "a.nc")


def test_an_executor_that_cannot_save_runs_is_refused_before_anything_runs(host, tmp_path):
    from tlkit.errors import ConfigError

    class Plain:  # a user's executor from before --save-runs
        closed = False

        def run(self, cells, out):
            raise AssertionError("ran")

        def close(self):
            Plain.closed = True

    with pytest.raises(ConfigError, match="executor Plain cannot save runs"):
        tlkit.sweep(SPEC, tmp_path / "sw", host=host, executor=Plain(), save_runs=True)
    assert Plain.closed and not (tmp_path / "sw").exists()


def test_saved_runs_lists_every_run_with_its_coordinates(host, tmp_path):
    from tlkit.sweep_analysis import saved_runs

    out = tmp_path / "sw"
    tlkit.sweep(SPEC, out, host=host, progress="none", save_runs=True)
    rows = saved_runs(out)
    assert len(rows) == 8
    keys = {(r["n_train"], r["trainer_ridge"], r["seed"]) for r in rows}
    assert keys == {(n, ridge, s) for n in (8, 32) for ridge in (0.0, 2.0) for s in (0, 1)}
    row = next(r for r in rows if (r["n_train"], r["trainer_ridge"], r["seed"]) == (32, 2.0, 1))
    assert (row["arch"], row["trainer"]) == ("linear-net", "lstsq")
    run = tlkit.load_run(row["path"], host)
    assert (run.config.n_train, run.config.seed) == (32, 1)
    assert run.config.trainer.params["ridge"] == 2.0
    with pytest.raises(TlkitError, match="not a sweep directory"):
        saved_runs(tmp_path)


def test_an_analysis_resumes_where_it_stopped(host, tmp_path, monkeypatch):
    import tlkit.sweep_analysis as sa

    out = tmp_path / "sw"
    tlkit.sweep(SPEC, out, host=host, progress="none", save_runs=True)
    cells = expand_cells(SweepSpec.load(SPEC))
    # a damaged run in the third cell stops the analysis with one line ...
    manifest = run_paths(out, cells[2])[0] / "manifest.json"
    good = manifest.read_text()
    manifest.write_text(good[:30])
    with pytest.raises(TlkitError, match="manifest"):
        analyze_sweep(out, ["mse"], host=host, progress="none")
    assert not (out / "analysis.nc").exists()
    kept = sorted((out / "analysis-cells").rglob("*.nc"))
    assert len(kept) == 2  # ... and the cells analyzed before it are kept
    # repaired, the next call analyzes only the cells not done yet
    manifest.write_text(good)
    done: list[str] = []
    real = sa.analyze_cell
    monkeypatch.setattr(
        sa, "analyze_cell", lambda root, cell, *a: done.append(cell.id) or real(root, cell, *a)
    )
    result = analyze_sweep(out, ["mse"], host=host, progress="none")
    assert sorted(done) == sorted(c.id for c in cells[2:])
    xr.testing.assert_equal(result.results["mse_mse"], open_results(out / "results.nc")["mse_mse"])


def test_cli_analyze_options_for_sweeps_are_refused_for_a_run(invoke, host, tmp_path):
    tlkit.train(
        {
            "target": {"name": "linear", "params": {"d": 3}},
            "arch": "linear-net",
            "n_train": 16,
            "n_val": 8,
            "n_test": 8,
        },
        out=tmp_path / "run",
        host=host,
    )
    result = invoke("analyze", tmp_path / "run", "--executor", "dask")
    assert result.exit_code == 2
    assert result.output.strip().startswith(
        "error: --executor, --workers, --scheduler and --plugin apply to sweep directories"
    )


def test_a_sweep_with_only_some_seeds_runs_saved_says_so(host, tmp_path):
    import shutil

    out = tmp_path / "sw"
    tlkit.sweep(SPEC, out, host=host, progress="none", save_runs=True)
    for cell in expand_cells(SweepSpec.load(SPEC)):
        shutil.rmtree(run_paths(out, cell)[1])  # seed 1's run of every cell is gone
    with pytest.raises(TlkitError) as err:
        analyze_sweep(out, host=host, progress="none")
    assert str(err.value).startswith(
        f"{out} holds no cell with every seed's run saved (4 of 4 cells have only some); "
        "rerun the sweep with --save-runs"
    )
