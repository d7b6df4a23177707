"""Named reproductions of the papers' claims: ``tlkit reproduce NAME [--small]``.

A reproduction is a sweep config shipped with tlkit (``tlkit/reproductions/NAME.toml``
and its small variant ``NAME.small.toml``, both plain ``tlkit sweep`` configs), plus
what to draw from the sweep's results and which numbers to compute:

* a *threshold* reproduction fits, per group of curves (e.g. per σ2), the smallest n at
  which the median of a metric crosses a level, against d on log-log axes
  (:func:`tlkit.threshold.scaling`), and sets the slope beside theory's exponent;
* a *comparison* reproduction puts networks and baselines (probe variables such as
  ``kernel_ridge_normalized_mse``) on the same axes as *methods*, and tabulates the
  median over seeds per n.

Everything a figure shows is read from the sweep's ``results.nc``; the sweep directory
is resumable, so rerunning the command only redraws. See docs/reproductions/.
"""

from __future__ import annotations

import copy
import dataclasses
import itertools
import json
import math
import textwrap
import tomllib
from collections.abc import Callable, Iterator, Mapping, Sequence
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from tlkit import dims
from tlkit.atomic import atomic_file
from tlkit.errors import TlkitError
from tlkit.plugins import PluginHost

Echo = Callable[[str], None]
METHOD = "learner"
SUMMARY_FILE = "summary.json"


@dataclasses.dataclass(frozen=True)
class ThresholdCheck:
    """How to turn a sweep into a threshold-vs-d scaling check.

    Attributes:
        metric: results variable, e.g. ``feature_corr``.
        level: the level the median over seeds must cross.
        above: ``True``: metric >= level (correlations); ``False``: <= level (errors).
        predicted: group label -> theory's exponent as text (``"*"``: every group).
        reference_slopes: group label -> exponent drawn as a dashed reference line.
    """

    metric: str
    level: float
    above: bool = True
    predicted: Mapping[str, str] = dataclasses.field(default_factory=dict)
    reference_slopes: Mapping[str, float] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class Reproduction:
    """One named reproduction.

    Attributes:
        name: the command-line name.
        title: one line, used as figure title.
        prediction: theory's prediction, one line (SCIENCE.md §5).
        metrics: the metrics plotted against n (one panel each).
        threshold: a threshold-vs-d check, or ``None`` for a comparison.
        baselines: probe variable -> method label (comparisons: extra lines).
        plateau: draw and report the kernel plateau (share of Var f* above degree
            ``plateau_degree``, from the target's ``degree_energy``).
        plateau_degree: the degree kept by kernels in the sampled range of n.
        trivial_line: draw the trivial error (normalized MSE 1, predicting E f*).
        full_runtime: estimated or measured runtime of the full version (text).
        specs: inline sweep specs ``{"small": ..., "full": ...}`` instead of the
            packaged TOML files (tests and user-defined reproductions).
    """

    name: str
    title: str
    prediction: str
    metrics: tuple[str, ...]
    threshold: ThresholdCheck | None = None
    baselines: Mapping[str, str] = dataclasses.field(default_factory=dict)
    plateau: bool = False
    plateau_degree: int = 2
    trivial_line: bool = False
    full_runtime: str = "not measured"
    specs: Mapping[str, Mapping[str, Any]] | None = None

    def spec_file(self, small: bool) -> str:
        """File name of the packaged sweep config (inside ``tlkit/reproductions``)."""
        return f"{self.name}.small.toml" if small else f"{self.name}.toml"

    def spec(self, small: bool) -> dict[str, Any]:
        """The sweep spec (a dict ready for :func:`tlkit.sweep`)."""
        key = "small" if small else "full"
        if self.specs is not None:
            return copy.deepcopy(dict(self.specs[key]))
        text = resources.files("tlkit").joinpath("reproductions", self.spec_file(small))
        return tomllib.loads(text.read_text(encoding="utf-8"))


_CORR = ("feature_corr", "test_normalized_mse")

