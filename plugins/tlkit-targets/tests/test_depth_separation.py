"""depth-separation: standardized features, link shapes, energies' parity, errors."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from tlkit.errors import ParameterError
from tlkit_targets.depth_separation import DepthSeparation


@pytest.mark.parametrize("construction", ["radial", "daniely"])
def test_feature_standardized(construction: str) -> None:
    n = 200_000
    t = DepthSeparation(d=10, construction=construction)
    X, _ = t.sample(jax.random.PRNGKey(2), n, dtype=jnp.float64)
    z = np.asarray(t.standardize(t.feature(X)))
    assert abs(z.mean()) < 6 / math.sqrt(n)
    assert abs(np.mean(z**2) - 1) < 6 * (z**2).std() / math.sqrt(n)


def test_daniely_inputs_on_two_spheres() -> None:
    t = DepthSeparation(d=10, construction="daniely")
    X, _ = t.sample(jax.random.PRNGKey(0), 64, dtype=jnp.float64)
    X = np.asarray(X)
    np.testing.assert_allclose(np.linalg.norm(X[:, :5], axis=1), math.sqrt(5), rtol=1e-12)
    np.testing.assert_allclose(np.linalg.norm(X[:, 5:], axis=1), math.sqrt(5), rtol=1e-12)


def test_sin_link_and_frequency() -> None:
    t = DepthSeparation(d=4, g="sin", frequency=3.0)
    z = jnp.linspace(-1, 1, 5, dtype=jnp.float64)
    np.testing.assert_allclose(np.asarray(t.link(z)), np.sin(3 * np.linspace(-1, 1, 5)))


def test_radial_energy_only_even_degrees() -> None:
    # A radial function is even: odd Hermite degrees vanish.
    t = DepthSeparation(d=6, construction="radial", g="relu")
    e = t.degree_energy(5, batch_size=256, n_batches=16)
    assert e.stderr is not None
    assert np.all(np.abs(e.energy[1::2]) <= 6 * e.stderr[1::2] + 1e-3)
    assert e.energy[2] > 6 * e.stderr[2]


@pytest.mark.parametrize(
    ("kwargs", "pattern"),
    [
        ({"d": 9}, r"d must be even for construction='daniely'.*got 9"),
        ({"frequency": 0.0}, r"frequency must be a finite number > 0"),
        ({"g": "cos"}, r"g must be one of 'relu', 'sin'"),
        ({"construction": "eldan"}, r"construction must be one of 'radial', 'daniely'"),
        ({"noise_std": -2.0}, r"noise_std must be a finite number >= 0"),
    ],
)
def test_bad_parameters(kwargs: dict, pattern: str) -> None:
    with pytest.raises(ParameterError, match=pattern):
        DepthSeparation(**kwargs)
