"""tlkit.numerics.activations: values against NumPy, the c1 = 0 property, errors."""

from __future__ import annotations

import math

import jax.numpy as jnp
import numpy as np
import pytest
import tlkit  # noqa: F401
from tlkit.errors import ParameterError
from tlkit.numerics.activations import ACTIVATIONS, get_activation

Z = np.linspace(-3, 3, 13)

REFERENCE = {
    "relu": lambda z: np.maximum(z, 0),
    "abs": lambda z: np.abs(z) - math.sqrt(2 / math.pi),
    "tanh": np.tanh,
    "cube": lambda z: z**3,
    "he3": lambda z: (z**3 - 3 * z) / math.sqrt(6),
    "identity": lambda z: z,
}


@pytest.mark.parametrize("name", list(REFERENCE))
def test_values_match_numpy(name: str) -> None:
    out = get_activation(name)(jnp.asarray(Z, dtype=jnp.float64))
    np.testing.assert_allclose(np.asarray(out), REFERENCE[name](Z), rtol=1e-14, atol=1e-14)


def test_every_named_activation_has_a_reference() -> None:
    assert set(ACTIVATIONS) == set(REFERENCE)


@pytest.mark.parametrize("name", list(REFERENCE))
def test_dtype_is_preserved(name: str) -> None:
    assert get_activation(name)(jnp.ones(3, dtype=jnp.float32)).dtype == jnp.float32


def test_he3_is_the_unit_cubic_hermite_polynomial() -> None:
    # under N(0, 1): unit variance, orthogonal to 1, z and z^2 (c1 = 0), by NumPy quadrature
    z = np.linspace(-12, 12, 240_001)
    w = np.exp(-0.5 * z**2) / math.sqrt(2 * math.pi)
    f = np.asarray(get_activation("he3")(jnp.asarray(z)))
    assert abs(np.trapezoid(f * f * w, z) - 1) < 1e-9
    for power in range(3):
        assert abs(np.trapezoid(f * z**power * w, z)) < 1e-9


def test_abs_centred_has_mean_zero_and_no_linear_part() -> None:
    # E[|z|] = sqrt(2/pi) and E[|z| z] = 0 under N(0, 1): check by fine quadrature in NumPy
    z = np.linspace(-12, 12, 240_001)
    w = np.exp(-0.5 * z**2) / math.sqrt(2 * math.pi)
    f = np.asarray(get_activation("abs")(jnp.asarray(z)))
    assert abs(np.trapezoid(f * w, z)) < 1e-9
    assert abs(np.trapezoid(f * z * w, z)) < 1e-9
    assert np.trapezoid(f * (z**2 - 1) / math.sqrt(2) * w, z) > 0.1  # but a quadratic part


def test_user_supplied_function() -> None:
    fn = get_activation("jax.numpy:sinh", "sigma2")
    np.testing.assert_allclose(fn(Z), np.sinh(Z))


def test_unknown_name_names_parameter_and_choices() -> None:
    with pytest.raises(ParameterError, match=r"unknown sigma1 'softsign'; valid: relu, abs"):
        get_activation("softsign", "sigma1")


def test_unimportable_module_is_a_parameter_error() -> None:
    with pytest.raises(ParameterError, match="sigma2: cannot import 'no_such_mod:f'"):
        get_activation("no_such_mod:f", "sigma2")


def test_missing_attribute_is_a_parameter_error() -> None:
    with pytest.raises(ParameterError, match="sigma2: cannot import 'math:nope'"):
        get_activation("math:nope", "sigma2")


def test_non_callable_is_a_parameter_error() -> None:
    with pytest.raises(ParameterError, match="'math:pi' is not callable"):
        get_activation("math:pi", "sigma2")


def test_messages_are_one_line() -> None:
    with pytest.raises(ParameterError) as info:
        get_activation("no_such_mod:f", "sigma2")
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("os:getcwd", r"sigma: 'os:getcwd' must be a JAX function mapping an array to one of"),
        ("jax.numpy:sum", r"on shape \(5,\) it gave shape \(\), dtype"),
        ("math:sin", r"calling it failed \(TypeError"),
        ("numpy:sinh", r"calling it failed \(TracerArrayConversionError"),
    ],
)
def test_user_function_of_the_wrong_kind_is_one_parameter_error(name: str, message: str) -> None:
    with pytest.raises(ParameterError, match=message):
        get_activation(name, "sigma")