REPRODUCTIONS: dict[str, Reproduction] = {
    r.name: r
    for r in (
        Reproduction(
            name="single-index",
            title="single index: n where corr(φ̂, h*) reaches 0.9 against d",
            prediction="threshold n* ∝ d (log-log slope ≈ 1) [paper v3: Θ̃(d)]",
            metrics=_CORR,
            threshold=ThresholdCheck(
                "feature_corr", 0.9, predicted={"*": "1"}, reference_slopes={"*": 1.0}
            ),
            full_runtime="measured: 17 min wall on 2 CPU cores (45 cells of 5 seeds)",
        ),
        Reproduction(
            name="quadratic-d16",
            title="quadratic feature, d = 16: three-layer vs two-layer vs kernels",
            prediction=(
                "Algorithm 1 keeps improving with n; kernel methods plateau near the "
                "share of Var f* above degree 2 for d² ≲ n ≪ d⁴ [theory]"
            ),
            metrics=("test_normalized_mse", "feature_corr"),
            baselines={"kernel_ridge_normalized_mse": "kernel ridge (NNGP of σ2)"},
            plateau=True,
            full_runtime="measured: 43 min wall on 2 CPU cores (28 cells of 5 seeds)",
        ),
        Reproduction(
            name="quadratic-scaling",
            title="quadratic feature: n where corr(φ̂, h*) reaches 0.9 against d",
            prediction=(
                "n* ∝ d² for σ2 = |z| − √(2/π) (c1 = 0) [paper v3]; clearly faster growth for "
                "ReLU σ2 (≈ d³ by the theory probe's rule [recon])"
            ),
            metrics=_CORR,
            threshold=ThresholdCheck(
                "feature_corr",
                0.9,
                predicted={"abs": "2", "relu": "> 2 (≈ 3 [recon])"},
                reference_slopes={"abs": 2.0, "relu": 3.0},
            ),
            full_runtime="measured: 54 min wall on 2 CPU cores (110 cells of 5 seeds)",
        ),
        Reproduction(
            name="depth-separation",
            title="depth separation (classical Daniely construction, not the paper's)",
            prediction=(
                "three-layer learns with poly(d) samples; two-layer nets trained by GD stay "
                "near the trivial error [paper, for its own construction]"
            ),
            metrics=("test_normalized_mse", "feature_corr"),
            trivial_line=True,
            plateau=True,
            full_runtime="measured: 55 min wall on 2 CPU cores (54 cells of 5 seeds)",
        ),
        Reproduction(
            name="wang-hierarchical",
            title="Wang et al. hierarchical polynomial: joint Adam and Algorithm 1",
            prediction=(
                "three-layer nets learn p^3 (deg p = 3) with Õ(d³) samples; kernels need "
                "Θ̃(d⁹) [Wang et al.]; the learned feature φ̂ recovers p [Wang et al.]"
            ),
            metrics=("test_normalized_mse", "feature_corr"),
            trivial_line=True,
            full_runtime=(
                "measured: the 24 joint-Adam cells 4 min on one H200 GPU (estimated 7.5 h "
                "on 2 CPU cores), the 48 Algorithm-1 cells 4.4 min on 2 CPU cores"
            ),
        ),
    )
}


def get_reproduction(name: str) -> Reproduction:
    """The reproduction called ``name``.

    Raises:
        TlkitError: ``unknown reproduction 'x'; available: ...``.
    """
    try:
        return REPRODUCTIONS[name]
    except KeyError:
        raise TlkitError(
            f"unknown reproduction {name!r}; available: {', '.join(REPRODUCTIONS)}"
        ) from None


