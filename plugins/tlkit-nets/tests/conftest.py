"""Fixtures of the tlkit-nets tests."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import tlkit  # noqa: F401  (enables float64)

# The suite runs with --import-mode=importlib, which does not put test folders on
# sys.path; the test modules import the shared helpers from this folder by name.
sys.path.insert(0, str(Path(__file__).parent))


@pytest.fixture
def stages() -> list:
    """A list that collects the StageReports passed to on_stage."""
    return []
