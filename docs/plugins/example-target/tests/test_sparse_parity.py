"""The sparse-parity target: the tlkit contract, its ground truth, its errors."""

from __future__ import annotations

import itertools
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import tlkit  # noqa: F401  (enables float64 before arrays are created)
from tlkit.errors import ParameterError
from tlkit.plugins import PluginHost
from tlkit.testing import check_target

from tlkit_sparse_parity import SparseParity


@pytest.mark.parametrize(("d", "k", "noise_std"), [(8, 3, 0.0), (5, 1, 0.2), (6, 6, 0.0)])
def test_passes_check_target(d: int, k: int, noise_std: float) -> None:
    check_target(SparseParity(d=d, k=k, noise_std=noise_std, seed=1))


def test_walsh_coefficients_by_enumeration() -> None:
    # Reference: enumerate all 2^d points and compute every Walsh coefficient E[f chi_T].
    d, k = 6, 2
    t = SparseParity(d=d, k=k, seed=3)
    X = np.array(list(itertools.product([-1.0, 1.0], repeat=d)))
    f = np.asarray(t.function(jnp.asarray(X)))
    energy = np.zeros(d + 1)
    for size in range(d + 1):
        for T in itertools.combinations(range(d), size):
            chi = np.prod(X[:, list(T)], axis=1) if T else np.ones(len(X))
            energy[size] += np.mean(f * chi) ** 2
    np.testing.assert_allclose(t.degree_energy(d).energy, energy, atol=1e-12)


def test_labels_depend_only_on_support() -> None:
    t = SparseParity(d=10, k=3, seed=0)
    X, y = t.sample(jax.random.PRNGKey(0), 256, dtype=jnp.float64)
    others = [i for i in range(10) if i not in t.support]
    flipped = np.asarray(X).copy()
    flipped[:, others] *= -1
    np.testing.assert_array_equal(np.asarray(t.function(jnp.asarray(flipped))), np.asarray(y))
    assert math.isclose(float(jnp.mean(y**2)), 1.0)


@pytest.mark.parametrize(
    ("kwargs", "pattern"),
    [
        ({"d": 4, "k": 5}, r"k must be an integer with 1 <= k <= d=4; got 5"),
        ({"k": 0}, r"k must be an integer with 1 <= k <= d=16; got 0"),
        ({"noise_std": -1.0}, r"noise_std must be a number >= 0"),
    ],
)
def test_bad_parameters(kwargs: dict, pattern: str) -> None:
    with pytest.raises(ParameterError, match=pattern):
        SparseParity(**kwargs)


def test_registered_through_entry_point() -> None:
    component = (
        PluginHost(load_entry_points=True).ensure_registered().get("target", "sparse-parity")
    )
    assert component.factory is SparseParity
