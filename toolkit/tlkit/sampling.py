"""A data split drawn block by block, so that streaming trainers never hold all of it.

With ``train_block_size = B`` in the run config, the training split is the
concatenation of independent blocks: block ``i`` is ``target.sample(fold_in(key, i), B)``
(the last block cut to ``n``). This is a different draw from the default single
``target.sample(key, n)`` — ``jax.random`` has no counter offset that would let one
draw be produced piece by piece — but the same distribution, and it is deterministic
in the config, so a loaded run sees exactly the data it was trained on.

A trainer that streams (Algorithm 1's stage 1 with a finite inner width) walks the
blocks of D1 and keeps one block in memory at a time; everything else may ask for
the rows it needs (:meth:`BlockSource.rows`) or the whole split.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp

Array = jax.Array
Sampler = Callable[..., tuple[Array, Array]]


@dataclass(frozen=True)
class BlockSource:
    """``n`` points drawn as blocks of ``block_size``, block ``i`` from ``fold_in(key, i)``.

    Attributes:
        sample: the target's ``sample(key, n, dtype=...)``.
        key: the split's key.
        n: number of points in the split.
        block_size: points per block (the last block may be shorter).
        dtype: floating dtype of the inputs and labels.
    """

    sample: Sampler
    key: Array
    n: int
    block_size: int
    dtype: Any = jnp.float32

    @property
    def n_blocks(self) -> int:
        return -(-self.n // self.block_size)

    def block(self, index: int) -> tuple[Array, Array]:
        """Block ``index`` (``block_size`` rows; the last block cut to ``n``)."""
        if not 0 <= index < self.n_blocks:
            raise IndexError(f"block {index} out of range 0..{self.n_blocks - 1}")
        X, y = self.sample(jax.random.fold_in(self.key, index), self.block_size, dtype=self.dtype)
        stop = min(self.block_size, self.n - index * self.block_size)
        return X[:stop], y[:stop]

    def chunks(self, start: int, stop: int) -> Iterator[tuple[Array, Array]]:
        """Rows ``start..stop-1`` in order, one block's part at a time."""
        if not 0 <= start <= stop <= self.n:
            raise IndexError(f"rows {start}..{stop} out of range 0..{self.n}")
        first, last = start // self.block_size, -(-stop // self.block_size)
        for index in range(first, last):
            X, y = self.block(index)
            lo = max(start - index * self.block_size, 0)
            hi = min(stop - index * self.block_size, X.shape[0])
            yield X[lo:hi], y[lo:hi]

    def rows(self, start: int, stop: int) -> tuple[Array, Array]:
        """Rows ``start..stop-1`` materialized: ``X`` ``(stop - start, d)``, ``y``."""
        parts = list(self.chunks(start, stop))
        if not parts:  # an empty range still has the split's shapes
            X, y = self.block(0)
            return X[:0], y[:0]
        if len(parts) == 1:
            return parts[0]
        return jnp.concatenate([p[0] for p in parts]), jnp.concatenate([p[1] for p in parts])
