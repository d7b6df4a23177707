"""Search grids: flags for values chosen at a grid's end, and grid batching.

A value chosen at a grid's end says the best value may lie outside the grid; the
trainers record it in their stage info (``<name>_at_grid_edge``) so that a reader of a
manifest, or a sweep summary, sees it without re-deriving it from the curves.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp

Array = jax.Array

#: With ``step_batch="auto"`` on an accelerator, the most memory the features (and Gram
#: matrices) of one batch of grid values may take, all vmapped seeds together.
STEP_BATCH_BUDGET_BYTES = 2 * 2**30


def grid_batch(
    requested: int | str,
    grid_size: int,
    *,
    seeds: int,
    floats_per_value: int,
    itemsize: int,
    backend: str | None = None,
) -> int:
    """How many values of a search grid to evaluate together (``map_grid``'s ``batch``).

    Args:
        requested: the trainer's ``step_batch``: an integer (capped at the grid size) or
            ``"auto"``. ``"auto"`` is 1 on a CPU, where LAPACK runs a batch of
            eigendecompositions one after another (batching the grid costs memory and
            saves nothing), and on an accelerator the whole grid, or as much of it as
            keeps one batch's arrays within ``STEP_BATCH_BUDGET_BYTES``: a GPU
            solver runs a batch of eigendecompositions in about the time of one
            (measured on an H200: 64 of 512 x 512 in 28 ms, one in 6 ms).
        grid_size: the number of grid values.
        seeds: seeds vmapped together (each holds its own features).
        floats_per_value: array elements one grid value's evaluation holds for one seed
            (its feature matrices, Gram matrix and eigenvectors).
        itemsize: bytes per element.
        backend: ``jax.default_backend()`` unless given.

    Returns:
        The batch, between 1 and ``grid_size``.
    """
    if requested != "auto":
        return max(1, min(int(requested), grid_size))
    if (backend or jax.default_backend()) == "cpu":
        return 1
    per_value = max(1, seeds * floats_per_value * itemsize)
    return max(1, min(grid_size, STEP_BATCH_BUDGET_BYTES // per_value))


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


def map_grid(evaluate: Callable[[Array], Any], grid: Array, batch: int) -> Any:
    """``evaluate`` at every value of a 1-d ``grid``, ``batch`` values at a time.

    ``batch == 1`` is a sequential ``lax.map`` (memory flat in the grid size);
    ``batch >= len(grid)`` vmaps the whole grid; in between, chunks of ``batch`` values
    (the grid padded with its last value to whole chunks, padded results dropped) go
    through a ``lax.map``. Not ``lax.map(..., batch_size=)``: with jax 0.10.2 on the
    CPU some of its shapes (a one-value grid vmapped over seeds; a remainder chunk)
    never returned from the compiled call.

    Returns:
        ``evaluate``'s outputs (an array or a pytree of arrays) stacked over the grid,
        ``(len(grid), ...)``.
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
