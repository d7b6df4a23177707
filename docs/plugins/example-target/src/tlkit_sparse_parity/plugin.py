"""Hook implementations: tlkit imports this module through the package's entry point."""

from __future__ import annotations

from typing import Any

import tlkit

from tlkit_sparse_parity.target import SparseParity


@tlkit.hookimpl
def tlkit_register_targets(register: Any) -> None:
    """Register the ``sparse-parity`` target."""
    register(
        "sparse-parity",
        SparseParity,
        description="k-sparse parity prod_{i in S} x_i on the hypercube {-1, +1}^d",
    )
