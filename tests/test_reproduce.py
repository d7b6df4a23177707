"""Named reproductions (``tlkit reproduce``): registry, packaged configs, summaries, CLI.

Fast tests drive the machinery with the inline fake plugin (a linear teacher fitted by
least squares, whose error has a closed form); one slow test runs a tiny real
reproduction through the first-party plugins.
"""

from __future__ import annotations

import copy
import dataclasses
import json
from pathlib import Path

import click
import numpy as np
import pytest
import tlkit
import tlkit.plotting as reproduce_plotting
import xarray as xr
from click.testing import CliRunner
from fakes import LinearTarget
from tlkit.cli import TlkitGroup
from tlkit.errors import TlkitError
from tlkit.reproduce import (
    REPRODUCTIONS,
    Reproduction,
    ThresholdCheck,
    get_reproduction,
    kernel_plateau,
    method_curves,
    run_reproduction,
)
from tlkit.reproduce_cli import COMMANDS
from tlkit.sweeps import SweepSpec, expand_cells, validate_cells
from tlkit.types import DegreeEnergy

EXPECTED = {
    "single-index",
    "quadratic-d16",
    "quadratic-scaling",
    "depth-separation",
    "wang-hierarchical",
}


def fake_threshold_repro(ds_values=(32, 64, 128)) -> Reproduction:
    """Least squares on a linear teacher: E[normalized MSE] = 1 - n/d for n < d."""
    spec = {
        "seeds": [0, 1, 2, 3, 4],
        "base": {
            "target": {"name": "linear", "params": {"d": 32}},
            "arch": "linear-net",
            "trainer": {"name": "lstsq", "params": {"ridge": 1e-9}},
            "n_val": 16,
            "n_test": 1024,
            "probes": ["mse"],
        },
        "grid": {"target.d": list(ds_values), "n_train": [2**k for k in range(2, 9)]},
    }
    return Reproduction(
        name="fake-threshold",
        title="fake threshold",
        prediction="n* = d/2",
        metrics=("mse_mse",),
        threshold=ThresholdCheck(
            "mse_mse", 0.5, above=False, predicted={"*": "1"}, reference_slopes={"*": 1.0}
        ),
        specs={"small": spec, "full": spec},
    )


def fake_comparison_repro() -> Reproduction:
    spec = {
        "seeds": [0, 1, 2],
        "base": {
            "target": {"name": "linear", "params": {"d": 8}},
            "arch": "linear-net",
            "trainer": {"name": "lstsq", "params": {"ridge": 1e-9}},
            "n_val": 16,
            "n_test": 256,
            "probes": ["mse"],
        },
        "grid": {"n_train": [2, 4, 16]},
    }
    return Reproduction(
        name="fake-comparison",
        title="fake comparison",
        prediction="error falls to 0 at n = d",
        metrics=("mse_mse",),
        plateau=True,
        trivial_line=True,
        specs={"small": spec, "full": spec},
    )


def quiet(_line: str) -> None:
    pass


# -- registry and packaged configs -------------------------------------------------------
def test_registry_names():
    assert set(REPRODUCTIONS) == EXPECTED
    assert get_reproduction("single-index").threshold is not None


def test_unknown_reproduction_names_the_choices():
    with pytest.raises(TlkitError, match=r"unknown reproduction 'x'; available: single-index"):
        get_reproduction("x")


@pytest.mark.parametrize("name", sorted(EXPECTED))
@pytest.mark.parametrize("small", [True, False])
def test_packaged_configs_are_valid_sweeps(name, small):
    from tlkit.plugins import PluginHost

    repro = get_reproduction(name)
    spec = repro.spec(small)
    parsed = SweepSpec.from_dict(spec)
    host = PluginHost()
    cells = validate_cells(expand_cells(parsed), parsed, host)
    assert cells
    metrics_from_probes = {"test": "test_normalized_mse", "feature": "feature_corr"}
    probes = set(spec["base"].get("probes", []))
    for variant in spec.get("variants", []):
        probes |= set(variant.get("probes", []))
    produced = {metrics_from_probes[p] for p in probes if p in metrics_from_probes}
    # every plotted metric is produced by some probe of the config
    assert set(repro.metrics) <= produced
    if repro.threshold is not None:
        assert "target.d" in spec["grid"] and len(spec["grid"]["target.d"]) >= 2


def test_small_is_smaller_than_full():
    for repro in REPRODUCTIONS.values():
        small, full = (expand_cells(SweepSpec.from_dict(repro.spec(s))) for s in (True, False))
        n_small = sum(len(c.configs) for c in small)
        n_full = sum(len(c.configs) for c in full)
        assert n_small < n_full, repro.name


