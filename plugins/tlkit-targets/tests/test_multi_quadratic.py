"""multi-quadratic: orthonormal trace-free A_j, uncorrelated unit features, errors."""

from __future__ import annotations

import itertools
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from numpy.polynomial import hermite_e
from tlkit.errors import ParameterError
from tlkit_targets.multi_quadratic import MultiQuadratic


@pytest.mark.parametrize("a_kind", ["block-diagonal", "gaussian"])
def test_matrices_are_orthonormal_and_tracefree(a_kind: str) -> None:
    t = MultiQuadratic(d=12, r=3, a_kind=a_kind)
    for A in t.As:
        np.testing.assert_allclose(A, A.T, atol=1e-14)
        assert np.trace(A) == pytest.approx(0.0, abs=1e-12)
    gram = np.einsum("aij,bij->ab", t.As, t.As)
    np.testing.assert_allclose(gram, np.eye(3), atol=1e-12)


def test_standardized_features_are_uncorrelated_unit() -> None:
    n = 200_000
    t = MultiQuadratic(d=8, r=2, a_kind="gaussian")
    X, _ = t.sample(jax.random.PRNGKey(0), n, dtype=jnp.float64)
    z = np.asarray(t.standardize(t.feature(X)))
    cov = z.T @ z / n
    # sd of each entry of the sample covariance is below sqrt(E z^4 / n) < 2/sqrt(n)
    np.testing.assert_allclose(cov, np.eye(2), atol=6 * 2 / math.sqrt(n))


def test_norm_squared_link_formula() -> None:
    t = MultiQuadratic(d=8, r=2, link="norm-squared")
    z = jnp.asarray([[1.0, 2.0], [0.0, 0.0]], dtype=jnp.float64)
    np.testing.assert_allclose(np.asarray(t.link(z)), [(5 - 2) / 2, -2 / 2])


def psi_default(z: np.ndarray) -> np.ndarray:
    """The default scalar link (h1 + h3)/sqrt(2), h3 = (z^3 - 3z)/sqrt(6): mean 0, variance 1."""
    return (z + (z**3 - 3 * z) / math.sqrt(6)) / math.sqrt(2)


def psi_relu(z: np.ndarray) -> np.ndarray:
    """relu centred and scaled under N(0, 1): E relu = 1/sqrt(2 pi), E relu^2 = 1/2."""
    return (np.maximum(z, 0) - 1 / math.sqrt(2 * math.pi)) / math.sqrt(0.5 - 1 / (2 * math.pi))


@pytest.mark.parametrize(("scalar_link", "psi"), [("hermite", psi_default), ("relu", psi_relu)])
def test_sum_link_formula(scalar_link: str, psi) -> None:  # type: ignore[no-untyped-def]
    r = 3
    t = MultiQuadratic(d=12, r=r, link="sum", scalar_link=scalar_link)
    z = np.random.default_rng(0).standard_normal((20, r)) * 1.5
    expected = psi(z).sum(axis=1) / math.sqrt(r)
    # relu's offset and scale come from a numerical integral (accurate to ~1e-9)
    np.testing.assert_allclose(np.asarray(t.link(jnp.asarray(z))), expected, rtol=1e-7, atol=1e-8)


def test_product_link_formula() -> None:
    t = MultiQuadratic(d=12, r=3, link="product")
    z = np.random.default_rng(1).standard_normal((20, 3)) * 1.5
    np.testing.assert_allclose(
        np.asarray(t.link(jnp.asarray(z))), z[:, 0] * z[:, 1] * z[:, 2], rtol=1e-12
    )


@pytest.mark.parametrize("r", [2, 3])
def test_sum_link_has_mean_0_variance_1_under_independent_gaussians(r: int) -> None:
    # Tensor Gauss-Hermite quadrature over r independent N(0, 1) inputs; exact here,
    # since link^2 is a polynomial of degree 6 in each coordinate.
    t = MultiQuadratic(d=8, r=r, link="sum")
    nodes, weights = hermite_e.hermegauss(8)
    weights = weights / weights.sum()
    Z = np.array(list(itertools.product(nodes, repeat=r)))
    W = np.prod(np.array(list(itertools.product(weights, repeat=r))), axis=1)
    g = np.asarray(t.link(jnp.asarray(Z)))
    mean = np.sum(W * g)
    assert mean == pytest.approx(0.0, abs=1e-12)
    assert np.sum(W * g**2) - mean**2 == pytest.approx(1.0, rel=1e-10)


@pytest.mark.parametrize(
    ("kwargs", "pattern"),
    [
        ({"d": 8, "r": 8}, r"r must satisfy 1 <= r < d=8; got 8"),
        ({"d": 8, "r": 5}, r"r must satisfy 2 r <= d for a_kind='block-diagonal'"),
        ({"link": "max"}, r"link must be one of 'sum', 'product', 'norm-squared'"),
        ({"scalar_link": "abs"}, r"scalar_link must be one of 'hermite', 'relu'"),
        ({"noise_std": -1e-3}, r"noise_std must be a finite number >= 0"),
    ],
)
def test_bad_parameters(kwargs: dict, pattern: str) -> None:
    with pytest.raises(ParameterError, match=pattern):
        MultiQuadratic(**kwargs)
