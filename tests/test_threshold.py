"""Thresholds and their log-log scaling, against closed forms and synthetic exponents."""

from __future__ import annotations

import math

import numpy as np
import pytest
import xarray as xr
from tlkit.errors import TlkitError
from tlkit.threshold import crossing, loglog_slope, scaling, thresholds


def test_crossing_interpolates_linearly_in_log2_n():
    # values 0.2 at n=4 and 0.8 at n=16; 0.5 is halfway in log2 n: log2 n* = 3.
    assert crossing([2, 4, 16], [0.0, 0.2, 0.8], 0.5) == pytest.approx(8.0, rel=1e-12)
    # a quarter of the way from log2 4 = 2 to log2 16 = 4: 2^(2.5)
    assert crossing([4, 16], [0.0, 0.8], 0.2) == pytest.approx(2**2.5, rel=1e-12)


def test_crossing_below_edges_and_nans():
    # an error falling through 0.1: between n=8 (0.3) and n=32 (0.05): t = 0.8.
    assert crossing([8, 32], [0.3, 0.05], 0.1, above=False) == pytest.approx(2 ** (3 + 0.8 * 2))
    assert math.isnan(crossing([8, 32], [0.3, 0.2], 0.1, above=False))  # never reached
    assert crossing([8, 32], [0.95, 0.99], 0.9) == 8.0  # already crossed at the first n
    # the first crossing counts, not a later one; NaN points are skipped
    assert crossing([2, 4, 8, 16], [0.0, np.nan, 1.0, 0.0], 0.5) == pytest.approx(2**2)
    with pytest.raises(TlkitError, match="strictly increasing"):
        crossing([4, 2], [0.0, 1.0], 0.5)


def synthetic(exponent: float, c: float, d_values, n_grid, offsets, archs=("deep",)):
    """metric = log2 n - log2(c d^exponent) + offset[seed]: crosses 0 exactly at c d^exponent
    for the median seed (offsets symmetric around 0), linearly in log2 n."""
    d = np.asarray(d_values, float)[:, None, None]
    n = np.asarray(n_grid, float)[None, :, None]
    off = np.asarray(offsets, float)[None, None, :]
    values = np.log2(n) - np.log2(c * d**exponent) + off
    data = np.stack([values + i for i in range(len(archs))])  # arch i: threshold / 2^i
    return xr.Dataset(
        {"feature_corr": (("arch", "d", "n_train", "seed"), data)},
        coords={
            "arch": list(archs),
            "d": list(d_values),
            "n_train": list(n_grid),
            "seed": list(range(len(offsets))),
        },
    )


def test_thresholds_recover_c_d_squared():
    d_values, n_grid = [8, 16, 32], [2**k for k in range(4, 14)]
    ds = synthetic(2.0, 3.0, d_values, n_grid, [-0.3, 0.0, 0.3])
    t = thresholds(ds, "feature_corr", 0.0)
    np.testing.assert_allclose(
        t.sel(arch="deep").values, [3.0 * d**2 for d in d_values], rtol=1e-12
    )


def test_slope_is_exact_and_bootstrap_interval_covers_it():
    d_values, n_grid = [8, 16, 32, 64], [2**k for k in range(4, 16)]
    ds = synthetic(2.0, 3.0, d_values, n_grid, [-0.3, 0.0, 0.3], archs=("deep", "shallow"))
    fits = scaling(ds, "feature_corr", 0.0, n_boot=300, seed=1)
    assert [f.group for f in fits] == [{"arch": "deep"}, {"arch": "shallow"}]
    for fit, c in zip(fits, (3.0, 1.5), strict=True):
        assert fit.slope == pytest.approx(2.0, abs=1e-12)
        assert 2**fit.intercept == pytest.approx(c, rel=1e-12)
        assert fit.ci[0] <= 2.0 <= fit.ci[1]
        assert fit.ci[1] - fit.ci[0] > 0  # seeds differ, so resamples differ
        assert fit.n_boot_valid == 300


def test_identical_seeds_give_a_zero_width_interval_and_exponent_one():
    ds = synthetic(1.0, 2.0, [4, 8, 16], [2**k for k in range(2, 12)], [0.1, 0.1])
    (fit,) = scaling(ds, "feature_corr", 0.1, n_boot=50)
    assert fit.slope == pytest.approx(1.0, abs=1e-12)
    assert fit.ci == pytest.approx((1.0, 1.0), abs=1e-12)


def test_loglog_slope_matches_numpy_polyfit_on_noisy_points():
    rng = np.random.default_rng(0)
    d = np.array([4.0, 8, 16, 32, 64])
    t = 5 * d**1.7 * np.exp(rng.normal(0, 0.1, d.size))
    slope, intercept = loglog_slope(d, t)
    # independent reference: the normal equations of the log-log fit
    A = np.stack([np.ones_like(d), np.log2(d)], axis=1)
    ref = np.linalg.solve(A.T @ A, A.T @ np.log2(t))
    np.testing.assert_allclose([intercept, slope], ref, rtol=1e-10)
    assert math.isnan(loglog_slope([4, 8], [np.nan, 10.0])[0])


def test_errors_name_the_problem():
    ds = synthetic(1.0, 1.0, [4, 8], [2, 4, 8], [0.0])
    with pytest.raises(TlkitError, match="unknown metric 'nope'; available: feature_corr"):
        thresholds(ds, "nope", 0.5)
    with pytest.raises(TlkitError, match="at least two values of 'arch'"):
        scaling(ds, "feature_corr", 0.5, across="arch")


def test_thresholds_at_the_smallest_n_are_left_out_of_the_fit():
    # d = 2 crosses below the grid (3 * 4 = 12 < 64): only an upper bound, not a point.
    d_values, n_grid = [2, 8, 16, 32], [2**k for k in range(6, 14)]
    ds = synthetic(2.0, 3.0, d_values, n_grid, [0.0])
    t = thresholds(ds, "feature_corr", 0.0).sel(arch="deep").values
    assert t[0] == 64.0
    (fit,) = scaling(ds, "feature_corr", 0.0, n_boot=20)
    assert fit.slope == pytest.approx(2.0, abs=1e-12)
    assert fit.threshold[0] == 64.0
