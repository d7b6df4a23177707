"""Parameter validation helpers: one-line :class:`ParameterError` messages."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from tlkit.errors import ParameterError


def check_choice(name: str, value: Any, choices: Sequence[str]) -> str:
    """Return ``value`` if it is one of ``choices``, else raise naming them."""
    if value not in choices:
        valid = ", ".join(repr(c) for c in choices)
        raise ParameterError(f"{name} must be one of {valid}; got {value!r}")
    return value


def check_int(name: str, value: Any, minimum: int, rule: str = "") -> int:
    """An integer ``>= minimum``."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        extra = f" ({rule})" if rule else ""
        raise ParameterError(f"{name} must be an integer >= {minimum}{extra}; got {value!r}")
    return value


def check_even(name: str, value: int, why: str) -> int:
    """An even integer; ``why`` says which setting needs it."""
    if value % 2:
        raise ParameterError(f"{name} must be even {why}; got {value}")
    return value


def check_nonnegative(name: str, value: Any) -> float:
    """A finite real number ``>= 0``."""
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise ParameterError(f"{name} must be a finite number >= 0; got {value!r}") from None
    if not math.isfinite(x) or x < 0:
        raise ParameterError(f"{name} must be a finite number >= 0; got {value!r}")
    return x


def check_positive(name: str, value: Any) -> float:
    """A finite real number ``> 0``."""
    x = check_nonnegative(name, value)
    if x == 0:
        raise ParameterError(f"{name} must be a finite number > 0; got {value!r}")
    return x


def check_coefficients(name: str, value: Any) -> list[float]:
    """A non-empty list of finite numbers with at least one non-zero entry."""
    if isinstance(value, str) or not isinstance(value, Sequence) or len(value) == 0:
        raise ParameterError(f"{name} must be a non-empty list of numbers; got {value!r}")
    try:
        out = [float(v) for v in value]
    except (TypeError, ValueError):
        raise ParameterError(f"{name} must be a non-empty list of numbers; got {value!r}") from None
    if not all(math.isfinite(v) for v in out) or not any(out):
        raise ParameterError(f"{name} must be finite numbers, not all zero; got {value!r}")
    return out
