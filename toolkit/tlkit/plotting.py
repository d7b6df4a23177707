"""Figures in the papers' style: median line and min–max band over seeds.

Matplotlib runs headless (Agg); functions return the figure and can save it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from tlkit import dims
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
        for value in hues:
            line = da.sel({hue: value}) if value is not None else da
            xs = np.asarray(line[x].values, dtype=float)
            if dims.SEED in line.dims:
                med = line.median(dims.SEED, skipna=True).values
                lo = line.min(dims.SEED, skipna=True).values
                hi = line.max(dims.SEED, skipna=True).values
            else:
                med = lo = hi = line.values
            if np.all(np.isnan(med)):
                continue
            (handle,) = ax.plot(xs, med, marker="o", label=str(value) if value is not None else metric)
            ax.fill_between(xs, lo, hi, alpha=0.2, color=handle.get_color())
        if x == dims.N_TRAIN:
            ax.set_xscale("log", base=2)
        if metric.endswith(_LOG_SUFFIXES):
            ax.set_yscale("log")
        ax.set_xlabel(x)
        ax.set_ylabel(str(ds[metric].attrs.get("long_name", metric)))
        ax.set_title(metric)
        ax.grid(True, alpha=0.3)
        if len(hues) > 1 or hues[0] is not None:
            ax.legend(title=hue)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def save_figure(fig: Any, path: str | Path) -> Path:
    """Save a figure atomically; the format follows the suffix (.png, .svg)."""
    path = Path(path)
    fmt = path.suffix.lstrip(".") or "png"
    with atomic_file(path) as tmp:
        fig.savefig(tmp, format=fmt, dpi=120)
    return path


def _finite(values: np.ndarray) -> bool:
    return bool(np.any(np.isfinite(values))) and not math.isnan(float(np.nanmax(values)))
