"""tlkit.testing.check_probe accepts valid outputs and names what is wrong otherwise."""

from __future__ import annotations

import numpy as np
import pytest
from tlkit.errors import ProbeNotApplicable
from tlkit.testing import check_probe
from tlkit.types import ProbeOutput


def probe_returning(outputs):
    return lambda run: outputs


def good(**kw):
    base = dict(values=np.zeros(2), dims=("layer",), coords={"layer": ["h1", "h2"]}, long_name="x")
    base.update(kw)
    return ProbeOutput(**base)


def test_valid_outputs_pass_and_are_returned() -> None:
    out = {"r2": good(), "scalar": ProbeOutput(np.float64(np.nan), long_name="nan is fine")}
    assert check_probe(probe_returning(out), None) is out


@pytest.mark.parametrize(
    ("outputs", "message"),
    [
        ({}, "no quantities"),
        ([], "not a mapping"),
        ({"Bad-Name": good()}, "lower case"),
        ({"q": {"values": 1}}, "not ProbeOutput"),
        ({"q": good(dims=())}, "dims are"),
        ({"q": good(dims=("layer", "layer"), values=np.zeros((2, 2)))}, "repeated dim"),
        ({"q": good(coords={"layer": ["h1"]})}, "1 entries"),
        ({"q": good(coords={"degree": [0, 1]})}, "not one of the dims"),
        ({"q": good(values=np.array([1.0, np.inf]))}, "inf"),
        ({"q": good(values=np.array(["a", "b"]))}, "real numbers"),
        ({"q": good(units="")}, "units"),
        ({"q": good(long_name="")}, "long_name"),
        ({"q": good(dims=("seed",), coords={"seed": [0, 1]})}, "run-level"),
        ({"q": good(dims=("mine",), coords={})}, "not a tlkit dim"),
    ],
)
def test_contract_violations_are_named(outputs, message) -> None:
    with pytest.raises(AssertionError, match=message):
        check_probe(probe_returning(outputs), None)


def test_not_applicable() -> None:
    def probe(run):
        raise ProbeNotApplicable("network has no scalar feature")

    with pytest.raises(AssertionError, match="no scalar feature"):
        check_probe(probe, None)
    assert check_probe(probe, None, allow_not_applicable=True) == {}
