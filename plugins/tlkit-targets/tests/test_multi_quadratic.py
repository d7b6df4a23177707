"""multi-quadratic: orthonormal trace-free A_j, uncorrelated unit features, errors."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
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
