"""Every first-party target passes tlkit.testing.check_target; check_target catches defects."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from tlkit.plugins import PluginHost
from tlkit.testing import check_target
from tlkit_targets.plugin import TARGETS
from tlkit_targets.quadratic import QuadraticFeature
from tlkit_targets.single_index import SingleIndex

#: a small Monte Carlo budget keeps the default suite fast
FAST = {"batch_size": 256, "n_batches": 8}

VARIANTS: list[tuple[str, dict[str, Any]]] = [
    ("single-index", {"link": "relu", "noise_std": 0.3}),
    ("quadratic-feature", {}),
    ("hierarchical-polynomial", {}),
    ("multi-quadratic", {}),
    ("depth-separation", {}),
    ("depth-separation", {"construction": "radial", "g": "relu", "noise_std": 0.1}),
]
#: more parameter combinations, run by the slow suite
SLOW_VARIANTS: list[tuple[str, dict[str, Any]]] = [
    ("single-index", {}),
    ("single-index", {"link": "polynomial", "link_coefficients": [0, 1, 1]}),
    ("quadratic-feature", {"a_kind": "gaussian", "link": "tanh", "d": 9}),
    ("quadratic-feature", {"a_kind": "low-rank", "rank": 3, "noise_std": 0.1}),
    ("quadratic-feature", {"a_kind": "rotated-diagonal", "d": 32}),
    ("hierarchical-polynomial", {"k": 2, "q": 2, "d": 6}),
    ("multi-quadratic", {"link": "product", "a_kind": "gaussian", "r": 3}),
    ("multi-quadratic", {"link": "norm-squared", "r": 4}),
]


@pytest.fixture(scope="module")
def registered() -> dict[str, Any]:
    """The targets as the host registers them through the entry point."""
    host = PluginHost(load_entry_points=True, strict=True)
    registry = host.ensure_registered()
    return {name: registry.get("target", name) for name in TARGETS}


def test_all_families_registered_with_descriptions(registered: dict[str, Any]) -> None:
    assert set(registered) == {
        "single-index",
        "quadratic-feature",
        "hierarchical-polynomial",
        "multi-quadratic",
        "depth-separation",
    }
    for component in registered.values():
        assert component.plugin == "targets"
        assert component.description


@pytest.mark.parametrize(
    ("name", "params"),
    VARIANTS + [pytest.param(*v, marks=pytest.mark.slow) for v in SLOW_VARIANTS],
)
def test_first_party_target_passes_check(
    registered: dict[str, Any], name: str, params: dict[str, Any]
) -> None:
    target = registered[name].factory(seed=1, **params)
    check_target(target, energy_kwargs=FAST)
    # The manifest route: params rebuild the same ground truth.
    rebuilt = registered[name].factory(**target.params)
    X, _ = target.sample(jax.random.PRNGKey(0), 16, dtype=jnp.float64)
    np.testing.assert_array_equal(np.asarray(rebuilt.function(X)), np.asarray(target.function(X)))


# -- deliberately broken targets ---------------------------------------------------------


class WrongDtype(SingleIndex):
    def sample(self, key, n, dtype=jnp.float32):  # type: ignore[no-untyped-def]
        X, y = super().sample(key, n, dtype=jnp.float64)
        return X, y


class NonDeterministic(SingleIndex):
    calls = 0

    def sample(self, key, n, dtype=jnp.float32):  # type: ignore[no-untyped-def]
        NonDeterministic.calls += 1
        return super().sample(jax.random.fold_in(key, self.calls), n, dtype)


class InconsistentFeature(SingleIndex):
    def function(self, X):  # type: ignore[no-untyped-def]
        return self.link(X[:, 0])


class FalselyNormalized(QuadraticFeature):
    normalized = True  # Var f* is ~0.5 on the sphere at d = 16, not 1


class EnergyTooLarge(SingleIndex):
    def _degree_energy(self, max_degree, batch_size, n_batches):  # type: ignore[no-untyped-def]
        e = super()._degree_energy(max_degree, batch_size, n_batches)
        return type(e)(e.energy * 2, None, "exact", e.variance)


class NoisyWithoutSaying(SingleIndex):
    def sample(self, key, n, dtype=jnp.float32):  # type: ignore[no-untyped-def]
        X, y = super().sample(key, n, dtype)
        return X, y + 0.1 * jax.random.normal(jax.random.fold_in(key, 9), (n,), dtype)


class BadFeatureScale(QuadraticFeature):
    feature_scale = 1.0  # the exact scale is sqrt(2d/(d+2))

    def __init__(self) -> None:
        super().__init__()
        self.feature_scale = 1.0


@pytest.mark.parametrize(
    ("broken", "message"),
    [
        (WrongDtype(d=4), "dtype float64 by default, expected float32"),
        (NonDeterministic(d=4), "not deterministic in the key"),
        (InconsistentFeature(d=4), r"function\(X\) != link"),
        (FalselyNormalized(), "metadata says normalized"),
        (EnergyTooLarge(d=4), "degree energies 1..6 sum to 2"),
        (NoisyWithoutSaying(d=4), "noise_std is 0 but sample y != function"),
        (BadFeatureScale(), "standardized feature has variance"),
    ],
)
def test_check_target_catches_broken_targets(broken: Any, message: str) -> None:
    with pytest.raises(AssertionError, match=message):
        check_target(broken, energy_kwargs=FAST)


class OffScaleLink(SingleIndex):
    """The audit's defect: the link scaled by ``factor``, exact energies of the true link.

    Var f* = factor**2 (about 5 % off for factor 1.025) while degree_energy still
    reports energies summing to variance 1.
    """

    def __init__(self, factor: float, claims_normalized: bool) -> None:
        super().__init__(d=8, seed=1)
        self.factor = factor
        self.normalized = claims_normalized

    def link(self, z):  # type: ignore[no-untyped-def]
        return self.factor * self.g(z)


@pytest.mark.parametrize("factor", [1.025, 0.975])
def test_check_target_catches_link_off_by_two_and_a_half_percent_as_not_normalized(
    factor: float,
) -> None:
    with pytest.raises(AssertionError, match="metadata says normalized, but the sample Var"):
        check_target(OffScaleLink(factor, claims_normalized=True))


@pytest.mark.parametrize("factor", [1.025, 0.975])
def test_check_target_catches_exact_energy_variance_off_by_five_percent(factor: float) -> None:
    # Not claimed normalized: only the comparison of degree_energy's exact variance
    # (1) with the sample Var f* (factor**2) can catch it.
    with pytest.raises(AssertionError, match="degree_energy variance 1 but the sample Var"):
        check_target(OffScaleLink(factor, claims_normalized=False))


def test_check_target_rejects_non_target() -> None:
    with pytest.raises(AssertionError, match="missing a Target attribute"):
        check_target(object())


class OffScaleQuadratic(QuadraticFeature):
    """Monte Carlo energies, exact variance from the link's monomials; link off by ``factor``."""

    def __init__(self, factor: float) -> None:
        super().__init__(d=8, seed=1)
        self.factor = factor
        self.normalized = False

    def link(self, z):  # type: ignore[no-untyped-def]
        return self.factor * super().link(z)


@pytest.mark.parametrize("factor", [1.025, 0.975])
def test_check_target_holds_an_exact_variance_of_monte_carlo_energies_to_the_sample(
    factor: float,
) -> None:
    # degree_energy is Monte Carlo but its variance is the family's exact one
    # (variance_stderr 0): a 5 % error in Var f* is caught, not hidden by the slack
    # that an estimated variance needs.
    with pytest.raises(AssertionError, match="degree_energy variance 0.3247 but the sample Var"):
        check_target(OffScaleQuadratic(factor))
