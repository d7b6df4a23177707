"""Hook implementations of the tlkit-nets plugin."""

from __future__ import annotations

import tlkit
