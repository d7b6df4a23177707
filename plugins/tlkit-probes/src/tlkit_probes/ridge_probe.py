"""The ``ridge-probe`` probe: held-out R² of a ridge map from each layer to h*.

The test set is split in two halves: a ridge regression (with an unpenalized
intercept) from one layer's activations to h* is fitted on the first half, with the
ridge chosen on an inner split of that half (first ``1 - inner_val_fraction`` to fit,
the rest to validate), refitted on the whole first half with the chosen ridge, and
scored on the second half. Everything goes through streamed moments, so no layer's
activations are ever held for more than one batch.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import jax.numpy as jnp
import numpy as np
from tlkit.errors import ParameterError
from tlkit.numerics.ridge import covariance_ridge_path, feature_ridge_solve
from tlkit.types import ProbeOutput

from tlkit_probes._common import (
    as_columns,
    batches,
    check_positive_int,
    representation_widths,
    representations_of,
    rows_per_batch,
    safe_ratio,
)
from tlkit_probes._moments import Moments

NAME = "ridge-probe"


def fit_moments_ridge(fit: Moments, lams_rel: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Ridge weights and intercepts for relative ridges, from moments.

    The absolute ridge is ``λ = λ_rel · tr(Cov φ) / p``, so the grid is scale free.

    Returns:
        ``w`` ``(L, p, r)`` and ``b`` ``(L, r)`` acting on the shifted features.
    """
    mz, mt, cov, cross = fit.centred()
    scale = max(float(np.trace(cov)) / cov.shape[0], np.finfo(np.float64).tiny)
    path = covariance_ridge_path(jnp.asarray(cov), jnp.asarray(cross))
    w = np.asarray(feature_ridge_solve(path, lams_rel * scale))  # (L, p, r)
    b = mt[None, :] - np.einsum("p,lpr->lr", mz, w)
    return w, b


class RidgeProbe:
    """Held-out R² of ridge probes from every layer to every component of h*."""

    def __init__(self, ridges: Sequence[float], inner_val_fraction: float, budget_mb: int):
        self.lams = np.asarray(ridges, dtype=np.float64)
        self.inner = inner_val_fraction
        self.budget = budget_mb * 2**20

    def __call__(self, run: Any) -> Mapping[str, ProbeOutput]:
        X, _ = run.test_data()
        n = int(X.shape[0])
        h = as_columns(run.target.feature(X))
        r = h.shape[1]
        half = n // 2
        n_inner_fit = int(round(half * (1 - self.inner)))
        if n_inner_fit < 2 or half - n_inner_fit < 2 or n - half < 2:
            raise ParameterError(
                f"ridge-probe needs at least 8 test points for its splits, got n_test={n}"
            )
        widths = representation_widths(run.model, X)
        names = list(widths)
        r2 = np.full((len(names), r), np.nan)
        chosen = np.full((len(names), r), np.nan)
        itemsize = np.dtype(X.dtype).itemsize
        for li, name in enumerate(names):
            # One pass per layer keeps memory at one layer's p x p moments.
            rows = rows_per_batch(2 * itemsize * (sum(widths.values()) + X.shape[1]), self.budget)
            parts = self._layer_moments(run.model, X, h, name, rows, (n_inner_fit, half))
            inner_fit, inner_val, score = parts
            w, b = fit_moments_ridge(inner_fit, self.lams)
            val_sse = inner_val.sse(w, b)  # (L, r)
            best = np.argmin(np.where(np.isfinite(val_sse), val_sse, np.inf), axis=0)  # (r,)
            w_all, b_all = fit_moments_ridge(inner_fit + inner_val, self.lams)
            sse = score.sse(w_all, b_all)  # (L, r)
            sst = score.sst()
            for k in range(r):
                chosen[li, k] = self.lams[best[k]]
                r2[li, k] = 1.0 - safe_ratio(
                    sse[best[k], k], sst[k], NAME, f"Var h*[{k}] on the scoring half"
                )
        coords: dict[str, Any] = {"layer": names}
        if r == 1:
            dims: tuple[str, ...] = ("layer",)
            r2_out, chosen_out = r2[:, 0], chosen[:, 0]
        else:
            dims = ("layer", "component")
            coords["component"] = list(range(r))
            r2_out, chosen_out = r2, chosen
        return {
            "r2": ProbeOutput(
                r2_out, dims, coords, "1", "held-out R^2 of a ridge probe from the layer to h*"
            ),
            "ridge": ProbeOutput(
                chosen_out,
                dims,
                coords,
                "1",
                "chosen relative ridge (lambda / (tr Cov(phi) / p)) of the ridge probe",
            ),
        }

    @staticmethod
    def _layer_moments(
        model: Any, X: Any, h: np.ndarray, name: str, rows: int, cuts: tuple[int, int]
    ) -> tuple[Moments, Moments, Moments]:
        n = int(X.shape[0])
        parts: list[Moments | None] = [None, None, None]
        bounds = (0, cuts[0], cuts[1], n)
        for p_idx in range(3):
            lo, hi = bounds[p_idx], bounds[p_idx + 1]
            for s in batches(hi - lo, rows):
                sl = slice(lo + s.start, lo + s.stop)
                phi = np.asarray(representations_of(model, X[sl])[name], dtype=np.float64)
                if parts[p_idx] is None:
                    # One reference shift for all three parts (the first batch's mean).
                    ref = parts[0].ref if parts[0] is not None else phi.mean(axis=0)
                    parts[p_idx] = Moments.empty(ref, h.shape[1])
                parts[p_idx].add(phi, h[sl])  # type: ignore[union-attr]
        return parts[0], parts[1], parts[2]  # type: ignore[return-value]


def ridge_probe(
    ridges: list[float] = [1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1.0, 10.0],  # noqa: B006
    inner_val_fraction: float = 0.25,
    budget_mb: int = 64,
) -> RidgeProbe:
    """Held-out R² of a ridge probe from each layer's activations to h* (per component).

    Args:
        ridges: relative ridge grid; the absolute ridge is ``λ · tr(Cov φ) / p``.
        inner_val_fraction: share of the fitting half used to choose the ridge.
        budget_mb: activation memory per evaluation batch, in MiB.
    """
    if not ridges or any((not isinstance(v, int | float)) or v <= 0 for v in ridges):
        raise ParameterError(f"ridges must be a non-empty list of positive numbers, got {ridges!r}")
    if not 0 < inner_val_fraction < 1:
        raise ParameterError(f"inner_val_fraction must be in (0, 1), got {inner_val_fraction!r}")
    check_positive_int("budget_mb", budget_mb)
    return RidgeProbe(ridges, inner_val_fraction, budget_mb)
