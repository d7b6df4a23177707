"""Contract check for probes.

Example::

    from tlkit.testing import check_probe
    outputs = check_probe(my_probe_factory(), run)
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import numpy as np

from tlkit.dims import PROBE_DIMS, RUN_DIMS
from tlkit.errors import ProbeNotApplicable
from tlkit.types import ProbeOutput

_QUANTITY = re.compile(r"^[a-z][a-z0-9_]*$")


def check_probe(
    probe: Any, run: Any, *, allow_not_applicable: bool = False
) -> Mapping[str, ProbeOutput]:
    """Run ``probe`` on ``run`` and check its outputs against the probe contract.

    Checks that the probe returns a non-empty mapping of quantity names (lower case,
    ``a-z0-9_``) to :class:`~tlkit.types.ProbeOutput`; that every output's values
    have one axis per declared dim, dims are unique names (not run-level dims such as
    ``seed``), coords are given only for declared dims and have the axis' length; that
    values are real numbers, finite or NaN (never ±inf); and that ``units`` and
    ``long_name`` are non-empty strings.

    Args:
        probe: a probe (``probe(run) -> {quantity: ProbeOutput}``).
        run: a :class:`tlkit.run.Run` (or an object with the same attributes).
        allow_not_applicable: return ``{}`` when the probe raises
            :class:`~tlkit.errors.ProbeNotApplicable` (whose message must not be
            empty) instead of failing.

    Returns:
        The probe's outputs.

    Raises:
        AssertionError: naming the quantity and what is wrong.
    """
    try:
        outputs = probe(run)
    except ProbeNotApplicable as exc:
        if not allow_not_applicable:
            raise AssertionError(f"probe raised ProbeNotApplicable: {exc}") from exc
        assert str(exc).strip(), "ProbeNotApplicable must say why the probe does not apply"
        return {}
    assert isinstance(outputs, Mapping), f"probe returned {type(outputs).__name__}, not a mapping"
    assert outputs, "probe returned no quantities"
    for name, out in outputs.items():
        _check_output(name, out)
    return outputs


def _check_output(name: Any, out: Any) -> None:
    where = f"quantity {name!r}"
    assert isinstance(name, str) and _QUANTITY.match(name), (
        f"{where}: names use lower case a-z, 0-9 and '_'"
    )
    assert isinstance(out, ProbeOutput), f"{where}: got {type(out).__name__}, not ProbeOutput"
    values = np.asarray(out.values)
    dims = tuple(out.dims)
    assert all(isinstance(d, str) for d in dims), f"{where}: dims must be strings, got {dims}"
    assert len(set(dims)) == len(dims), f"{where}: repeated dim in {dims}"
    assert values.ndim == len(dims), (
        f"{where}: values have shape {values.shape} but dims are {dims}"
    )
    run_level = set(dims) & set(RUN_DIMS)
    assert not run_level, f"{where}: run-level dims {sorted(run_level)} are added by the host"
    for dim, coord in out.coords.items():
        assert dim in dims, f"{where}: coords for {dim!r}, which is not one of the dims {dims}"
        axis = dims.index(dim)
        assert len(coord) == values.shape[axis], (
            f"{where}: coord {dim!r} has {len(coord)} entries for an axis of {values.shape[axis]}"
        )
    unknown = [d for d in dims if d not in PROBE_DIMS]
    # Plugins may add their own dims, but each must then be labelled.
    for dim in unknown:
        assert dim in out.coords, f"{where}: dim {dim!r} is not a tlkit dim and has no coords"
    assert values.dtype.kind in "fiub", f"{where}: values must be real numbers, got {values.dtype}"
    as_float = values.astype(np.float64)
    assert not np.any(np.isinf(as_float)), f"{where}: values contain +-inf (use NaN)"
    assert isinstance(out.units, str) and out.units, f"{where}: units must be a non-empty string"
    assert isinstance(out.long_name, str) and out.long_name, f"{where}: long_name is empty"
