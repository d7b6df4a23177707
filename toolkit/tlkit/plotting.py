"""Figures in the papers' style: median line and min–max band over seeds.

Matplotlib runs headless (Agg); functions return the figure and can save it.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from tlkit import dims
from tlkit import results as _results  # noqa: F401  (registers the ds.tlkit accessor)
from tlkit.atomic import atomic_file
from tlkit.errors import TlkitError

#: y-axis scale per metric suffix: errors on a log axis, correlations linear.
_LOG_SUFFIXES = ("mse",)


def plot_metrics(
    ds: xr.Dataset,
    metrics: Sequence[str],
    *,
    x: str = dims.N_TRAIN,
    hue: str = dims.ARCH,
    title: str | None = None,
) -> Any:
    """One panel per metric: median over seeds with a min–max band, one line per ``hue``.

    Args:
        ds: a combined results dataset with a ``seed`` dimension.
        metrics: variables to plot, one panel each.
        x: the x dimension (``n_train`` is drawn on a log2 axis).
        hue: one line per value of this dimension.
        title: figure title.

    Returns:
        The matplotlib figure.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    present = [m for m in metrics if m in ds]
    if not present:
        raise TlkitError(f"none of {', '.join(metrics)} is in the dataset")
    fig, axes = plt.subplots(1, len(present), figsize=(5.2 * len(present), 4), squeeze=False)
    for ax, metric in zip(axes[0], present, strict=True):
        da = ds[metric]
        extra = [d for d in da.dims if d not in (x, hue, dims.SEED) and da.sizes[d] == 1]
        da = da.squeeze(extra, drop=True)
        hues = da[hue].values if hue in da.dims else [None]
        for index, value in enumerate(hues):
            line = da.sel({hue: value}) if value is not None else da
            for other in [d for d in line.dims if d not in (x, dims.SEED)]:
                # e.g. a trainer axis on which each architecture has one trainer
                line = line.dropna(other, how="all")
                if line.sizes[other] != 1:
                    raise TlkitError(
                        f"cannot plot {metric!r}: dimension {other!r} has several values; "
                        "select one first (or use it as hue)"
                    )
                line = line.squeeze(other, drop=True)
            xs = np.asarray(line[x].values, dtype=float)
            if dims.SEED in line.dims:
                med = line.median(dims.SEED, skipna=True).values
                lo = line.min(dims.SEED, skipna=True).values
                hi = line.max(dims.SEED, skipna=True).values
            else:
                med = lo = hi = line.values
            if np.all(np.isnan(med)):
                continue
            # one colour per hue value in every panel, even where a line is skipped
            color = f"C{index % 10}"
            label = str(value) if value is not None else metric
            ax.plot(xs, med, marker="o", label=label, color=color)
            ax.fill_between(xs, lo, hi, alpha=0.2, color=color)
        _style_panel(ax, ds, metric, x)
        if len(hues) > 1 or hues[0] is not None:
            ax.legend(title=hue)
    fig.suptitle(_with_statistic(title, ds), fontsize=10)
    fig.tight_layout()
    return fig


