"""`tlkit plot` and `tlkit threshold` on synthetic sweep results."""

from __future__ import annotations

import json

import numpy as np
import pytest
import xarray as xr
from click.testing import CliRunner
from tlkit.cli import TlkitGroup
from tlkit.errors import TlkitError
from tlkit.plotting import plot_grid, plot_metrics
from tlkit.results import save_dataset
from tlkit.sweep_cli import COMMANDS

N_GRID = [2**k for k in range(2, 12)]
D_VALUES = [8, 16, 32]


def sweep_like() -> xr.Dataset:
    """A sparse arch x trainer grid (two variants), like a real sweep's results.

    feature_corr = clip(log2 n - log2 d^p + offset, 0, 1) with p = 1 (two-layer)
    and p = 2 (three-layer), offsets -0.2, 0, 0.2 over 3 seeds.
    """
    archs, trainers = ["two-layer", "three-layer"], ["one-step", "layer-wise"]
    shape = (2, 2, len(D_VALUES), len(N_GRID), 3)
    corr = np.full(shape, np.nan)
    mse = np.full(shape, np.nan)
    logn = np.log2(N_GRID)[None, :, None]
    logd = np.log2(D_VALUES)[:, None, None]
    off = np.array([-0.2, 0.0, 0.2])[None, None, :]
    for i, p in ((0, 1.0), (1, 2.0)):
        z = logn - p * logd + off
        corr[i, i] = z
        mse[i, i] = 2.0 ** (-z)
    status = np.where(np.isnan(corr), "", "ok").astype(object)
    dims = ("arch", "trainer", "d", "n_train", "seed")
    ds = xr.Dataset(
        {
            "feature_corr": (dims, corr, {"long_name": "corr(phi, h*)"}),
            "test_normalized_mse": (dims, mse, {"long_name": "normalized test MSE"}),
            "fit_status": (dims, status),
        },
        coords={
            "arch": archs,
            "trainer": trainers,
            "d": D_VALUES,
            "n_train": N_GRID,
            "seed": [0, 1, 2],
        },
    )
    return ds


@pytest.fixture
def invoke(host):
    group = TlkitGroup("tlkit")
    for command in COMMANDS:
        group.add_command(command)
    runner = CliRunner()

    def _invoke(*args):
        return runner.invoke(group, [str(a) for a in args], obj=host, catch_exceptions=False)

    return _invoke


@pytest.fixture
def results_file(tmp_path):
    return save_dataset(sweep_like(), tmp_path / "results.nc")


def test_plot_grid_draws_median_and_band_per_curve():
    ds = sweep_like()
    fig = plot_grid(ds, ["feature_corr", "test_normalized_mse"], col="d", title="the figure")
    assert len(fig.axes) == 2 * len(D_VALUES)
    # the figure's title stays the one given (a panel title once overwrote it)
    assert fig._suptitle.get_text() == "the figure\nlines: median over 3 seeds; bands: min–max"
    assert fig.axes[-1].get_title().endswith(f"d = {D_VALUES[-1]}")
    ax = fig.axes[1]  # feature_corr, d = 16
    lines = {line.get_label(): line for line in ax.get_lines()}
    assert set(lines) == {"two-layer", "three-layer"}  # empty arch/trainer pairs left out
    # independent reference: numpy median over the seed axis of the raw array
    expected = np.median(ds["feature_corr"].values[1, 1, 1], axis=-1)
    np.testing.assert_allclose(lines["three-layer"].get_ydata(), expected)
    np.testing.assert_allclose(lines["three-layer"].get_xdata(), N_GRID)
    assert ax.get_xscale() == "log" and fig.axes[4].get_yscale() == "log"
    # the min-max band spans the extreme seeds
    band = ax.collections[1].get_paths()[0].vertices[:, 1]
    raw = ds["feature_corr"].values[1, 1, 1]
    assert band.min() == pytest.approx(raw.min()) and band.max() == pytest.approx(raw.max())


