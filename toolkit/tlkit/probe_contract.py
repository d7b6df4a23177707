"""The rules a probe's outputs must follow, checked by the host and by ``check_probe``.

The host checks every probe's outputs before labelling them, so a plugin that breaks
the contract is one line naming the probe and the quantity, not an xarray traceback
(or, worse, a stored ``inf`` or an unusable variable name). ``tlkit.testing.check_probe``
applies the same rules plus the metadata ones (``units``, ``long_name``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import numpy as np

from tlkit.dims import PROBE_DIMS, RUN_DIMS
from tlkit.types import ProbeOutput

_QUANTITY = re.compile(r"^[a-z][a-z0-9_]*$")


def outputs_problem(outputs: Any, *, allow_inf: bool = False) -> str | None:
    """What is wrong with a probe's return value, or ``None`` if it follows the contract.

    The contract: a non-empty mapping of quantity names (lower case, ``a-z0-9_``) to
    :class:`~tlkit.types.ProbeOutput`, each with one axis per declared dim, unique dims
    that are not run-level dims (``seed``...), coords only for declared dims and of the
    axis' length, coords for every dim tlkit does not define, and real values, finite
    or NaN (never +-inf; ``allow_inf`` waives that for a run whose training failed,
    whose values the host replaces by NaN anyway).
    """
    if not isinstance(outputs, Mapping):
        return f"returned {type(outputs).__name__}, not a mapping of quantity -> ProbeOutput"
    if not outputs:
        return "returned no quantities"
    for name, out in outputs.items():
        problem = output_problem(name, out, allow_inf=allow_inf)
        if problem is not None:
            return problem
    return None


def output_problem(name: Any, out: Any, *, allow_inf: bool = False) -> str | None:
    """What is wrong with one quantity of a probe, or ``None``."""
    where = f"quantity {name!r}"
    if not isinstance(name, str) or not _QUANTITY.match(name):
        return f"{where}: names use lower case a-z, 0-9 and '_', starting with a letter"
    if not isinstance(out, ProbeOutput):
        return f"{where}: got {type(out).__name__}, not ProbeOutput (tlkit.types)"
    try:
        values = np.asarray(out.values)
    except Exception as exc:  # e.g. ragged lists
        return f"{where}: values are not an array ({type(exc).__name__}: {exc})"
    dims = tuple(out.dims)
    if not all(isinstance(d, str) for d in dims):
        return f"{where}: dims must be strings, got {dims}"
    if len(set(dims)) != len(dims):
        return f"{where}: repeated dim in {dims}"
    if values.ndim != len(dims):
        return f"{where}: values have shape {values.shape} but dims are {dims}"
    run_level = sorted(set(dims) & set(RUN_DIMS))
    if run_level:
        return f"{where}: run-level dims {run_level} are added by the host"
    if not isinstance(out.coords, Mapping):
        return f"{where}: coords must be a mapping of dim -> values"
    for dim, coord in out.coords.items():
        if dim not in dims:
            return f"{where}: coords for {dim!r}, which is not one of the dims {dims}"
        if len(coord) != values.shape[dims.index(dim)]:
            return (
                f"{where}: coord {dim!r} has {len(coord)} entries for an axis of "
                f"{values.shape[dims.index(dim)]}"
            )
    # Plugins may add their own dims, but each must then be labelled.
    for dim in dims:
        if dim not in PROBE_DIMS and dim not in out.coords:
            return f"{where}: dim {dim!r} is not a tlkit dim and has no coords"
    if values.dtype.kind not in "fiub":
        return f"{where}: values must be real numbers, got {values.dtype}"
    if not allow_inf and np.any(np.isinf(values.astype(np.float64))):
        return f"{where}: values contain +-inf (the contract says NaN for undefined values)"
    return None