# -- running ----------------------------------------------------------------------
def run_reproduction(
    repro: Reproduction | str,
    out: str | Path,
    *,
    small: bool = False,
    host: PluginHost | None = None,
    quiet: bool = False,
    force: bool = False,
    n_boot: int = 1000,
    echo: Echo = print,
    variants: Sequence[str] | None = None,
    save_runs: bool = False,
) -> dict[str, Any]:
    """Run (or resume) a reproduction's sweep, draw its figures, print its numbers.

    Args:
        repro: a :class:`Reproduction` or its name.
        out: sweep directory; figures and ``summary.json`` are written into it.
        small: the small variant (minutes on 2 CPU cores).
        host: plugin host (default: the installed plugins).
        quiet: one log line per cell instead of a progress bar.
        force: discard results of a different config in ``out``.
        n_boot: bootstrap resamples for threshold slopes.
        echo: where tables and messages go.
        variants: run only these variants' cells (see :func:`tlkit.sweeps.sweep`);
            the figures and tables show every finished cell.
        save_runs: also keep every trained run (see :func:`tlkit.sweeps.sweep`), for
            ``tlkit analyze OUT`` with other probes later.

    Returns:
        The summary (also written to ``out/summary.json``): measured numbers beside
        theory's predictions, and the figure paths.
    """
    from tlkit.plugins import get_host
    from tlkit.sweeps import sweep

    if isinstance(repro, str):
        repro = get_reproduction(repro)
    host = host or get_host()
    out = Path(out)
    spec = repro.spec(small)
    result = sweep(
        spec,
        out,
        host=host,
        force=force,
        progress="log" if quiet else "bar",
        variants=variants,
        save_runs=save_runs,
    )
    if result.results is None:
        raise TlkitError(f"every cell of {repro.name!r} failed: {result.errors}")
    ds, errors, sweep_line = result.results, dict(result.errors), result.summary()
    summary: dict[str, Any] = {
        "name": repro.name,
        "variant": "small" if small else "full",
        "prediction": repro.prediction,
        "sweep": sweep_line,
        "failed_cells": errors,
        "failed_cells_selected": sorted(result.selected_errors),
    }
    echo(f"{repro.name} ({summary['variant']}): {repro.title}")
    echo(f"theory: {repro.prediction}")
    if repro.threshold is not None:
        summary.update(_threshold_summary(repro, ds, out, n_boot, echo))
    else:
        summary.update(_comparison_summary(repro, ds, spec, out, host, echo))
    echo("")
    echo(sweep_line)
    for cell_id, why in errors.items():
        echo(f"  failed: {cell_id}: {why}")
    with atomic_file(out / SUMMARY_FILE) as tmp:
        tmp.write_text(json.dumps(_jsonable(summary), indent=2, allow_nan=False) + "\n")
    echo(f"results: {out / 'results.nc'}\nsummary: {out / SUMMARY_FILE}")
    for path in summary["figures"]:
        echo(f"figure:  {path}")
    return summary


# -- threshold reproductions ------------------------------------------------------
def _group_label(group: Mapping[str, Any], varying: Sequence[str]) -> str:
    keys = [k for k in varying if k in group] or list(group)
    return ", ".join(str(group[k]) for k in keys) or "all"


def _lookup(table: Mapping[str, Any], label: str) -> Any:
    return table.get(label, table.get("*"))


def _threshold_summary(
    repro: Reproduction, ds: xr.Dataset, out: Path, n_boot: int, echo: Echo
) -> dict[str, Any]:
    from tlkit.plotting import plot_grid, save_figure
    from tlkit.threshold import scaling

    check = repro.threshold
    assert check is not None
    fits = scaling(ds, check.metric, check.level, above=check.above, n_boot=n_boot)
    varying = [
        k for k in (fits[0].group if fits else {}) if len({str(f.group[k]) for f in fits}) > 1
    ]
    rows = []
    n_min = float(ds[dims.N_TRAIN].min())
    direction = ">=" if check.above else "<="
    echo(f"\nthreshold: smallest n_train with median {check.metric} {direction} {check.level:g}")
    for fit in fits:
        label = _group_label(fit.group, varying)
        predicted = _lookup(check.predicted, label)
        rows.append(
            {
                "group": label,
                "d": fit.d,
                "threshold": fit.threshold,
                "censored": [t <= n_min for t in fit.threshold],
                "slope": fit.slope,
                "ci": list(fit.ci),
                "n_boot_valid": fit.n_boot_valid,
                "predicted_slope": predicted,
            }
        )
        points = ", ".join(
            f"d={int(d)}: {_fmt_threshold(t, n_min)}"
            for d, t in zip(fit.d, fit.threshold, strict=True)
        )
        echo(f"  {label}: {points}")
        echo(
            f"  {label}: slope {fit.slope:.2f} [{fit.ci[0]:.2f}, {fit.ci[1]:.2f}] "
            f"(95% bootstrap over seeds, {fit.n_boot_valid}/{fit.n_boot} defined); "
            f"theory: {predicted or '-'}"
        )
    hue = varying[0] if varying else None
    metrics = [m for m in repro.metrics if m in ds]
    fig = plot_grid(ds, metrics, hue=hue, col=dims.D, title=repro.title)
    for ax in fig.axes[: len(ds[dims.D])] if check.metric == metrics[0] else []:
        ax.axhline(check.level, color="grey", linestyle=":", linewidth=1)
    curves = save_figure(fig, out / f"{repro.name}.png")
    scaling_fig = save_figure(
        _scaling_figure(repro, fits, varying, (n_min, float(ds[dims.N_TRAIN].max()))),
        out / f"{repro.name}-threshold.png",
    )
    return {"thresholds": rows, "figures": [str(curves), str(scaling_fig)]}


