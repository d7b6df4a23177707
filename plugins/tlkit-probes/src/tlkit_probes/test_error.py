"""The ``test`` probe: test MSE against the noiseless target, raw and normalized."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from tlkit.types import ProbeOutput

from tlkit_probes._common import (
    check_positive_int,
    map_rows,
    model_batch_rows,
    safe_ratio,
    warn,
)

NAME = "test"


class TestErrorProbe:
    """Test MSE ``E[(f̂ - f*)²]`` and its normalization by the measured ``Var f*``."""

    # Not a pytest test class despite the name.
    __test__ = False

    def __init__(self, budget_mb: int) -> None:
        self.budget = budget_mb * 2**20

    def __call__(self, run: Any) -> Mapping[str, ProbeOutput]:
        X, _ = run.test_data()
        rows = model_batch_rows(run.model, X, self.budget)
        f_hat = map_rows(run.model, X, rows).astype(np.float64).ravel()
        f_star = np.asarray(run.target.function(X), dtype=np.float64).ravel()
        if not np.all(np.isfinite(f_hat)):
            warn(NAME, "the network's predictions are not all finite; errors set to NaN")
            mse = float("nan")
        else:
            mse = float(np.mean((f_hat - f_star) ** 2))
        # SCIENCE.md §6: divide by the variance of f* measured on this test set, not by
        # the nominal variance of the target (which is not 1 on the sphere).
        var = float(np.var(f_star))
        normalized = safe_ratio(mse, var, NAME, "Var f* on the test set") if mse == mse else mse
        return {
            "mse": ProbeOutput(np.float64(mse), units="1", long_name="test MSE E[(f_hat - f*)^2]"),
            "normalized_mse": ProbeOutput(
                np.float64(normalized),
                units="1",
                long_name="normalized test MSE E[(f_hat - f*)^2] / Var f* (measured)",
            ),
        }


def test_error(budget_mb: int = 64) -> TestErrorProbe:
    """Test error of the network against the noiseless target on the run's test set.

    Args:
        budget_mb: activation memory per evaluation batch, in MiB.
    """
    check_positive_int("budget_mb", budget_mb)
    return TestErrorProbe(budget_mb)


# The factory's name starts with "test"; keep pytest from collecting it if imported.
test_error.__test__ = False  # type: ignore[attr-defined]