# -- the summaries, on the fake plugin ---------------------------------------------------
def test_threshold_reproduction_matches_closed_form(host, tmp_path):
    repro = fake_threshold_repro()
    out = tmp_path / "thr"
    summary = run_reproduction(repro, out, small=True, host=host, quiet=True, n_boot=50, echo=quiet)
    (row,) = summary["thresholds"]
    # Independent recomputation from results.nc: median over seeds, then the first
    # crossing of 0.5 interpolated linearly in log2 n (NumPy only).
    ds = xr.open_dataset(out / "results.nc")
    med = ds["mse_mse"].squeeze(["arch", "trainer"], drop=True).median("seed")
    logn = np.log2(med["n_train"].values.astype(float))
    expected = []
    for d in row["d"]:
        v = med.sel(d=int(d)).values
        i = int(np.argmax(v <= 0.5))
        frac = (0.5 - v[i - 1]) / (v[i] - v[i - 1])
        expected.append(2 ** (logn[i - 1] + frac * (logn[i] - logn[i - 1])))
    np.testing.assert_allclose(row["threshold"], expected, rtol=1e-9)
    slope = np.polyfit(np.log2(row["d"]), np.log2(expected), 1)[0]
    assert row["slope"] == pytest.approx(slope, rel=1e-9)
    # min-norm least squares from n < d Gaussian points has E[error] = 1 - n/d, so the
    # threshold is ~ d/2 and the slope ~ 1; with 5 seeds the median error scatters by
    # ~0.1 at n = d/2 (checked over 40 seeds: mean 0.49 at d = 32, n = 16), hence the
    # loose band
    assert 0.5 < row["slope"] < 1.5
    assert row["ci"][0] <= row["slope"] <= row["ci"][1]
    assert row["predicted_slope"] == "1"
    for path in summary["figures"]:
        assert path.endswith(".png")
        assert (out / path.split("/")[-1]).stat().st_size > 1000
    on_disk = json.loads((out / "summary.json").read_text())
    assert on_disk["thresholds"][0]["slope"] == pytest.approx(row["slope"])


def test_rerun_reuses_cells(host, tmp_path):
    repro = fake_threshold_repro(ds_values=(32, 64))
    out = tmp_path / "again"
    run_reproduction(repro, out, small=True, host=host, quiet=True, n_boot=10, echo=quiet)
    again = run_reproduction(repro, out, small=True, host=host, quiet=True, n_boot=10, echo=quiet)
    assert again["sweep"].startswith("14 cells: 0 run, 14 reused")


def test_comparison_tables_are_medians_of_the_results(host, tmp_path):
    repro = fake_comparison_repro()
    out = tmp_path / "cmp"
    lines: list[str] = []
    summary = run_reproduction(repro, out, small=True, host=host, quiet=True, echo=lines.append)
    ds = xr.open_dataset(out / "results.nc")
    raw = ds["mse_mse"].sel(arch="linear-net", trainer="lstsq").squeeze("d", drop=True)
    (column,) = summary["tables"]["mse_mse"].values()
    assert list(summary["tables"]["mse_mse"]) == ["linear-net / lstsq"]
    for n in (2, 4, 16):
        assert column[n] == pytest.approx(float(np.median(raw.sel(n_train=n).values)))
    # the linear teacher has all its variance in degree 1: nothing above degree 2
    assert summary["theory"]["kernel_plateau"]["share"] == pytest.approx(0.0, abs=1e-12)
    assert column[16] < 1e-6 < column[2]  # n >= d recovers the teacher exactly
    assert any("theory:" in line for line in lines)
    assert (out / "fake-comparison.png").is_file()


def test_comparison_with_several_d_labels_each_line(host, tmp_path):
    repro = fake_comparison_repro()
    spec = dict(repro.specs["small"])
    spec["grid"] = {"target.d": [4, 8], "n_train": [2, 16]}
    repro = dataclasses.replace(repro, specs={"small": spec, "full": spec}, plateau=False)
    summary = run_reproduction(repro, tmp_path / "d", small=True, host=host, quiet=True, echo=quiet)
    table = summary["tables"]["mse_mse"]
    assert set(table) == {"linear-net / lstsq, d=4", "linear-net / lstsq, d=8"}
    # n = 2 < d: error well above 0; n = 16 >= d: the teacher is recovered exactly
    for column in table.values():
        assert column[16] < 1e-6 < column[2]
    assert summary["figures"] == [str(tmp_path / "d" / "fake-comparison.png")]


class SpreadTarget(LinearTarget):
    """A linear teacher that reports the share 1 - 1/d above degree 1 (d-dependent)."""

    def degree_energy(self, max_degree=6):
        energy = np.zeros(max_degree + 1)
        energy[1], energy[2] = 1.0 / self.d, 1.0 - 1.0 / self.d
        return DegreeEnergy(energy, None, "exact", 1.0)


