"""Helpers shared by the probes: batching under a memory budget, safe ratios, warnings.

Probes evaluate networks on test sets of up to 2^15 points with layers up to a few
thousand units wide. Activations are therefore produced in row batches sized so that
one batch of every layer together stays under a byte budget (64 MiB by default).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import jax.numpy as jnp
import numpy as np
from tlkit.errors import ParameterError, ProbeNotApplicable

#: Default activation budget per batch, in bytes.
DEFAULT_BUDGET = 64 * 2**20


class ProbeWarning(RuntimeWarning):
    """A probe produced NaN (zero or negative denominator, non-finite network output)."""


def warn(probe: str, message: str) -> None:
    """Emit a :class:`ProbeWarning` whose text starts with the probe's name."""
    warnings.warn(f"probe {probe!r}: {message}", ProbeWarning, stacklevel=3)


def safe_ratio(num: float, den: float, probe: str, what: str) -> float:
    """``num / den``, or NaN with a warning naming ``probe`` when ``den`` is not positive.

    Args:
        num: numerator.
        den: denominator; must be finite and > 0 for a finite result.
        probe: the probe's registered name, for the warning.
        what: what the denominator is, e.g. ``"Var f* on the test set"``.
    """
    num, den = float(num), float(den)
    if not math.isfinite(den) or den <= 0.0:
        warn(probe, f"{what} is {den!r} (not positive); result set to NaN")
        return math.nan
    if not math.isfinite(num):
        warn(probe, f"non-finite numerator {num!r} for {what}; result set to NaN")
        return math.nan
    return num / den


def check_positive_int(name: str, value: int, minimum: int = 1) -> int:
    """Validate an integer parameter (raises a one-line :class:`ParameterError`)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ParameterError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return value


def check_choice(name: str, value: Any, choices: tuple[Any, ...]) -> Any:
    """Validate a parameter against a tuple of choices."""
    if value not in choices:
        valid = ", ".join(repr(c) for c in choices)
        raise ParameterError(f"{name} must be one of {valid}, got {value!r}")
    return value


def rows_per_batch(bytes_per_row: int, budget: int = DEFAULT_BUDGET, cap: int = 8192) -> int:
    """How many rows of ``bytes_per_row`` fit the budget (at least 1, at most ``cap``)."""
    return int(max(1, min(cap, budget // max(1, bytes_per_row))))


def representation_widths(model: Any, X: Any) -> dict[str, int]:
    """Widths of every layer of ``model.representations`` (evaluated on two rows)."""
    reps = representations_of(model, X[:2])
    return {name: int(np.shape(a)[1]) for name, a in reps.items()}


def representations_of(model: Any, X: Any) -> dict[str, Any]:
    """``model.representations(X)`` as 2-D arrays, or ProbeNotApplicable when missing."""
    fn = getattr(model, "representations", None)
    if fn is None or not callable(fn):
        raise ProbeNotApplicable("the network has no representations() method")
    reps = fn(X)
    if not reps:
        raise ProbeNotApplicable("the network returned no representations")
    return {name: jnp.reshape(a, (np.shape(a)[0], -1)) for name, a in reps.items()}


def model_batch_rows(model: Any, X: Any, budget: int = DEFAULT_BUDGET) -> int:
    """Rows per batch so that all of ``model``'s layer activations fit ``budget``.

    Uses the widths reported by ``representations``; a model without that method
    gets batches of 4096 rows.
    """
    try:
        widths = representation_widths(model, X)
    except ProbeNotApplicable:
        return min(4096, int(X.shape[0]))
    itemsize = np.dtype(X.dtype).itemsize
    # x2: a forward pass holds pre- and post-activations of each layer.
    return rows_per_batch(2 * itemsize * (sum(widths.values()) + int(X.shape[1])), budget)


def batches(n: int, size: int) -> Iterator[slice]:
    """Consecutive slices of ``size`` rows covering ``range(n)``."""
    for start in range(0, n, size):
        yield slice(start, min(n, start + size))


def map_rows(fn: Callable[[Any], Any], X: Any, size: int) -> np.ndarray:
    """Apply ``fn`` to row batches of ``X`` and concatenate the results as NumPy."""
    parts = [np.asarray(fn(X[s])) for s in batches(int(X.shape[0]), size)]
    return np.concatenate(parts, axis=0)


def as_columns(a: Any) -> np.ndarray:
    """A float64 ``(n, r)`` view of a ``(n,)`` or ``(n, r)`` array."""
    a = np.asarray(a, dtype=np.float64)
    return a[:, None] if a.ndim == 1 else a.reshape(a.shape[0], -1)


def pearson(a: np.ndarray, b: np.ndarray, probe: str) -> float:
    """Pearson correlation in float64; NaN with a warning when a variance is zero."""
    a = np.asarray(a, dtype=np.float64).ravel()
    b = np.asarray(b, dtype=np.float64).ravel()
    a = a - a.mean()
    b = b - b.mean()
    return safe_ratio(
        float(a @ b),
        math.sqrt(float(a @ a) * float(b @ b)),
        probe,
        "the product of the two standard deviations",
    )
