"""Hook implementations of the tlkit-probes plugin."""

from __future__ import annotations

import tlkit
