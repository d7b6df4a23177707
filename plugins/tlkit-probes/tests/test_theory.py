"""The ``theory`` probe against closed forms."""

from __future__ import annotations

import math

import numpy as np
import pytest
from probe_fakes import FakeNet, FakeTarget, make_run, relu_nngp_numpy
from tlkit.errors import ParameterError
from tlkit.testing import check_probe
from tlkit.types import DegreeEnergy
from tlkit_probes.theory import harmonic_dimension, theory


class QuadTarget(FakeTarget):
    """Adds metadata (feature degree 2) and an exact degree energy of h + h^2/2."""

    def metadata(self):
        return {"input_distribution": "gaussian", "d": self.d, "feature_degree": 2}

    def degree_energy(self, max_degree=6):
        e = np.zeros(max_degree + 1)
        e[0], e[1], e[2] = 0.25, 1.0, 0.5
        return DegreeEnergy(energy=e, stderr=None, method="exact", variance=1.5)


def test_relu_coefficients_eigenvalues_and_threshold() -> None:
    target = QuadTarget(d=8)
    run = make_run(target, FakeNet(8, target.beta), n_test=512)
    out = check_probe(theory(activation="relu", mc_points=2048, eval_points=256), run)
    c = out["hermite_coefficients"].values
    # relu(z) = z/2 + |z|/2: c0 = 1/sqrt(2 pi), c1 = 1/2, c2 = 1/(2 sqrt(pi)), c3 = 0.
    np.testing.assert_allclose(
        c[:4], [1 / math.sqrt(2 * math.pi), 0.5, 1 / (2 * math.sqrt(math.pi)), 0], atol=1e-8
    )
    np.testing.assert_allclose(out["kernel_eigenvalues"].values[2], c[2] ** 2 / (8 * 9 / 2 - 1))
    assert out["threshold_exponent"].values == 3  # ReLU has c1 != 0: one extra power of d
    assert out["threshold"].values == 8.0**3
    np.testing.assert_allclose(out["target_energy_fraction"].values[1:3], [2 / 3, 1 / 3])
    assert np.isnan(out["target_energy_fraction"].values[0])


def test_abs_activation_has_no_linear_part_and_threshold_d_squared() -> None:
    target = QuadTarget(d=8)
    run = make_run(target, FakeNet(8, target.beta), n_test=256)
    out = theory(activation="abs", mc_points=512, eval_points=128)(run)
    assert abs(out["hermite_coefficients"].values[1]) < 1e-8
    assert out["threshold_exponent"].values == 2


def test_population_feature_of_the_linear_kernel_is_the_linear_part() -> None:
    # K(x, x') = x.x'/d, f* = h + h^2/2 with h = beta.x: (K f*)(x) = beta.x / d exactly.
    target = FakeTarget(d=4)
    run = make_run(target, FakeNet(4, target.beta), n_test=2048)
    out = theory(activation="identity", mc_points=16384, eval_points=2048)(run)
    assert out["population_corr"].values > 0.97
    assert abs(out["population_norm"].values - 1 / 4) < 0.1 / 4


def test_population_feature_of_the_relu_kernel_matches_a_numpy_monte_carlo() -> None:
    # The relu kernel has a constant part (E_x' K(x, x') != 0), so centring f* matters:
    # uncentred, the RMS norm here is ~0.12 instead of ~0.066 and the correlation ~0.86.
    d, M, n_eval = 4, 32768, 256
    target = FakeTarget(d=d)
    run = make_run(target, FakeNet(d, target.beta), n_test=n_eval, dtype="float64")
    out = theory(activation="relu", mc_points=M, eval_points=n_eval)(run)
    # Reference: an independent sample, f* = h + h^2/2 centred by its exact mean E f* = 1/2.
    X = np.asarray(run.test_data()[0], dtype=np.float64)
    Xr = np.random.default_rng(11).standard_normal((M, d))
    h = Xr @ target.beta
    terms = relu_nngp_numpy(X, Xr) * (h + h**2 / 2 - 0.5)
    kf = terms.mean(axis=1)
    se = np.sqrt(np.mean(terms.var(axis=1) / M))  # RMS Monte Carlo error of one estimate
    # |RMS(a) - RMS(b)| <= RMS(a - b), about sqrt(2) se for two independent samples
    assert abs(out["population_norm"].values - np.sqrt(np.mean(kf**2))) < 5 * np.sqrt(2) * se
    ref_corr = np.corrcoef(kf, X @ target.beta)[0, 1]
    assert abs(out["population_corr"].values - ref_corr) < 0.02


