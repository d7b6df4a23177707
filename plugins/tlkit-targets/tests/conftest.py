"""Shared fixtures of the tlkit-targets tests."""

from __future__ import annotations

import numpy as np
import pytest
import tlkit  # noqa: F401  (enables float64 before any array is created)


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(12345)
