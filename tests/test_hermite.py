"""tlkit.numerics.hermite against numpy.polynomial.hermite_e and closed forms."""

from __future__ import annotations

import math

import jax.numpy as jnp
import numpy as np
import pytest
from numpy.polynomial import hermite_e
from tlkit.numerics.hermite import hermite, hermite_coefficients, hermite_normalized

K_MAX = 10


def reference(z: np.ndarray, k: int) -> np.ndarray:
    """h_k = He_k / sqrt(k!) from NumPy's probabilists' Hermite series."""
    return hermite_e.hermeval(z, np.eye(k + 1)[k]) / math.sqrt(math.factorial(k))


def test_values_match_numpy() -> None:
    z = np.linspace(-4.0, 4.0, 17)
    H = hermite_normalized(z, K_MAX)
    assert H.shape == (17, K_MAX + 1)
    for k in range(K_MAX + 1):
        np.testing.assert_allclose(H[:, k], reference(z, k), rtol=1e-12, atol=1e-12)


def test_orthonormal_under_standard_gaussian() -> None:
    # Gauss-Hermite quadrature with 30 nodes is exact for degree <= 59 >= 2 * K_MAX.
    x, w = hermite_e.hermegauss(30)
    w = w / w.sum()
    H = hermite_normalized(x, K_MAX)
    gram = (H * w[:, None]).T @ H
    np.testing.assert_allclose(gram, np.eye(K_MAX + 1), atol=1e-12)


def test_jax_input_keeps_dtype_and_values() -> None:
    z = jnp.linspace(-2.0, 2.0, 5, dtype=jnp.float32)
    out = hermite(z, 4)
    assert isinstance(out, type(z)) and out.dtype == jnp.float32
    np.testing.assert_allclose(np.asarray(out), reference(np.asarray(z, np.float64), 4), rtol=1e-5)


def test_shape_of_batched_input() -> None:
    assert hermite_normalized(np.zeros((3, 2)), 0).shape == (3, 2, 1)


def test_coefficients_of_polynomial_are_exact() -> None:
    # z^3 = He_3 + 3 He_1 = sqrt(6) h_3 + 3 h_1
    c = hermite_coefficients(lambda z: z**3, 5)
    np.testing.assert_allclose(c, [0, 3, 0, math.sqrt(6), 0, 0], atol=1e-9)


def test_coefficients_with_scale() -> None:
    # (s z)^2 = s^2 (1 + sqrt(2) h_2)
    s = 0.7
    c = hermite_coefficients(lambda z: z**2, 3, scale=s)
    np.testing.assert_allclose(c, [s**2, 0, s**2 * math.sqrt(2), 0], atol=1e-9)


def test_relu_coefficients_closed_form() -> None:
    c = hermite_coefficients(lambda z: np.maximum(z, 0), 4)
    expected = [1 / math.sqrt(2 * math.pi), 0.5, 1 / math.sqrt(4 * math.pi), 0.0, 0.0]
    expected[4] = -1 / math.sqrt(2 * math.pi * math.factorial(4))  # -(1)!! / sqrt(2 pi 4!)
    np.testing.assert_allclose(c, expected, atol=1e-8)


@pytest.mark.parametrize("k", [0, 1, 5])
def test_single_polynomial_matches_stack(k: int) -> None:
    z = np.array([0.3, -1.2])
    np.testing.assert_allclose(hermite(z, k), reference(z, k), rtol=1e-12)
