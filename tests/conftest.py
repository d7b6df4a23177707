from __future__ import annotations

import pytest
from fakes import FakePlugin
from tlkit.plugins import PluginHost


@pytest.fixture
def host():
    """A fresh plugin host with only the inline fake plugin (no entry points)."""
    h = PluginHost(load_entry_points=False, strict=False)
    h.add_plugin(FakePlugin(), name="fake", version="0.0")
    h.ensure_registered()
    yield h
    h.remove_plugin("fake")


@pytest.fixture(autouse=True)
def _close_figures():
    """Close the figures a test left open: pyplot keeps every one, and past 20 it warns
    (an error here), failing whichever later test draws the 21st."""
    yield
    import sys

    if "matplotlib.pyplot" in sys.modules:
        sys.modules["matplotlib.pyplot"].close("all")