def _fmt_threshold(value: float, n_min: float) -> str:
    if math.isnan(value):
        return "not reached"
    if value <= n_min:
        return f"<= {value:g}"
    return f"{value:.0f}"


def _scaling_figure(
    repro: Reproduction,
    fits: Sequence[Any],
    varying: Sequence[str],
    n_range: tuple[float, float],
) -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    check = repro.threshold
    assert check is not None
    n_min, n_max = n_range
    fig, ax = plt.subplots(figsize=(6.4, 4.6))
    for fit in fits:
        label = _group_label(fit.group, varying)
        d = np.asarray(fit.d, dtype=float)
        t = np.asarray(fit.threshold, dtype=float)
        ok = np.isfinite(t)
        uncensored = ok & (t > n_min)
        (handle,) = ax.plot(d[uncensored], t[uncensored], "o", label=f"{label}: measured")
        color = handle.get_color()
        # bounds, not points: never reached by the largest n, or reached at the smallest
        if (~ok).any():
            ax.plot(
                d[~ok],
                np.full((~ok).sum(), n_max),
                "^",
                color=color,
                fillstyle="none",
                label=f"{label}: not reached by n = {n_max:g} (lower bound)",
            )
        if (ok & ~uncensored).any():
            ax.plot(
                d[ok & ~uncensored],
                t[ok & ~uncensored],
                "v",
                color=color,
                fillstyle="none",
                label=f"{label}: reached at the smallest n (upper bound)",
            )
        if math.isfinite(fit.slope):
            grid = np.geomspace(d.min(), d.max(), 20)
            ax.plot(
                grid,
                2.0**fit.intercept * grid**fit.slope,
                color=color,
                label=f"{label}: fit, slope {fit.slope:.2f}",
            )
        ref = _lookup(check.reference_slopes, label)
        if ref is not None and ok.any():
            # anchored at the first measured point: only the slope is theory's
            d0, t0 = d[ok][0], t[ok][0]
            grid = np.geomspace(d.min(), d.max(), 20)
            ax.plot(
                grid,
                t0 * (grid / d0) ** ref,
                color=color,
                linestyle="--",
                alpha=0.6,
                label=f"{label}: d^{ref:g} (theory)",
            )
    ax.set_xscale("log", base=2)
    ax.set_yscale("log", base=2)
    ax.set_xlabel("d")
    direction = "≥" if check.above else "≤"
    ax.set_ylabel(f"n where median {check.metric} {direction} {check.level:g}")
    ax.set_title(repro.title, fontsize=9)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize="small")
    fig.tight_layout()
    return fig


# -- comparison reproductions -----------------------------------------------------
def method_curves(
    ds: xr.Dataset, metric: str, baselines: Mapping[str, str] | None = None
) -> xr.DataArray | None:
    """One curve per *learner*: every (arch, trainer) pair that ran, plus baselines.

    Args:
        ds: combined sweep results.
        metric: the network's metric (e.g. ``test_normalized_mse``).
        baselines: probe variable -> label; the baseline's values are taken from the
            first (arch, trainer) whose runs computed it (baselines fit on the run's
            data, not on the network).

    Returns:
        A DataArray with a ``learner`` dimension (labels ``arch / trainer``, or the
        variant's name when the sweep named its variants, and the baseline labels; not
        called ``method``, a keyword of ``.sel``), or ``None`` when nothing has data.
    """
    curves: list[xr.DataArray] = []
    labels: list[str] = []
    for da, learner in _learners(ds, metric):
        curves.append(da)
        labels.append(learner)
    for var, label in (baselines or {}).items():
        # one copy of a baseline: it is fit on the run's data, not on the network
        for da, _ in itertools.islice(_learners(ds, var), 1):
            curves.append(da)
            labels.append(label)
    if not curves:
        return None
    combined = xr.concat(curves, dim=METHOD, join="outer")
    # object labels: a pandas string index does not align with others in xr.Dataset
    return combined.assign_coords({METHOD: np.asarray(labels, dtype=object)})


