"""Flags for hyperparameters chosen at the end of their search grid.

A value chosen at a grid's end says the best value may lie outside the grid; the
trainers record it in their stage info (``<name>_at_grid_edge``) so that a reader of a
manifest, or a sweep summary, sees it without re-deriving it from the curves.
"""

from __future__ import annotations

from collections.abc import Sequence


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