def test_plot_metrics_keeps_its_signature():
    ds = sweep_like().sel(trainer="layer-wise", d=8, arch=["three-layer"])
    fig = plot_metrics(ds, ["feature_corr"], hue="arch")
    assert len(fig.axes) == 1 and len(fig.axes[0].get_lines()) == 1


@pytest.mark.parametrize("suffix", [".png", ".svg"])
def test_cli_plot_writes_png_and_svg(invoke, results_file, tmp_path, suffix):
    out = tmp_path / f"fig{suffix}"
    result = invoke("plot", results_file, "--col", "d", "--out", out)
    assert result.exit_code == 0, result.output
    head = out.read_bytes()[:400]
    assert head.startswith(b"\x89PNG") if suffix == ".png" else b"<svg" in head


def test_cli_plot_default_output_and_errors(invoke, results_file, tmp_path):
    assert invoke("plot", results_file).exit_code == 0
    assert (tmp_path / "results.png").is_file()
    bad = invoke("plot", results_file, "--y", "nope")
    assert bad.exit_code == 2
    assert bad.stderr.strip() == (
        "error: unknown metric 'nope'; available: feature_corr, test_normalized_mse"
    )
    bad = invoke("plot", results_file, "--col", "width")
    assert bad.stderr.startswith("error: --col 'width' is not a dimension; available: arch")
    bad = invoke("plot", results_file, "--out", tmp_path / "fig.jpg")
    assert bad.stderr.strip() == "error: --out must end in .png or .svg, got 'fig.jpg'"
    missing = invoke("plot", tmp_path / "none.nc")
    assert missing.stderr.strip() == f"error: results file not found: {tmp_path / 'none.nc'}"


def test_cli_threshold_reports_exponents_one_and_two(invoke, results_file):
    result = invoke(
        "threshold",
        results_file,
        "--metric",
        "feature_corr",
        "--level",
        "0",
        "--bootstrap",
        "200",
        "--json",
    )
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    # curves only for the pairs that ran; threshold = d^p exactly (median offset 0)
    assert len(out["thresholds"]) == 2 * len(D_VALUES)
    for rec in out["thresholds"]:
        p = 1 if rec["arch"] == "two-layer" else 2
        assert rec["threshold"] == pytest.approx(rec["d"] ** p, rel=1e-12)
    slopes = {(f["group"]["arch"], f["group"]["trainer"]): f for f in out["fits"]}
    assert set(slopes) == {("two-layer", "one-step"), ("three-layer", "layer-wise")}
    assert slopes["two-layer", "one-step"]["slope"] == pytest.approx(1.0, abs=1e-12)
    assert slopes["three-layer", "layer-wise"]["slope"] == pytest.approx(2.0, abs=1e-12)
    text = invoke(
        "threshold",
        results_file,
        "--metric",
        "test_normalized_mse",
        "--level",
        "1",
        "--below",
        "--bootstrap",
        "50",
    )
    assert "slope of log2 threshold vs log2 d (arch=three-layer, trainer=layer-wise): 2.000" in (
        text.stdout
    )


def test_cli_threshold_errors(invoke, results_file):
    bad = invoke("threshold", results_file, "--metric", "nope", "--level", "0.9")
    assert bad.exit_code == 2
    assert bad.stderr.startswith("error: unknown metric 'nope'; available: ")
    bad = invoke(
        "threshold", results_file, "--metric", "feature_corr", "--level", "0.9", "--bootstrap", "0"
    )
    assert bad.stderr.strip() == "error: --bootstrap must be >= 1, got 0"


