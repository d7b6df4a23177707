"""Fixtures of the probe tests."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

# The suite runs with --import-mode=importlib, which does not put test folders on
# sys.path; the test modules import the shared fakes from this folder by name.
sys.path.insert(0, str(Path(__file__).parent))

from probe_fakes import FakeNet, FakeTarget, make_run  # noqa: E402
from tlkit.run import Run  # noqa: E402


@pytest.fixture
def fake_run() -> Run:
    target = FakeTarget(d=6)
    return make_run(target, FakeNet(6, target.beta))