def test_harmonic_dimension_matches_a_count_of_monomials() -> None:
    # N_k = C(k + d - 1, k) - C(k + d - 3, k - 2): for d = 3, 2k + 1.
    assert [harmonic_dimension(k, 3) for k in range(5)] == [1, 3, 5, 7, 9]


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"max_degree": 0}, "max_degree"),
        ({"mc_points": 1}, "mc_points"),
        ({"activation": "bogus"}, "activation"),
    ],
)
def test_bad_parameters(kwargs, name) -> None:
    with pytest.raises(ParameterError, match=name):
        theory(**kwargs)


def test_an_even_activation_cannot_learn_an_odd_feature_so_no_threshold() -> None:
    # h* = beta.x has degree 1; |z| - sqrt(2/pi) has c_1 = 0 (an even function), so its
    # kernel removes h* from K f*: the prediction is "no threshold", not d^1
    class LinearFeatureTarget(FakeTarget):
        def metadata(self):
            return {"feature_degree": 1}

    target = LinearFeatureTarget(d=8)
    run = make_run(target, FakeNet(8, target.beta), n_test=256)
    out = theory(activation="abs", mc_points=512, eval_points=128)(run)
    assert math.isnan(out["threshold_exponent"].values) and math.isnan(out["threshold"].values)
    assert out["learnable"].values == 0
    relu = theory(activation="relu", mc_points=512, eval_points=128)(run)
    assert relu["threshold_exponent"].values == 1  # c_1 != 0: learned at n ~ d
    assert relu["learnable"].values == 1


def test_algorithm_1_predictions_need_a_network_with_an_inner_activation() -> None:
    # a network without sigma2 (two-layer): its sigma is not Algorithm 1's sigma2, so no
    # population feature or threshold unless an activation is named
    target = QuadTarget(d=8)
    run = make_run(target, FakeNet(8, target.beta), n_test=256)
    assert getattr(run.model, "sigma2_name", None) is None
    auto = theory(mc_points=512, eval_points=128)(run)
    assert "threshold" not in auto and "population_norm" not in auto
    assert "hermite_coefficients" in auto and "target_energy" in auto
    run.model.sigma2_name = "relu"  # as a three-layer network has
    three = theory(mc_points=512, eval_points=128)(run)
    assert three["threshold"].values == 8.0**3 and "population_norm" in three


def test_monte_carlo_target_energies_come_with_their_standard_errors() -> None:
    class MonteCarloTarget(QuadTarget):
        def degree_energy(self, max_degree=6):
            e = super().degree_energy(max_degree)
            se = np.full(max_degree + 1, 0.01)
            return DegreeEnergy(e.energy, se, "monte-carlo", e.variance)

    target = MonteCarloTarget(d=8)
    run = make_run(target, FakeNet(8, target.beta), n_test=256)
    out = check_probe(theory(activation="relu", mc_points=512, eval_points=128), run)
    np.testing.assert_array_equal(out["target_energy_stderr"].values, np.full(7, 0.01))
    assert "may be slightly negative" in out["target_energy"].long_name
    exact = theory(activation="relu", mc_points=512, eval_points=128)(
        make_run(QuadTarget(d=8), FakeNet(8, target.beta), n_test=256)
    )
    assert "target_energy_stderr" not in exact
