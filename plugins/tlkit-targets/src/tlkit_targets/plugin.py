"""Hook implementations of the tlkit-targets plugin."""

from __future__ import annotations

import tlkit
