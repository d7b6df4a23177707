"""Stacking seeds for one vmapped call, and splitting the results again.

Shared by the trainers' ``fit_many``. Stacking happens on the host with NumPy:
``jnp.stack`` run eagerly compiles one XLA program per number of seeds and per
shape, which made the compile count of a sweep cell grow with its seeds (and
``jnp.asarray`` of a NumPy array compiles a copy program; ``device_put`` does not).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
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


class SeedBatchedTrainer:
    """Base of the trainers whose ``fit`` is ``fit_many`` on one seed.

    Subclasses implement ``fit_many(models, datas, on_stage)``; one code path then
    serves single runs and vmapped seeds, so they cannot drift apart.
    """

    def fit(self, model: Any, data: Any, on_stage: Callable[[Any], None]) -> Any:
        """Train ``model`` in place (``fit_many`` with one seed); see the trainer's docs."""
        return self.fit_many([model], [data], on_stage)[0]  # type: ignore[attr-defined]
