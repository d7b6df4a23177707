"""Contract check for probes.

Example::

    from tlkit.testing import check_probe
    outputs = check_probe(my_probe_factory(), run)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tlkit.errors import ProbeNotApplicable
from tlkit.probe_contract import outputs_problem
from tlkit.types import ProbeOutput


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
    problem = outputs_problem(outputs)
    assert problem is None, problem
    for name, out in outputs.items():
        assert isinstance(out.units, str) and out.units, (
            f"quantity {name!r}: units must be a non-empty string"
        )
        assert isinstance(out.long_name, str) and out.long_name, (
            f"quantity {name!r}: long_name is empty"
        )
    return outputs