class SpreadPlugin:
    @tlkit.hookimpl
    def tlkit_register_targets(self, register):
        register("spread", SpreadTarget, description="d-dependent degree energy")


def run_spread_comparison(host, out, monkeypatch, grid):
    """The fake comparison on the d-dependent target over ``grid``: (summary, figure)."""
    host.add_plugin(SpreadPlugin(), name="spread", version="0.0")
    host.ensure_registered()
    repro = fake_comparison_repro()
    spec = copy.deepcopy(dict(repro.specs["small"]))
    spec["base"]["target"] = {"name": "spread", "params": {"d": 8}}
    spec["grid"] = grid
    repro = dataclasses.replace(repro, specs={"small": spec, "full": spec}, plateau_degree=1)
    figures = []
    monkeypatch.setattr(
        reproduce_plotting, "save_figure", lambda fig, path: figures.append(fig) or Path(path)
    )
    try:
        summary = run_reproduction(repro, out, small=True, host=host, quiet=True, echo=quiet)
    finally:
        host.remove_plugin("spread")
    (fig,) = figures
    return summary, fig


def dashed_lines(fig):
    return [
        [ln.get_ydata()[0] for ln in ax.get_lines() if ln.get_linestyle() == "--"]
        for ax in fig.axes
    ]


def test_comparison_over_d_draws_a_panel_and_a_plateau_per_d(host, tmp_path, monkeypatch):
    grid = {"target.d": [4, 8], "n_train": [2, 16]}
    summary, fig = run_spread_comparison(host, tmp_path / "d", monkeypatch, grid)
    plateaus = summary["theory"]["kernel_plateau"]
    assert {d: p["share"] for d, p in plateaus.items()} == {"4": 0.75, "8": 0.875}
    assert [ax.get_title().splitlines()[-1] for ax in fig.axes] == ["d = 4", "d = 8"]
    # each panel's dashed line sits at its own d's share above degree 1
    assert dashed_lines(fig) == [[0.75], [0.875]]
    # one legend for the whole figure, the learner's colour shared by both panels
    assert [ax.get_legend() is not None for ax in fig.axes] == [True, False]
    colours = {ax.get_lines()[0].get_color() for ax in fig.axes}
    assert len(colours) == 1


def test_comparison_over_d_and_another_axis_reports_plateaus_but_draws_none(
    host, tmp_path, monkeypatch
):
    grid = {"target.d": [4, 8], "trainer.ridge": [0.0, 0.5], "n_train": [2, 16]}
    summary, fig = run_spread_comparison(host, tmp_path / "d", monkeypatch, grid)
    plateaus = summary["theory"]["kernel_plateau"]
    assert {d: p["share"] for d, p in plateaus.items()} == {"4": 0.75, "8": 0.875}
    # one panel, lines for every (learner, d, ridge): no single plateau to draw
    assert dashed_lines(fig) == [[]]


def test_method_curves_labels_pairs_and_baselines():
    n = [1, 2]
    nan = np.nan
    values = np.array([[[0.5, 0.4], [nan, nan]], [[nan, nan], [0.9, 0.8]]])  # arch, trainer, n
    base = np.array([[[0.7, 0.6], [nan, nan]], [[nan, nan], [0.7, 0.6]]])
    coords = {"arch": ["three", "two"], "trainer": ["lw", "os"], "n_train": n}
    ds = xr.Dataset(
        {
            "test_normalized_mse": (("arch", "trainer", "n_train"), values),
            "kernel_ridge_normalized_mse": (("arch", "trainer", "n_train"), base),
        },
        coords=coords,
    )
    curves = method_curves(ds, "test_normalized_mse", {"kernel_ridge_normalized_mse": "kernel"})
    assert list(curves["learner"].values) == ["three / lw", "two / os", "kernel"]
    np.testing.assert_allclose(curves.sel(learner="two / os").values, [0.9, 0.8])
    np.testing.assert_allclose(curves.sel(learner="kernel").values, [0.7, 0.6])
    assert method_curves(ds, "absent") is None


def test_method_curves_labels_named_variants_by_name():
    # two variants share (arch, trainer): each is its own learner, named as in the sweep
    values = np.array([[[[0.5, 0.4], [0.9, 0.8]]]])  # arch, trainer, variant, n
    ds = xr.Dataset(
        {"test_normalized_mse": (("arch", "trainer", "variant", "n_train"), values)},
        coords={
            "arch": ["three"],
            "trainer": ["lw"],
            "variant": ["relu", "he3"],
            "n_train": [1, 2],
        },
    )
    curves = method_curves(ds, "test_normalized_mse")
    assert list(curves["learner"].values) == ["relu", "he3"]
    np.testing.assert_allclose(curves.sel(learner="he3").values, [0.9, 0.8])


