"""The ``feature`` probe: corr(φ̂, h*) for networks with a scalar learned feature."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from tlkit.errors import ProbeNotApplicable
from tlkit.types import ProbeOutput

from tlkit_probes._common import check_positive_int, map_rows, model_batch_rows, pearson

NAME = "feature"


def learned_feature_fn(model: Any, X_probe: Any) -> Any:
    """The model's ``learned_feature`` method, or ProbeNotApplicable saying why not."""
    fn = getattr(model, "learned_feature", None)
    if fn is None or not callable(fn):
        raise ProbeNotApplicable(
            f"{type(model).__name__} has no learned_feature(); corr(phi_hat, h*) needs a "
            "network with a scalar learned feature (use ridge-probe instead)"
        )
    if fn(X_probe) is None:
        raise ProbeNotApplicable(
            f"{type(model).__name__}.learned_feature() returned None: the network has no "
            "scalar learned feature in its current state (use ridge-probe instead)"
        )
    return fn


class FeatureProbe:
    """Pearson correlation between the learned feature φ̂ and the true feature h*."""

    def __init__(self, budget_mb: int) -> None:
        self.budget = budget_mb * 2**20

    def __call__(self, run: Any) -> Mapping[str, ProbeOutput]:
        X, _ = run.test_data()
        h = np.asarray(run.target.feature(X[:2]))
        if h.ndim > 1 and h.shape[1] > 1:
            raise ProbeNotApplicable(
                f"h* has {h.shape[1]} components; a scalar feature cannot be compared with a "
                "vector feature (ridge-probe reports R^2 per component)"
            )
        fn = learned_feature_fn(run.model, X[:2])
        rows = model_batch_rows(run.model, X, self.budget)
        phi = map_rows(fn, X, rows).ravel()
        h_star = np.asarray(run.target.feature(X), dtype=np.float64).ravel()
        corr = pearson(phi, h_star, NAME)
        return {
            "corr": ProbeOutput(
                np.float64(corr),
                units="1",
                long_name="Pearson correlation corr(phi_hat, h*) on the test set (signed)",
            )
        }


def feature(budget_mb: int = 64) -> FeatureProbe:
    """Correlation of the network's scalar learned feature with the target's feature h*.

    Args:
        budget_mb: activation memory per evaluation batch, in MiB.
    """
    check_positive_int("budget_mb", budget_mb)
    return FeatureProbe(budget_mb)
