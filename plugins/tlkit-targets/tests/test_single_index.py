"""single-index: unit beta, exact energies against NumPy quadrature, errors."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from tlkit.errors import ParameterError
from tlkit_targets.single_index import SingleIndex


def test_beta_is_unit_and_seeded() -> None:
    t = SingleIndex(d=12, seed=3)
    assert np.linalg.norm(t.beta) == pytest.approx(1.0, abs=1e-12)
    np.testing.assert_array_equal(SingleIndex(**t.params).beta, t.beta)
    assert not np.array_equal(SingleIndex(d=12, seed=4).beta, t.beta)


@pytest.mark.parametrize("link", ["hermite", "relu", "tanh"])
def test_unit_variance_by_monte_carlo(link: str) -> None:
    n = 100_000
    t = SingleIndex(d=8, link=link)
    _, y = t.sample(jax.random.PRNGKey(0), n, dtype=jnp.float64)
    y = np.asarray(y)
    c = y - y.mean()
    se = math.sqrt(np.mean(c**4) - np.mean(c**2) ** 2) / math.sqrt(n)
    assert abs(np.var(y) - 1.0) < 6 * se
    assert abs(y.mean()) < 6 * y.std() / math.sqrt(n)


def relu_hermite(k: int) -> float:
    """Closed form of E[relu(z) h_k(z)] (k >= 2 even: (-1)^(k/2-1) (k-3)!! / sqrt(2 pi k!))."""
    if k == 0:
        return 1 / math.sqrt(2 * math.pi)
    if k == 1:
        return 0.5
    if k % 2:
        return 0.0
    double_factorial = math.prod(range(k - 3, 0, -2)) if k > 3 else 1
    return (-1) ** (k // 2 - 1) * double_factorial / math.sqrt(2 * math.pi * math.factorial(k))


def test_relu_energies_match_closed_form() -> None:
    t = SingleIndex(d=4, link="relu")
    e = t.degree_energy(8)
    assert e.method == "exact" and e.stderr is None
    scale = math.sqrt(0.5 - 1 / (2 * math.pi))
    expected = [0.0] + [(relu_hermite(k) / scale) ** 2 for k in range(1, 9)]
    np.testing.assert_allclose(e.energy, expected, atol=1e-9)
    assert e.variance == pytest.approx(1.0, abs=1e-9)


def test_information_exponent_reported() -> None:
    t = SingleIndex(d=4, link="hermite", link_coefficients=[0, 0, 1, 1])
    assert t.metadata()["information_exponent"] == 2
    assert SingleIndex(d=4, link="relu").metadata()["information_exponent"] == 1


def test_given_beta_used_and_checked() -> None:
    beta = np.zeros(4)
    beta[2] = 1.0
    t = SingleIndex(d=4, beta=beta.tolist())
    X = jnp.eye(4, dtype=jnp.float64)
    np.testing.assert_allclose(np.asarray(t.feature(X)), beta)
    with pytest.raises(ParameterError, match=r"beta must have unit norm \(\|\|beta\|\| = 1\)"):
        SingleIndex(d=4, beta=[1.0, 1.0, 0.0, 0.0])
    with pytest.raises(ParameterError, match="beta must be a finite list of d=4 numbers"):
        SingleIndex(d=4, beta=[1.0])


@pytest.mark.parametrize(
    ("kwargs", "pattern"),
    [
        ({"link": "softplus"}, r"link must be one of 'hermite', 'relu', 'tanh', 'polynomial'"),
        ({"noise_std": -1.0}, r"noise_std must be a finite number >= 0"),
        ({"d": 0}, r"d must be an integer >= 1; got 0"),
    ],
)
def test_bad_parameters(kwargs: dict, pattern: str) -> None:
    with pytest.raises(ParameterError, match=pattern):
        SingleIndex(**kwargs)


def test_label_noise_has_requested_sd() -> None:
    n = 50_000
    t = SingleIndex(d=4, noise_std=0.5)
    X, y = t.sample(jax.random.PRNGKey(1), n, dtype=jnp.float64)
    r = np.asarray(y - t.function(X))
    assert abs(r.std() - 0.5) < 6 * 0.5 / math.sqrt(2 * n)