def _learners(ds: xr.Dataset, var: str) -> Iterator[tuple[xr.DataArray, str]]:
    """Each learner's values of ``var`` with data, labelled.

    A learner is an (arch, trainer) pair, or a named sweep variant (two variants may
    share the pair, e.g. one network with two inner activations).
    """
    if var not in ds:
        return
    for arch, trainer in _pairs(ds[var]):
        pair = ds[var].sel({dims.ARCH: arch, dims.TRAINER: trainer}, drop=True)
        named = dims.VARIANT in pair.dims
        for variant in pair[dims.VARIANT].values if named else [None]:
            da = pair.sel({dims.VARIANT: variant}, drop=True) if named else pair
            if np.isfinite(da.values.astype(float)).any():
                yield da.astype(float), str(variant) if named else f"{arch} / {trainer}"


def _pairs(da: xr.DataArray) -> list[tuple[Any, Any]]:
    archs = list(da[dims.ARCH].values) if dims.ARCH in da.dims else []
    trainers = list(da[dims.TRAINER].values) if dims.TRAINER in da.dims else []
    return [(a, t) for a in archs for t in trainers]


def kernel_plateau(
    spec: Mapping[str, Any], host: PluginHost, degree: int = 2, d: int | None = None
) -> dict[str, float | str]:
    """Share of Var f* above ``degree`` (the normalized MSE a degree-≤k fit leaves).

    The target is built as the sweep's first seed builds it; its
    ``degree_energy`` is exact or Monte Carlo, as the target reports.

    Args:
        spec: the sweep config.
        host: plugin host.
        degree: the degree kernels fit in the sampled range of n.
        d: the target's input dimension (default: the config's base value), for a
            sweep over d, where the plateau differs between panels.
    """
    from tlkit.config import derive_seed

    target_cfg = spec["base"]["target"]
    name = target_cfg if isinstance(target_cfg, str) else target_cfg["name"]
    params = {} if isinstance(target_cfg, str) else dict(target_cfg.get("params", {}))
    if d is not None:
        params["d"] = d
    factory = host.registry.get("target", name).factory
    target = factory(seed=derive_seed(int(spec.get("seeds", [0])[0]), "target"), **params)
    energy = target.degree_energy(max_degree=max(degree, 2))
    kept = float(np.sum(energy.energy[1 : degree + 1]))
    share = 1.0 - kept / float(energy.variance)
    err = (
        float(np.sqrt(np.sum(np.asarray(energy.stderr)[1 : degree + 1] ** 2)) / energy.variance)
        if energy.stderr is not None
        else 0.0
    )
    return {"share": share, "stderr": err, "method": energy.method, "degree": degree}


