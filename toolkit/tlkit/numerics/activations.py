"""Activation functions by name.

The names are the ones users type (``-p sigma2=abs``). A user-supplied activation
is given as ``"module:function"`` and imported.
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp

from tlkit.errors import ParameterError

Activation = Callable[[jax.Array], jax.Array]

SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
SQRT_6 = math.sqrt(6.0)


def relu(z: jax.Array) -> jax.Array:
    """max(z, 0)."""
    return jnp.maximum(z, 0)


def abs_centred(z: jax.Array) -> jax.Array:
    """|z| - sqrt(2/pi): even, mean zero under N(0, 1), no linear Hermite part (c1 = 0)."""
    return jnp.abs(z) - SQRT_2_OVER_PI


def cube(z: jax.Array) -> jax.Array:
    """z**3."""
    return z**3


def hermite3(z: jax.Array) -> jax.Array:
    """(z**3 - 3 z) / sqrt(6): the normalized Hermite polynomial h3 (c3 = 1, all other c_k = 0).

    The degree-3 analogue of ``abs``: as σ2 it has no linear part, so Algorithm 1's
    learned feature is the degree-3 projection of the target (a degree-3 feature p of
    a hierarchical target, where ``relu``, with no odd Hermite part above degree 1,
    sees nothing of p).
    """
    return (z**3 - 3 * z) / SQRT_6


def identity(z: jax.Array) -> jax.Array:
    """z."""
    return z


ACTIVATIONS: dict[str, Activation] = {
    "relu": relu,
    "abs": abs_centred,
    "tanh": jnp.tanh,
    "cube": cube,
    "he3": hermite3,
    "identity": identity,
}


def _check_elementwise(fn: Any, name: str, parameter: str) -> None:
    """Check a user's activation on an abstract array (``jax.eval_shape``: nothing runs,
    and it works inside a jit trace), so that a function of the wrong kind is one clear
    line here rather than a traceback deep inside training."""
    probe = jax.ShapeDtypeStruct((5,), jnp.float32)
    try:
        # a lambda: eval_shape needs a weakly referenceable callable (ufuncs are not)
        out = jax.eval_shape(lambda x: fn(x), probe)
    except Exception as exc:  # any failure means "not an elementwise array function"
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        raise ParameterError(
            f"{parameter}: {name!r} must be a JAX function mapping an array to one of its shape; "
            f"calling it failed ({type(exc).__name__}: {first})"
        ) from None
    shape, dtype = getattr(out, "shape", None), getattr(out, "dtype", None)
    if shape != probe.shape or dtype is None or not jnp.issubdtype(dtype, jnp.floating):
        raise ParameterError(
            f"{parameter}: {name!r} must map an array to a float array of its shape; "
            f"on shape {probe.shape} it gave shape {shape}, dtype {dtype}"
        )


def get_activation(name: str, parameter: str = "activation") -> Activation:
    """Look an activation up by name, or import ``"module:function"``.

    Raises:
        ParameterError: naming ``parameter`` and the valid names.
    """
    if name in ACTIVATIONS:
        return ACTIVATIONS[name]
    if ":" in name:
        module_name, _, attr = name.partition(":")
        try:
            fn = getattr(importlib.import_module(module_name), attr)
        except (ImportError, AttributeError) as exc:
            raise ParameterError(f"{parameter}: cannot import {name!r} ({exc})") from None
        if not callable(fn):
            raise ParameterError(f"{parameter}: {name!r} is not callable")
        _check_elementwise(fn, name, parameter)
        return fn
    valid = ", ".join(ACTIVATIONS)
    raise ParameterError(f"unknown {parameter} {name!r}; valid: {valid}, or 'module:function'")
