"""Parameter validation helpers: every bad value becomes one ParameterError line."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

import jax.numpy as jnp
from tlkit.errors import ParameterError

DTYPES = ("float32", "float64")


def positive_int(name: str, value: Any) -> int:
    """Check that ``value`` is an integer >= 1."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ParameterError(f"{name} must be an integer >= 1, got {value!r}")
    if value >= 2**63:  # array sizes are int64; anything near this is out of memory anyway
        raise ParameterError(f"{name} must be below 2**63, got {value!r}")
    return value


def positive_int_or_auto(name: str, value: Any) -> int | str:
    """Check a ``step_batch``-like option: ``"auto"`` or an integer >= 1."""
    if value == "auto":
        return "auto"
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ParameterError(f"{name} must be 'auto' or an integer >= 1, got {value!r}")
    return positive_int(name, value)


def nonnegative_int(name: str, value: Any) -> int:
    """Check that ``value`` is an integer >= 0."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ParameterError(f"{name} must be an integer >= 0, got {value!r}")
    return value


def positive_float(name: str, value: Any, allow_zero: bool = False) -> float:
    """Check that ``value`` is a finite number > 0 (or >= 0 with ``allow_zero``)."""
    ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    if not ok or value < 0 or (value == 0 and not allow_zero):
        bound = ">= 0" if allow_zero else "> 0"
        raise ParameterError(f"{name} must be a finite number {bound}, got {value!r}")
    return float(value)


def fraction(name: str, value: Any) -> float:
    """Check that ``value`` lies strictly between 0 and 1."""
    ok = isinstance(value, int | float) and not isinstance(value, bool)
    if not ok or not 0 < value < 1:
        raise ParameterError(f"{name} must lie strictly between 0 and 1, got {value!r}")
    return float(value)


def choice(name: str, value: Any, choices: Sequence[str]) -> str:
    """Check that ``value`` is one of ``choices``."""
    if value not in choices:
        raise ParameterError(f"{name} must be one of {', '.join(choices)}; got {value!r}")
    return str(value)


def positive_grid(name: str, values: Iterable[Any]) -> tuple[float, ...]:
    """Check a non-empty grid of finite positive numbers."""
    try:
        grid = tuple(values)
    except TypeError:
        raise ParameterError(f"{name} must be a list of positive numbers, got {values!r}") from None
    if not grid:
        raise ParameterError(f"{name} must be a non-empty list of positive numbers, got []")
    for v in grid:
        positive_float(name, v)
    return tuple(float(v) for v in grid)


def dtype_of(value: Any) -> jnp.dtype:
    """Turn the host's ``dtype`` string into a JAX dtype."""
    name = str(jnp.dtype(value)) if not isinstance(value, str) else value
    if name not in DTYPES:
        raise ParameterError(f"dtype must be one of {', '.join(DTYPES)}; got {value!r}")
    return jnp.dtype(name)