def _comparison_summary(
    repro: Reproduction,
    ds: xr.Dataset,
    spec: Mapping[str, Any],
    out: Path,
    host: PluginHost,
    echo: Echo,
) -> dict[str, Any]:
    from tlkit.plotting import plot_grid, plot_metrics, save_figure

    variables = {}
    for i, metric in enumerate(repro.metrics):
        curves = method_curves(ds, metric, repro.baselines if i == 0 else None)
        if curves is not None:
            variables[metric] = curves
    if not variables:
        raise TlkitError(f"none of {', '.join(repro.metrics)} is in the results")
    methods = xr.Dataset(variables)
    for name, da in methods.data_vars.items():
        da.attrs["long_name"] = str(ds[name].attrs.get("long_name", name))
    single = [d for d in methods.dims if d not in (METHOD, dims.N_TRAIN, dims.SEED)]
    extra: dict[str, Any] = {"theory": {}}
    tables: dict[str, Any] = {}
    echo("\nmedian over seeds (rows: n_train; columns: learner)")
    group_dims = [d for d in single if methods.sizes[d] > 1]
    methods = methods.squeeze([d for d in single if methods.sizes[d] == 1], drop=True)
    # Several d (say): one column of panels per value, one colour per learner; the
    # tables below flatten the group into the learner labels instead.
    panel_dim = str(group_dims[0]) if len(group_dims) == 1 else None
    by_panel = methods
    for g in group_dims:  # e.g. several d: one line per learner and value
        parts = []
        for value in methods[g].values:
            part = methods.sel({g: value}, drop=True)
            labels = [f"{m}, {g}={value}" for m in part[METHOD].values]
            parts.append(part.assign_coords({METHOD: np.asarray(labels, dtype=object)}))
        methods = xr.concat(parts, dim=METHOD, join="outer")
    metrics = [str(m) for m in methods.data_vars]
    for metric in metrics:
        median = methods[metric].median(dims.SEED, skipna=True).transpose(dims.N_TRAIN, METHOD)
        frame: Any = median.dropna(METHOD, how="all").to_pandas()
        echo(metric)
        echo(frame.to_string(float_format=lambda v: f"{v:.4f}"))
        tables[metric] = {
            str(col): {int(n): float(v) for n, v in frame[col].items()} for col in frame
        }
    panels: list[Any] = list(by_panel[panel_dim].values) if panel_dim is not None else [None]
    plateaus: list[dict[str, Any] | None] = [None] * len(panels)
    if repro.plateau and dims.D in group_dims and panel_dim != dims.D:
        # d varies, but not from panel to panel: report each d's plateau, draw none
        by_d = {}
        for value in by_panel[dims.D].values:
            by_d[str(int(value))] = kernel_plateau(spec, host, repro.plateau_degree, d=int(value))
            echo(
                f"theory: share of Var f* above degree {repro.plateau_degree} at d = {value}: "
                f"{by_d[str(int(value))]['share']:.4f}"
            )
        extra["theory"]["kernel_plateau"] = by_d
    elif repro.plateau:
        for i, value in enumerate(panels):
            # the plateau depends on d: each panel of a sweep over d gets its own
            d = int(value) if panel_dim == dims.D else None
            plateau = kernel_plateau(spec, host, repro.plateau_degree, d=d)
            plateaus[i] = plateau
            where = f" at {panel_dim} = {value}" if panel_dim is not None else ""
            echo(
                f"theory: share of Var f* above degree {plateau['degree']}{where} "
                f"(kernel plateau for d² ≲ n ≪ d⁴): {plateau['share']:.4f} "
                f"± {plateau['stderr']:.4f} ({plateau['method']})"
            )
        if panel_dim == dims.D:
            extra["theory"]["kernel_plateau"] = {
                str(int(v)): p for v, p in zip(panels, plateaus, strict=True)
            }
        else:
            extra["theory"]["kernel_plateau"] = plateaus[0]
    # one panel is ~5 in. wide: wrap long titles so that they are not cut off
    title = textwrap.fill(repro.title, 48 * max(len(metrics), len(panels)))
    if panel_dim is not None:
        fig = plot_grid(by_panel, metrics, hue=METHOD, col=panel_dim, title=title)
    else:
        fig = plot_metrics(methods, metrics, hue=METHOD, title=title)
    error_axes = fig.axes[: len(panels)]  # the first metric's row: the test error
    for ax, panel_plateau in zip(error_axes, plateaus, strict=True):
        if panel_plateau is not None:
            ax.axhline(
                float(panel_plateau["share"]),
                color="black",
                linestyle="--",
                linewidth=1,
                label=f"Var f* above degree {panel_plateau['degree']} (theory)",
            )
        if repro.trivial_line:
            ax.axhline(
                1.0, color="grey", linestyle=":", linewidth=1, label="trivial (predict E f*)"
            )
    # one legend: learners keep their colour in every panel
    for ax in fig.axes[1:]:
        if ax.get_legend() is not None:
            ax.get_legend().remove()
    fig.axes[0].legend(title=METHOD, fontsize="small")
    figures = [str(save_figure(fig, out / f"{repro.name}.png"))]
    return {"tables": tables, "figures": figures, **extra}


def _jsonable(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
