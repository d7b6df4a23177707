"""Sweeps that keep their trained runs (--save-runs), and probing them again later."""

from __future__ import annotations

import numpy as np
import pytest
import tlkit
import xarray as xr
from click.testing import CliRunner
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