def plot_grid(
    ds: xr.Dataset,
    metrics: Sequence[str],
    *,
    x: str = dims.N_TRAIN,
    hue: str | None = dims.ARCH,
    col: str | None = None,
    title: str | None = None,
) -> Any:
    """Panels metric (rows) x ``col`` value (columns); median line and min–max band.

    Unlike :func:`plot_metrics` this accepts any sweep grid: every dimension other
    than ``x``, ``hue``, ``col`` and ``seed`` that has several values gives
    separate lines (labelled ``dim=value``), and combinations without data (e.g.
    an architecture paired with a trainer no variant used) are left out.

    Args:
        ds: a combined results dataset.
        metrics: variables to plot, one row each.
        x: the x dimension (``n_train`` is drawn on a log2 axis).
        hue: one colour per value of this dimension (``None``: no hue).
        col: one column of panels per value of this dimension (``None``: one column).
        title: figure title.

    Returns:
        The matplotlib figure.

    Raises:
        TlkitError: unknown metric or dimension.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    missing = [m for m in metrics if m not in ds]
    if missing or not metrics:
        names = ", ".join(ds.tlkit.metrics()) or "none"
        raise TlkitError(f"unknown metric {(missing or [''])[0]!r}; available: {names}")
    for role, dim in (("--x", x), ("--hue", hue), ("--col", col)):
        if dim is not None and dim not in ds.dims:
            raise TlkitError(
                f"{role} {dim!r} is not a dimension; available: {', '.join(map(str, ds.dims))}"
            )
    cols = list(ds[col].values) if col is not None else [None]
    fig, axes = plt.subplots(
        len(metrics), len(cols), figsize=(4.8 * len(cols), 3.8 * len(metrics)), squeeze=False
    )
    try:
        colors: dict[Any, Any] = {}
        for r, metric in enumerate(metrics):
            for c, col_value in enumerate(cols):
                ax = axes[r][c]
                da = ds[metric]
                if col is not None and col in da.dims:
                    da = da.sel({col: col_value})
                if x not in da.dims:
                    raise TlkitError(f"metric {metric!r} has no {x!r} dimension")
                other = [str(d) for d in da.dims if d not in (x, hue, dims.SEED)]
                spread = [d for d in other if d in dims.PROBE_DIMS and da.sizes[d] > 1]
                if spread:
                    # a per-layer metric (CKA per layer, ...) plots fine one panel per value
                    raise TlkitError(
                        f"metric {metric!r} is not a scalar per run (dims {da.dims}); give "
                        f"its {spread[0]!r} dimension a panel each (--col {spread[0]}) or "
                        "select one value"
                    )
                hues = list(da[hue].values) if hue is not None and hue in da.dims else [None]
                for hue_value in hues:
                    line_da = da.sel({hue: hue_value}) if hue_value is not None else da
                    _draw_lines(ax, line_da, x, hue_value, other, colors)
                _style_panel(ax, ds, metric, x, f"\n{col} = {col_value}" if col else "")
                if ax.get_legend_handles_labels()[0]:
                    ax.legend(title=hue, fontsize="small")
    except BaseException:
        # a metric refused half-way must not leave its figure in pyplot's registry
        plt.close(fig)
        raise
    fig.suptitle(_with_statistic(title, ds), fontsize=10)
    fig.tight_layout()
    return fig


def _style_panel(ax: Any, ds: xr.Dataset, metric: str, x: str, title_suffix: str = "") -> None:
    """Axes scales, labels, the metric's long name as title, and a light grid."""
    if x == dims.N_TRAIN:
        ax.set_xscale("log", base=2)
    if metric.endswith(_LOG_SUFFIXES):
        ax.set_yscale("log")
    ax.set_xlabel(x)
    ax.set_ylabel(metric)
    long_name = str(ds[metric].attrs.get("long_name", ""))
    title = textwrap.fill(long_name, 48) if long_name else metric
    ax.set_title(title + title_suffix, fontsize=9)
    ax.grid(True, alpha=0.3)


def _with_statistic(title: str | None, ds: xr.Dataset) -> str:
    """The figure title plus what a line and its band are: the figure travels to
    slides and papers without its caption."""
    n_seeds = int(ds.sizes.get(dims.SEED, 1))
    stat = f"lines: median over {n_seeds} seed{'s' if n_seeds != 1 else ''}; bands: min–max"
    return f"{title}\n{stat}" if title else stat


def is_error_metric(name: str) -> bool:
    """Whether a metric is an error (lower is better: drawn on a log axis, and crossed
    from above by ``tlkit threshold``)."""
    return name.endswith((*_LOG_SUFFIXES, "error"))


def _draw_lines(
    ax: Any, da: xr.DataArray, x: str, hue_value: Any, other: list[str], colors: dict[Any, Any]
) -> None:
    import matplotlib

    other = [d for d in other if d in da.dims]
    stacked = da.stack(_line=other) if other else da.expand_dims(_line=[0])
    lines = []
    for i in range(stacked.sizes["_line"]):
        line = stacked.isel(_line=i)
        values = np.asarray(line.transpose(x, ...).values, dtype=float)
        values = values.reshape(values.shape[0], -1)  # (n_x, n_seed)
        if np.isfinite(values).any():  # skip combinations the sweep never ran
            lines.append((line, values))
    # Label only by the dimensions that still differ between the lines drawn.
    varying = [d for d in other if len({line[d].item() for line, _ in lines}) > 1]
    for line, values in lines:
        finite = [np.isfinite(v).any() for v in values]
        med = np.array(
            [np.nanmedian(v) if f else np.nan for v, f in zip(values, finite, strict=True)]
        )
        lo = np.array([np.nanmin(v) if f else np.nan for v, f in zip(values, finite, strict=True)])
        hi = np.array([np.nanmax(v) if f else np.nan for v, f in zip(values, finite, strict=True)])
        parts = [] if hue_value is None else [str(hue_value)]
        parts += [f"{d}={line[d].item()}" for d in varying]
        label = ", ".join(parts) or None
        xs = np.asarray(line[x].values, dtype=float)
        # One colour per line label across all panels: each panel's own colour cycle
        # would restart, and one label would get other colours in other panels.
        key = (hue_value, *[(d, line[d].item()) for d in other])
        if key not in colors:
            palette = matplotlib.rcParams["axes.prop_cycle"].by_key()["color"]
            colors[key] = palette[len(colors) % len(palette)]
        ax.plot(xs, med, marker="o", label=label, color=colors[key])
        ax.fill_between(xs, lo, hi, alpha=0.2, color=colors[key])


def save_figure(fig: Any, path: str | Path) -> Path:
    """Save a figure atomically; the format follows the suffix (.png, .svg)."""
    path = Path(path)
    fmt = path.suffix.lstrip(".") or "png"
    with atomic_file(path) as tmp:
        fig.savefig(tmp, format=fmt, dpi=120)
    return path
