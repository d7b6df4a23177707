"""Links: normalization constants and Hermite coefficients against closed forms."""

from __future__ import annotations

import math

import jax.numpy as jnp
import numpy as np
import pytest
from numpy.polynomial import hermite_e
from tlkit.errors import ParameterError
from tlkit_targets.links import ScalarLink


def gauss_expectation(fn, n=200):  # type: ignore[no-untyped-def]
    """E[fn(z)], z ~ N(0,1), by NumPy Gauss-Hermite quadrature (exact for polynomials)."""
    x, w = hermite_e.hermegauss(n)
    return float(np.sum(w * fn(x)) / np.sum(w))


def test_relu_normalization_matches_closed_form() -> None:
    g = ScalarLink("relu")
    assert g.offset == pytest.approx(1 / math.sqrt(2 * math.pi), abs=1e-8)
    assert g.scale == pytest.approx(math.sqrt(0.5 - 1 / (2 * math.pi)), abs=1e-8)
    # c_1 of relu is 1/2 before normalization.
    assert g.hermite(3)[1] == pytest.approx(0.5 / g.scale, abs=1e-8)
    assert g.information_exponent == 1
    assert g.degree is None


def test_default_hermite_link_is_unit_variance_degree_3() -> None:
    g = ScalarLink("hermite")
    z = np.linspace(-3, 3, 13)
    expected = (z + (z**3 - 3 * z) / math.sqrt(6)) / math.sqrt(2)
    np.testing.assert_allclose(np.asarray(g(jnp.asarray(z))), expected, rtol=1e-12)
    assert gauss_expectation(lambda x: g(x) ** 2) == pytest.approx(1.0, abs=1e-12)
    assert g.degree == 3


@pytest.mark.parametrize(
    ("kind", "coefficients", "exponent"),
    [
        ("hermite", [0.0, 0.0, 1.0], 2),
        ("hermite", [0.0, 0.0, 0.0, 1.0], 3),
        ("polynomial", [0.0, 0.0, 1.0], 2),  # z^2 = 1 + sqrt(2) h_2
        ("polynomial", [0.0, 1.0, 0.0, 1.0], 1),
        ("tanh", None, 1),
    ],
)
def test_information_exponent(kind: str, coefficients: list[float] | None, exponent: int) -> None:
    assert ScalarLink(kind, coefficients).information_exponent == exponent


def test_polynomial_link_hermite_coefficients_match_numpy_projection() -> None:
    g = ScalarLink("polynomial", [0.5, -1.0, 0.0, 2.0], normalize=False)
    for k in range(6):

        def hk(x: np.ndarray, k: int = k) -> np.ndarray:
            return hermite_e.hermeval(x, np.eye(k + 1)[k]) / math.sqrt(math.factorial(k))

        ref = gauss_expectation(lambda x, hk=hk: (0.5 - x + 2 * x**3) * hk(x))
        assert g.hermite(5)[k] == pytest.approx(ref, abs=1e-10)


def test_tanh_normalized_to_unit_gaussian_variance() -> None:
    g = ScalarLink("tanh")
    assert gauss_expectation(lambda x: np.asarray(g(x))) == pytest.approx(0.0, abs=1e-9)
    assert gauss_expectation(lambda x: np.asarray(g(x)) ** 2) == pytest.approx(1.0, abs=1e-8)


def test_link_keeps_float32() -> None:
    g = ScalarLink("hermite")
    assert g(jnp.ones(3, dtype=jnp.float32)).dtype == jnp.float32


def test_unknown_link_names_choices() -> None:
    with pytest.raises(ParameterError, match=r"link must be one of 'hermite', 'relu'.*'cubic'"):
        ScalarLink("cubic")


def test_coefficients_with_relu_rejected() -> None:
    with pytest.raises(ParameterError, match="link_coefficients applies only"):
        ScalarLink("relu", [1.0])


def test_constant_link_rejected() -> None:
    with pytest.raises(ParameterError, match="link_coefficients give a constant link"):
        ScalarLink("hermite", [1.0])