def test_cli_plot_columns_by_the_default_hue_and_fit_variables(invoke, results_file, tmp_path):
    ds = sweep_like()
    ds["fit_layer_wise_stage1_step_size"] = ds["feature_corr"] * 0 + 0.5
    save_dataset(ds, tmp_path / "fit.nc")
    assert invoke("plot", results_file, "--col", "arch", "--out", tmp_path / "a.png").exit_code == 0
    result = invoke(
        "plot",
        tmp_path / "fit.nc",
        "--y",
        "fit_layer_wise_stage1_step_size",
        "--out",
        tmp_path / "b.png",
    )
    assert result.exit_code == 0, result.output
    bad = invoke("plot", tmp_path / "fit.nc", "--y", "fit_status")
    assert bad.exit_code == 2 and "error: --y 'fit_status' is not numeric" in bad.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("plot", "--x", "arch"), "error: --x 'arch' is not numeric; numeric dimensions: d, "),
        (("plot", "--hue", "bogus"), "error: --hue 'bogus' is not a dimension; available: arch"),
        (("plot", "--x", "d", "--col", "d"), "error: --x, --hue and --col must be different"),
        (("threshold", "--metric", "feature_corr", "--level", "0.5", "--x", "seed"), "--x 'seed'"),
        (("threshold", "--metric", "feature_corr", "--level", "0.5", "--x", "arch"), "not numeric"),
        (("threshold", "--metric", "feature_corr", "--level", "nan"), "--level must be finite"),
        (
            ("threshold", "--metric", "feature_corr", "--level", "0.5", "--across", "bogus"),
            "error: --across 'bogus' is not a dimension",
        ),
    ],
)
def test_cli_bad_dimensions_are_one_line(invoke, results_file, tmp_path, args, message):
    before = sorted(tmp_path.iterdir())
    bad = invoke(args[0], results_file, *args[1:])
    assert bad.exit_code == 2 and len(bad.stderr.strip().splitlines()) == 1, bad.output
    assert message in bad.stderr
    assert sorted(tmp_path.iterdir()) == before


def test_cli_threshold_json_is_strict_and_says_what_each_number_is(invoke, results_file):
    def strict(text):
        def refuse(constant):
            raise AssertionError(f"not JSON: {constant}")

        return json.loads(text, parse_constant=refuse)

    base = ("threshold", results_file, "--metric", "feature_corr", "--bootstrap", "20", "--json")
    never = strict(invoke(*base, "--level", "1e9").stdout)
    assert {(r["threshold"], r["status"]) for r in never["thresholds"]} == {(None, "not reached")}
    assert all(f["slope"] is None for f in never["fits"])
    at_once = strict(invoke(*base, "--level", "-1e9").stdout)
    assert {r["status"] for r in at_once["thresholds"]} == {"upper bound"}
    crossed = strict(invoke(*base, "--level", "0").stdout)
    assert {r["status"] for r in crossed["thresholds"]} == {"crossed"}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ("threshold", "--metric", "feature_corr", "--level", "0.5", "--above", "--below"),
            "error: give --above or --below, not both",
        ),
        (
            ("threshold", "--metric", "feature_corr", "--level", "0.5", "--seed", "-1"),
            "error: --seed must be >= 0, got -1",
        ),
        (
            ("threshold", "--metric", "feature_corr", "--level", "0.5", "--across", "n_train"),
            "error: --across 'n_train' is also --x",
        ),
        (
            (
                "threshold",
                "--metric",
                "feature_corr",
                "--level",
                "0.5",
                "--x",
                "d",
                "--across",
                "d",
            ),
            "error: --across 'd' is also --x",
        ),
        (("plot", "--x", "seed"), "error: --x 'seed' is the dimension the median is taken over"),
    ],
)
def test_cli_contradictory_or_meaningless_options_are_one_line(
    invoke, results_file, tmp_path, args, message
):
    before = sorted(tmp_path.iterdir())
    bad = invoke(args[0], results_file, *args[1:])
    assert bad.exit_code == 2 and len(bad.stderr.strip().splitlines()) == 1, bad.output
    assert bad.stderr.startswith(message), bad.stderr
    assert sorted(tmp_path.iterdir()) == before


def test_cli_threshold_below_alone_still_works(invoke, results_file):
    result = invoke(
        "threshold", results_file, "--metric", "test_normalized_mse", "--level", "0.5", "--below"
    )
    assert result.exit_code == 0, result.output
    assert "median test_normalized_mse <= 0.5" in result.stdout


