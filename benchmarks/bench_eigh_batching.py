"""Benchmark: what one call of a batched symmetric eigendecomposition costs, by batch size.

Algorithm 1's stage 2 does one ``eigh`` of an m1 x m1 Gram matrix per seed and step
size. Whether vmapping seeds (and the step-size grid) pays depends on how a batched
``eigh`` is run: LAPACK on a CPU does the matrices one after another, so a batch costs
its size times one matrix; a GPU solver may run the whole batch in about the time of
one. This prints, for each batch size, the time of one jitted call and the time per
matrix, and each batch's speed-up over the same matrices one call at a time; with
``--jacobi`` also JAX's Jacobi implementation (``lax.linalg.eigh``), where the backend
has one.

    python benchmarks/bench_eigh_batching.py [--width 512] [--jacobi]
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
from jax.lax.linalg import EighImplementation

sys.path.insert(0, str(Path(__file__).parent))
from bench_layerwise_phases import best_time  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--width", type=int, default=512)
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 8, 64])
    parser.add_argument("--jacobi", action="store_true", help="also time the Jacobi method")
    args = parser.parse_args()
    width = args.width
    print(f"machine: {os.cpu_count()} CPU cores, jax {jax.__version__} on {jax.devices()[0]}")
    key = jax.random.PRNGKey(0)
    A = jax.random.normal(key, (max(args.batches), width, 2 * width), dtype=jnp.float32)
    gram = A @ jnp.swapaxes(A, 1, 2) / (2 * width)
    methods = {"default": None}
    if args.jacobi:
        methods["jacobi"] = EighImplementation.JACOBI
    for name, impl in methods.items():
        eigh = jax.jit(lambda g, impl=impl: jax.lax.linalg.eigh(g, implementation=impl))
        try:
            one = best_time(lambda eigh=eigh: eigh(gram[0]))
        except Exception as exc:  # an implementation the backend lacks
            print(f"  {name}: not available here ({type(exc).__name__}: {str(exc)[:120]})")
            continue
        for batch in args.batches:
            part = gram[:batch]
            t = one if batch == 1 else best_time(lambda part=part, eigh=eigh: eigh(part))
            print(
                f"  {name:8s} eigh of {batch:3d} x ({width}x{width}) float32: one call "
                f"{t * 1e3:8.2f} ms, {t / batch * 1e3:7.3f} ms a matrix, "
                f"{one * batch / t:5.2f}x the same matrices one call each"
            )


if __name__ == "__main__":
    main()
