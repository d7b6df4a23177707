"""Stacking seeds for one vmapped call, and splitting the results again.

Shared by the trainers' ``fit_many``. Stacking happens on the host with NumPy:
``jnp.stack`` run eagerly compiles one XLA program per number of seeds and per
shape, which made the compile count of a sweep cell grow with its seeds (and
``jnp.asarray`` of a NumPy array compiles a copy program; ``device_put`` does not).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import jax
import numpy as np


def stack_seeds(items: Sequence[Any]) -> Any:
    """Stack per-seed pytrees (arrays, or pytrees of arrays) along a new leading axis."""
    return jax.tree.map(
        lambda *leaves: jax.device_put(np.stack([np.asarray(v) for v in leaves])), *items
    )


def unstack_seeds(out: Any, n: int) -> list[Any]:
    """Move a vmapped result to the host and split it into ``n`` per-seed pytrees."""
    host = jax.tree.map(np.asarray, out)
    return [jax.tree.map(lambda v, i=i: v[i], host) for i in range(n)]