def test_kernel_plateau_uses_the_target_degree_energy(host):
    spec = {"seeds": [4], "base": {"target": {"name": "linear", "params": {"d": 5}}}}
    plateau = kernel_plateau(spec, host, degree=0)
    # degree 0 keeps nothing of a linear teacher: the whole variance is left
    assert plateau["share"] == pytest.approx(1.0)
    assert plateau["method"] == "exact"


# -- the command ---------------------------------------------------------------------------
def make_cli():
    @click.group(cls=TlkitGroup)
    def group() -> None:
        pass

    for command in COMMANDS:
        group.add_command(command)
    return group


def test_cli_list():
    result = CliRunner().invoke(make_cli(), ["reproduce", "--list"])
    assert result.exit_code == 0
    for name in EXPECTED:
        assert name in result.output


def test_cli_unknown_name_exit_2():
    result = CliRunner().invoke(make_cli(), ["reproduce", "nope"])
    assert result.exit_code == 2
    assert "unknown reproduction 'nope'; available: single-index" in result.output


def test_cli_missing_name_exit_2():
    result = CliRunner().invoke(make_cli(), ["reproduce"])
    assert result.exit_code == 2
    assert "missing reproduction NAME" in result.output


def test_cli_bad_bootstrap_exit_2():
    result = CliRunner().invoke(make_cli(), ["reproduce", "single-index", "--bootstrap", "0"])
    assert result.exit_code == 2
    assert "--bootstrap must be >= 1, got 0" in result.output


def test_cli_show_config_is_the_packaged_toml():
    import tomllib

    result = CliRunner().invoke(
        make_cli(), ["reproduce", "quadratic-d16", "--small", "--show-config"]
    )
    assert result.exit_code == 0
    assert tomllib.loads(result.output) == get_reproduction("quadratic-d16").spec(True)


def test_cli_runs_a_reproduction(host, tmp_path, monkeypatch):
    import tlkit.reproduce as module

    repro = fake_comparison_repro()
    monkeypatch.setitem(module.REPRODUCTIONS, repro.name, repro)
    out = tmp_path / "cli"
    result = CliRunner().invoke(
        make_cli(), ["reproduce", repro.name, "--small", "--quiet", "--out", str(out)], obj=host
    )
    assert result.exit_code == 0, result.output
    assert "linear-net / lstsq" in result.output
    assert (out / "fake-comparison.png").is_file() and (out / "summary.json").is_file()


# -- one small real run ---------------------------------------------------------------------
@pytest.mark.slow
def test_real_quadratic_comparison(tmp_path):
    """Three-layer (m2 = inf) vs kernel ridge on the quadratic feature at d = 8."""
    from tlkit.plugins import PluginHost

    spec = {
        "seeds": [0, 1],
        "base": {
            "target": {"name": "quadratic-feature", "params": {"d": 8}},
            "arch": {"name": "three-layer", "params": {"m2": "none"}},
            "trainer": "layer-wise",
            "n_val": 1024,
            "n_test": 2048,
            "probes": ["test", "feature", "kernel-ridge"],
        },
        "grid": {"n_train": [256, 2048]},
    }
    repro = Reproduction(
        name="real-small",
        title="real small",
        prediction="-",
        metrics=("test_normalized_mse", "feature_corr"),
        baselines={"kernel_ridge_normalized_mse": "kernel"},
        plateau=True,
        specs={"small": spec, "full": spec},
    )
    summary = run_reproduction(repro, tmp_path / "real", small=True, host=PluginHost(), echo=quiet)
    mse = summary["tables"]["test_normalized_mse"]
    net = mse["three-layer / layer-wise"]
    assert net[2048] < net[256]
    assert set(mse) == {"three-layer / layer-wise", "kernel"}
    corr = summary["tables"]["feature_corr"]["three-layer / layer-wise"]
    assert corr[2048] > 0.9
    share = summary["theory"]["kernel_plateau"]["share"]
    assert 0.0 < share < 1.0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--list", "single-index"], "error: --list lists every reproduction and takes no NAME"),
        (["--list", "--show-config"], "error: give --list or --show-config, not both"),
    ],
)
def test_cli_list_with_other_requests_is_refused(args, message):
    result = CliRunner().invoke(make_cli(), ["reproduce", *args])
    assert result.exit_code == 2
    assert result.output.strip().startswith(message), result.output
    assert len(result.output.strip().splitlines()) == 1
