"""Sample-complexity thresholds and their scaling with d.

For each curve (every combination of dimensions other than ``n_train`` and
``seed``), the threshold is the smallest n at which the median over seeds of a
metric crosses a level, interpolated linearly in log2 n between the two grid
points around the first crossing. Across d, log2(threshold) is fitted by least
squares against log2(d), leaving out thresholds at the smallest n (already crossed
there: only an upper bound) and curves that never cross; the slope is the exponent
in n* ∝ d^slope (the direct check of "Θ̃(d)" vs "Θ̃(d²)" claims). Its uncertainty
comes from a bootstrap over seeds: resample each curve's seeds with replacement,
recompute the medians, the thresholds and the slope.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import numpy.typing as npt
import xarray as xr

from tlkit import dims
from tlkit import results as _results  # noqa: F401  (registers the ds.tlkit accessor)
from tlkit.errors import TlkitError


def crossing(n: npt.ArrayLike, values: npt.ArrayLike, level: float, above: bool = True) -> float:
    """Smallest n where ``values`` first reaches ``level``, interpolated in log2 n.

    Args:
        n: increasing sample sizes.
        values: the metric at each n (NaN entries are ignored).
        level: the level to cross.
        above: the metric must rise to ``>= level`` (e.g. a correlation); with
            ``False`` it must fall to ``<= level`` (e.g. an error).

    Returns:
        The interpolated n, ``n[0]`` if the first finite point already satisfies the
        condition (only an upper bound), or NaN if the level is never reached.
    """
    n_arr = np.asarray(n, dtype=float)
    v = np.asarray(values, dtype=float)
    keep = np.isfinite(v) & np.isfinite(n_arr) & (n_arr > 0)
    n_arr, v = n_arr[keep], v[keep]
    if n_arr.size == 0:
        return float("nan")
    if np.any(np.diff(n_arr) <= 0):
        raise TlkitError("threshold: n must be strictly increasing")
    sign = 1.0 if above else -1.0
    ok = sign * (v - level) >= 0
    if not ok.any():
        return float("nan")
    i = int(np.argmax(ok))
    if i == 0:
        return float(n_arr[0])
    x0, x1 = np.log2(n_arr[i - 1]), np.log2(n_arr[i])
    t = (level - v[i - 1]) / (v[i] - v[i - 1])
    return float(2.0 ** (x0 + t * (x1 - x0)))


def _curve_dims(da: xr.DataArray, x: str) -> list[str]:
    return [str(d) for d in da.dims if d not in (x, dims.SEED)]


def thresholds(
    ds: xr.Dataset, metric: str, level: float, *, above: bool = True, x: str = dims.N_TRAIN
) -> xr.DataArray:
    """Threshold n of every curve: median over seeds, then :func:`crossing`.

    Returns:
        A DataArray over the dataset's dims other than ``x`` and ``seed`` (NaN where
        the level is never reached).

    Raises:
        TlkitError: unknown metric, or a metric without the ``x`` dimension.
    """
    da = _metric(ds, metric, x)
    med = da.median(dims.SEED, skipna=True) if dims.SEED in da.dims else da
    return _thresholds_of(med, level, above, x)


def _metric(ds: xr.Dataset, metric: str, x: str) -> xr.DataArray:
    if metric not in ds:
        names = ", ".join(ds.tlkit.metrics()) or "none"
        raise TlkitError(f"unknown metric {metric!r}; available: {names}")
    da = ds[metric]
    if x not in da.dims:
        raise TlkitError(f"metric {metric!r} has no {x!r} dimension")
    if da.dtype.kind not in "iuf":
        raise TlkitError(f"metric {metric!r} is not numeric")
    return da.astype(float)


def _thresholds_of(med: xr.DataArray, level: float, above: bool, x: str) -> xr.DataArray:
    out = xr.apply_ufunc(
        lambda v: crossing(med[x].values, v, level, above),
        med,
        input_core_dims=[[x]],
        vectorize=True,
    )
    out.attrs.update(
        long_name=f"smallest {x} where the median crosses {level}",
        level=level,
        direction="above" if above else "below",
    )
    return out


def loglog_slope(d: npt.ArrayLike, n_star: npt.ArrayLike) -> tuple[float, float]:
    """Least-squares fit log2 n* = a + slope * log2 d over finite points.

    Returns:
        ``(slope, a)``; NaN when fewer than two distinct d have a finite threshold.
    """
    d_arr = np.asarray(d, dtype=float)
    t = np.asarray(n_star, dtype=float)
    keep = np.isfinite(t) & (t > 0) & (d_arr > 0)
    if np.unique(d_arr[keep]).size < 2:
        return float("nan"), float("nan")
    slope, intercept = np.polyfit(np.log2(d_arr[keep]), np.log2(t[keep]), 1)
    return float(slope), float(intercept)


@dataclasses.dataclass
class ScalingFit:
    """The scaling of the threshold with d for one group of curves (e.g. one arch).

    Attributes:
        group: the group's coordinates (every non-``d`` curve dimension).
        d: the d values; threshold: the threshold per d (NaN: never crossed).
        slope, intercept: the fit log2 n* = intercept + slope log2 d.
        ci: bootstrap percentile interval of the slope (``confidence`` level).
        n_boot: resamples used; n_boot_valid: those where the slope was defined.
    """

    group: dict[str, Any]
    d: list[float]
    threshold: list[float]
    slope: float
    intercept: float
    ci: tuple[float, float]
    n_boot: int
    n_boot_valid: int


def scaling(
    ds: xr.Dataset,
    metric: str,
    level: float,
    *,
    above: bool = True,
    x: str = dims.N_TRAIN,
    across: str = dims.D,
    n_boot: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> list[ScalingFit]:
    """Threshold vs ``across`` (d) on log-log axes, with a bootstrap over seeds.

    Each bootstrap resample draws, independently for every curve (runs at
    different d are independent runs), ``n_seeds`` seeds with replacement,
    recomputes the median curve, its threshold and the group's slope.

    Raises:
        TlkitError: unknown metric or dimension, or fewer than two values of ``across``.
    """
    da = _metric(ds, metric, x)
    if across not in da.dims or da.sizes[across] < 2:
        raise TlkitError(f"threshold scaling needs at least two values of {across!r}")
    if dims.SEED not in da.dims:
        da = da.expand_dims({dims.SEED: [0]})
    groups = [d for d in _curve_dims(da, x) if d != across]
    da = da.transpose(*groups, across, x, dims.SEED)
    values = da.values  # (*groups, n_across, n_x, n_seed)
    n_grid = da[x].values.astype(float)
    d_vals = da[across].values.astype(float)
    rng = np.random.default_rng(seed)
    group_shape = values.shape[:-3]
    fits = []
    for index in np.ndindex(*group_shape):
        curves = values[index]  # (n_across, n_x, n_seed)
        # Curves whose values are all NaN (e.g. arch/trainer pairs no variant ran) are skipped.
        if not np.isfinite(curves).any():
            continue
        point = [crossing(n_grid, _nanmedian(c), level, above) for c in curves]
        slope, intercept = loglog_slope(d_vals, _uncensored(point, n_grid))
        boots = []
        n_seed = curves.shape[-1]
        for _ in range(n_boot):
            picks = rng.integers(0, n_seed, size=(curves.shape[0], n_seed))
            resampled = [
                crossing(n_grid, _nanmedian(curves[j][:, picks[j]]), level, above)
                for j in range(curves.shape[0])
            ]
            boots.append(loglog_slope(d_vals, _uncensored(resampled, n_grid))[0])
        finite = np.asarray([b for b in boots if np.isfinite(b)])
        alpha = (1 - confidence) / 2
        ci = (
            (float(np.quantile(finite, alpha)), float(np.quantile(finite, 1 - alpha)))
            if finite.size
            else (float("nan"), float("nan"))
        )
        group = {g: _plain(da[g].values[i]) for g, i in zip(groups, index, strict=True)}
        fits.append(
            ScalingFit(
                group,
                d_vals.tolist(),
                [float(p) for p in point],
                slope,
                intercept,
                ci,
                n_boot,
                int(finite.size),
            )
        )
    return fits


def _uncensored(points: list[float], n_grid: np.ndarray) -> list[float]:
    """Thresholds at the smallest n are only upper bounds: leave them out of the fit."""
    n_min = float(np.min(n_grid))
    return [float("nan") if p <= n_min else p for p in points]


def _nanmedian(block: np.ndarray) -> np.ndarray:
    out = np.full(block.shape[0], np.nan)
    for i, row in enumerate(block):
        if np.isfinite(row).any():
            out[i] = np.nanmedian(row)
    return out


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value
