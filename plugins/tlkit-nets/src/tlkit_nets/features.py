"""Algorithm 1's learned feature, streamed: never an ``n x m2`` matrix in memory.

With ``W(0) = 0`` the stage-1 gradient is rank one, ``W(1) = u ĝᵀ`` with
``ĝ = (1/n1) Σ_j r_j h0(x_j)``, ``r_j = y_j - c0`` (SCIENCE.md §2). Every middle
neuron then sees the scalar feature ``φ̂(x) = <ĝ, h0(x)> / m2``. At infinite inner
width, ``φ̂(x) = (1/n1) Σ_j r_j K(x_j, x)`` with the closed-form kernel of σ2.

All functions here are pure and jittable; data are processed in blocks of
``batch`` rows (padded with zero weight), so memory is ``O(batch * m2)``.
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp

Array = jax.Array
Activation = Callable[[Array], Array]


def blocks(A: Array, batch: int) -> Array:
    """Pad the leading axis of ``A`` to a multiple of ``batch`` and split it into blocks."""
    n = A.shape[0]
    batch = max(1, min(batch, n))
    n_blocks = -(-n // batch)
    pad = n_blocks * batch - n
    padded = jnp.pad(A, [(0, pad)] + [(0, 0)] * (A.ndim - 1))
    return padded.reshape((n_blocks, batch) + A.shape[1:])


def direction_sum(X: Array, r: Array, V: Array, sigma2: Activation, batch: int) -> Array:
    """Σ_j r_j σ2(V x_j) over the rows of ``X``, in blocks of ``batch`` rows: ``(m2,)``.

    Rows with ``r_j = 0`` contribute nothing, so callers may pad with zeros.
    """
    # lax.map with one partial sum per block, summed at the end: inside a lax.scan
    # carry, XLA on CPU fused σ2 into the second product and ran ~10x slower
    # (benchmarks/bench_stage1.py). The partial sums are (n / batch, m2): small.
    partial = jax.lax.map(
        lambda block: block[1] @ sigma2(block[0] @ V.T), (blocks(X, batch), blocks(r, batch))
    )
    return jnp.sum(partial, axis=0)


def feature_direction(X1: Array, r: Array, V: Array, sigma2: Activation, batch: int) -> Array:
    """ĝ = (1/n1) Σ_j r_j σ2(V x_j), accumulated over blocks of D1.

    Args:
        X1: stage-1 inputs ``(n1, d)``.
        r: residuals ``y - c0``, ``(n1,)``.
        V: inner weights ``(m2, d)``.
        sigma2: inner activation.
        batch: rows per block.

    Returns:
        ``(m2,)``.
    """
    return direction_sum(X1, r, V, sigma2, batch) / X1.shape[0]


def feature_values(X: Array, g: Array, V: Array, sigma2: Activation, batch: int) -> Array:
    """φ̂(x) = <ĝ, σ2(V x)> / m2 for every row of ``X``, block by block: ``(n,)``."""
    n, m2 = X.shape[0], V.shape[0]
    out = jax.lax.map(lambda x: sigma2(x @ V.T) @ g / m2, blocks(X, batch))
    return out.reshape(-1)[:n]


def kernel_feature_values(
    X: Array,
    X1: Array,
    r: Array,
    kernel: Callable[[Array, Array], Array],
    batch: int,
) -> Array:
    """φ̂(x) = (1/n1) Σ_j r_j K(x_j, x) at infinite inner width: ``(n,)``.

    Both ``X`` and the support ``X1`` are processed in blocks, so memory is
    ``O(batch^2)``; padded support rows carry zero weight.
    """
    n, n1 = X.shape[0], X1.shape[0]
    X1b, rb = blocks(X1, batch), blocks(r, batch)

    def one_block(x: Array) -> Array:
        # partial sums per support block (see feature_direction for why not a scan)
        partial = jax.lax.map(lambda block: block[1] @ kernel(block[0], x), (X1b, rb))
        return jnp.sum(partial, axis=0) / n1

    out = jax.lax.map(one_block, blocks(X, batch))
    return out.reshape(-1)[:n]