def test_a_metric_with_no_values_is_one_line(invoke, tmp_path):
    # a two-layer-only grid: the feature probe measured nothing
    ds = sweep_like().isel(arch=[0], trainer=[0])
    ds["feature_corr"][:] = np.nan
    path = save_dataset(ds, tmp_path / "two.nc")
    bad = invoke("threshold", path, "--metric", "feature_corr", "--level", "0.5")
    assert bad.exit_code == 2 and len(bad.stderr.strip().splitlines()) == 1, bad.output
    assert bad.stderr.startswith(f"error: --metric 'feature_corr' has no values in {path}")
    bad = invoke("plot", path, "--y", "feature_corr", "--out", tmp_path / "f.png")
    assert bad.exit_code == 2 and bad.stderr.startswith("error: --y 'feature_corr' has no values")
    assert not (tmp_path / "f.png").exists()
    # the default metrics leave out the one without values instead of an empty panel row
    result = invoke("plot", path, "--out", tmp_path / "g.png")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "g.png").is_file()


def test_a_line_keeps_its_colour_in_every_panel_and_the_figure_says_what_lines_are():

    rng = np.random.default_rng(0)
    shape = (2, 3, 2, 2)  # arch, n_train, seed, width
    coords = {
        "arch": ["two-layer", "three-layer"],
        "n_train": [256, 512, 1024],
        "seed": [0, 1],
        "width": [64, 512],
    }
    dims_ = list(coords)
    values = rng.uniform(0.1, 1.0, shape)
    values[0, :, :, 0] = np.nan  # a combination the sweep never ran (sparse grid)
    ds = xr.Dataset(
        {m: (dims_, values + i) for i, m in enumerate(["test_mse", "feature_corr"])},
        coords=coords,
    )
    fig = plot_grid(ds, ["test_mse", "feature_corr"], hue="arch")
    by_panel = [{line.get_label(): line.get_color() for line in ax.get_lines()} for ax in fig.axes]
    assert set(by_panel[0]) == set(by_panel[1]) and len(by_panel[0]) == 3
    assert by_panel[0] == by_panel[1]
    assert len(set(by_panel[0].values())) == 3
    assert "lines: median over 2 seeds; bands: min–max" in fig._suptitle.get_text()


def test_cli_threshold_of_an_error_falls_to_the_level_unless_told(invoke, results_file):
    args = ("threshold", results_file, "--metric", "test_normalized_mse", "--level", "0.5")
    inferred, told_below, told_above = (
        invoke(*args),
        invoke(*args, "--below"),
        invoke(*args, "--above"),
    )
    assert inferred.exit_code == 0, inferred.output
    assert "median test_normalized_mse <= 0.5 (an error: --below assumed)" in inferred.stdout
    # the same thresholds as --below (the first line, the direction, differs)
    assert inferred.stdout.splitlines()[1:] == told_below.stdout.splitlines()[1:]
    assert "median test_normalized_mse >= 0.5" in told_above.stdout
    corr = invoke("threshold", results_file, "--metric", "feature_corr", "--level", "0.5")
    assert "median feature_corr >= 0.5" in corr.stdout  # not an error: --above stays


def test_a_per_layer_metric_is_plotted_a_panel_per_layer_and_the_error_says_so():
    ds = sweep_like()
    layers = ["h1", "h2"]
    values = np.stack([ds["feature_corr"].values, ds["feature_corr"].values / 2], axis=-1)
    ds["cka_alignment_h"] = (("arch", "trainer", "d", "n_train", "seed", "layer"), values)
    ds = ds.assign_coords(layer=layers).sel(d=8)
    import matplotlib.pyplot as plt

    open_figures = len(plt.get_fignums())
    with pytest.raises(TlkitError) as caught:
        plot_grid(ds, ["cka_alignment_h"])
    assert str(caught.value).endswith(
        "give its 'layer' dimension a panel each (--col layer) or select one value"
    )
    assert len(plt.get_fignums()) == open_figures  # the refused figure was closed
    fig = plot_grid(ds, ["cka_alignment_h"], col="layer")
    assert len(fig.axes) == len(layers)
    plt.close(fig)
