"""The ``test`` probe against a NumPy reference, and its failure paths."""

from __future__ import annotations

import numpy as np
import pytest
from probe_fakes import FakeNet, FakeTarget, make_run
from tlkit.errors import ParameterError
from tlkit_probes._common import ProbeWarning
from tlkit_probes.test_error import test_error as make_probe


def test_mse_matches_numpy(fake_run) -> None:
    out = make_probe()(fake_run)
    X, _ = fake_run.test_data()
    Xn = np.asarray(X, dtype=np.float64)
    net = fake_run.model
    # Independent reference: the net's forward pass and f* written out in NumPy.
    h2 = np.maximum(np.maximum(Xn @ net.V, 0) @ net.W, 0)
    f_hat = h2 @ net.a
    h = Xn @ fake_run.target.beta
    f_star = h + 0.5 * h**2
    mse = np.mean((f_hat - f_star) ** 2)
    np.testing.assert_allclose(float(out["mse"].values), mse, rtol=1e-5)
    np.testing.assert_allclose(float(out["normalized_mse"].values), mse / np.var(f_star), rtol=1e-5)
    assert out["mse"].dims == () and out["normalized_mse"].dims == ()


def test_zero_predictor_normalized_error_is_second_moment_over_variance() -> None:
    target = FakeTarget(d=4)
    run = make_run(target, FakeNet(4, target.beta, output="zero"), n_test=4096)
    out = make_probe()(run)
    X, _ = run.test_data()
    f_star = np.asarray(target.function(X), dtype=np.float64)
    expected = np.mean(f_star**2) / np.var(f_star)
    np.testing.assert_allclose(float(out["normalized_mse"].values), expected, rtol=1e-5)
    # Population value for h + h^2/2, h ~ N(0,1): E f^2 = 1 + 3/4, Var f = 1 + 1/2.
    assert abs(float(out["normalized_mse"].values) - 1.75 / 1.5) < 0.1


def test_small_batches_give_the_same_answer(fake_run) -> None:
    full = make_probe()(fake_run)
    tiny = make_probe(budget_mb=1)
    tiny.budget = 4096  # a few rows per batch: exercises the batching path
    out = tiny(fake_run)
    np.testing.assert_allclose(out["mse"].values, full["mse"].values, rtol=1e-6)


def test_constant_target_gives_nan_with_warning() -> None:
    target = FakeTarget(d=4)
    target.function = lambda X: 0.0 * X[:, 0] + 1.0  # type: ignore[method-assign]
    run = make_run(target, FakeNet(4, target.beta))
    with pytest.warns(ProbeWarning, match="probe 'test'.*Var f"):
        out = make_probe()(run)
    assert np.isnan(out["normalized_mse"].values)
    assert np.isfinite(out["mse"].values)


def test_nan_predictions_give_nan_with_warning() -> None:
    target = FakeTarget(d=4)
    run = make_run(target, FakeNet(4, target.beta, output="nan"))
    with pytest.warns(ProbeWarning, match="probe 'test'"):
        out = make_probe()(run)
    assert np.isnan(out["mse"].values) and np.isnan(out["normalized_mse"].values)


@pytest.mark.parametrize("bad", [0, -3, 1.5, True])
def test_bad_budget_is_a_parameter_error(bad) -> None:
    with pytest.raises(ParameterError, match=f"budget_mb.*{bad!r}"):
        make_probe(budget_mb=bad)
