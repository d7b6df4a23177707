"""Search grids: flags for values chosen at a grid's end, and grid batching.

A value chosen at a grid's end says the best value may lie outside the grid; the
trainers record it in their stage info (``<name>_at_grid_edge``) so that a reader of a
manifest, or a sweep summary, sees it without re-deriving it from the curves.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import jax
import jax.numpy as jnp

Array = jax.Array


def grid_edge(grid: Sequence[float], index: int) -> str:
    """``"lowest"`` or ``"highest"`` when ``grid[index]`` is the grid's smallest or largest
    value, ``""`` when it lies inside or when there was nothing to choose (one value).
    """
    if len(grid) < 2:
        return ""
    value = grid[index]
    if value == min(grid):
        return "lowest"
    if value == max(grid):
        return "highest"
    return ""


def map_grid(evaluate: Callable[[Array], Array], grid: Array, batch: int) -> Array:
    """``evaluate`` at every value of a 1-d ``grid``, ``batch`` values at a time.

    ``batch == 1`` is a sequential ``lax.map`` (memory flat in the grid size);
    ``batch >= len(grid)`` vmaps the whole grid; in between, chunks of ``batch`` values
    (the grid padded with its last value to whole chunks, padded results dropped) go
    through a ``lax.map``. Not ``lax.map(..., batch_size=)``: with jax 0.10.2 on the
    CPU some of its shapes (a one-value grid vmapped over seeds; a remainder chunk)
    never returned from the compiled call.

    Returns:
        ``evaluate``'s outputs stacked over the grid, ``(len(grid), ...)``.
    """
    size = grid.shape[0]
    if batch <= 1:
        return jax.lax.map(evaluate, grid)
    if batch >= size:
        return jax.vmap(evaluate)(grid)
    chunks = -(-size // batch)
    padded = jnp.concatenate([grid, jnp.repeat(grid[-1:], chunks * batch - size)])
    out = jax.lax.map(jax.vmap(evaluate), padded.reshape(chunks, batch))
    return jax.tree.map(lambda x: x.reshape(chunks * batch, *x.shape[2:])[:size], out)
