"""The ``feature`` probe: corr(phi_hat, h*) and when it does not apply."""

from __future__ import annotations

import numpy as np
import pytest
from probe_fakes import FakeNet, FakeTarget, make_run
from tlkit.errors import ParameterError, ProbeNotApplicable
from tlkit_probes._common import ProbeWarning
from tlkit_probes.feature import feature


def test_corr_matches_numpy_corrcoef(fake_run) -> None:
    out = feature()(fake_run)
    X, _ = fake_run.test_data()
    Xn = np.asarray(X, dtype=np.float64)
    net = fake_run.model
    phi = 2 * Xn @ net.beta + 1 + net.feature_noise * Xn @ net.noise_dir
    expected = np.corrcoef(phi, Xn @ fake_run.target.beta)[0, 1]
    np.testing.assert_allclose(float(out["corr"].values), expected, rtol=1e-5)
    assert out["corr"].dims == ()


def test_exact_affine_feature_has_corr_one_and_sign_is_kept() -> None:
    target = FakeTarget(d=5)
    run = make_run(target, FakeNet(5, target.beta, feature_noise=0.0))
    assert abs(float(feature()(run)["corr"].values) - 1) < 1e-5
    run = make_run(target, FakeNet(5, -target.beta, feature_noise=0.0))
    assert abs(float(feature()(run)["corr"].values) + 1) < 1e-5


def test_model_without_learned_feature_is_not_applicable() -> None:
    class NoFeature:
        def __call__(self, X):
            return X[:, 0]

    target = FakeTarget(d=3)
    with pytest.raises(ProbeNotApplicable, match="no learned_feature"):
        feature()(make_run(target, NoFeature()))


def test_feature_none_is_not_applicable() -> None:
    target = FakeTarget(d=3)
    with pytest.raises(ProbeNotApplicable, match="returned None"):
        feature()(make_run(target, FakeNet(3, None)))


def test_vector_feature_is_not_applicable() -> None:
    target = FakeTarget(d=5, r=2)
    with pytest.raises(ProbeNotApplicable, match="2 components"):
        feature()(make_run(target, FakeNet(5, target.beta)))


def test_constant_feature_gives_nan_with_warning() -> None:
    target = FakeTarget(d=3)
    run = make_run(target, FakeNet(3, np.zeros(3), feature_noise=0.0))
    with pytest.warns(ProbeWarning, match="probe 'feature'"):
        out = feature()(run)
    assert np.isnan(out["corr"].values)


def test_bad_parameter() -> None:
    with pytest.raises(ParameterError, match="budget_mb"):
        feature(budget_mb=0)
