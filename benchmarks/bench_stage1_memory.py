"""Benchmark (issue 4): peak memory of Algorithm 1's stage 1 at n = 2^20 vs n = 2^16.

Every measurement runs in its own subprocess and reports that process's peak RSS
(``VmHWM``: everything, the Python interpreter, JAX and XLA included). Three modes:

* ``stage1-blocks``: stage 1 as the layer-wise trainer runs it when the training split
  is drawn in blocks (``train_block_size``): D1 is drawn from the quadratic-feature
  target one block at a time and ĝ accumulated (``streamed_directions``).
* ``stage1-in-memory``: the same stage 1 on a split drawn in one piece (``X`` of n x d
  in memory) -- the default sampling mode, for comparison.
* ``fit-blocks``: the whole run through ``tlkit.train`` (stage 1, stage 2 with the
  validation grid) with ``train_block_size`` set and D2 fixed at n2 = (smaller n) / 4
  points, so only D1 grows with n.

    python benchmarks/bench_stage1_memory.py          # d = 32, m2 = 4096, m1 = 1024
    python benchmarks/bench_stage1_memory.py --small  # n = 2^14 vs 2^18, m2 = 1024
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

D = 32
BLOCK = 2**14  # points per drawn block (train_block_size)
BATCH = 4096  # rows per compute batch inside a block (the trainer's batch_size)


def _peak_mib() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("VmHWM not in /proc/self/status")


def _target():
    from tlkit_targets.quadratic import QuadraticFeature

    return QuadraticFeature(d=D, seed=0)


def child(mode: str, n: int, m2: int, m1: int, n2: int) -> dict:
    """Run one measurement in this process and return its figures."""
    import jax
    import jax.numpy as jnp
    import tlkit
    from tlkit.numerics.activations import get_activation
    from tlkit.sampling import BlockSource
    from tlkit_nets.features import feature_direction
    from tlkit_nets.layerwise import layer_wise, streamed_directions
    from tlkit_nets.three_layer import three_layer

    start = time.perf_counter()
    if mode == "fit-blocks":
        run = tlkit.train(
            target={"name": "quadratic-feature", "params": {"d": D}},
            arch={"name": "three-layer", "params": {"m1": m1, "m2": m2}},
            trainer={"name": "layer-wise", "params": {"n2": n2, "batch_size": BATCH}},
            n_train=n,
            n_val=2**14,
            n_test=2**10,
            train_block_size=BLOCK,
            probes=[],
        )
        assert run.ok, run.fit.reason
        assert run.fit.choices["stage1_data"] == "streamed block by block"
    else:
        target = _target()
        model = three_layer(d=D, seed=0, m1=m1, m2=m2)
        trainer = layer_wise(split=0.999, batch_size=BATCH)  # D1 = nearly all of n
        cfg = trainer._config(model, n, given_direction=True)
        key = jax.random.PRNGKey(1)
        stack = [v[None] for v in (model.V[...], model.b[...], model.a[...])]
        if mode == "stage1-blocks":
            source = BlockSource(target.sample, key, n, BLOCK, jnp.float32)
            g = streamed_directions(cfg, *stack, [source])
        else:  # what the trainer does with a split drawn in one piece
            X, y = target.sample(key, n, dtype=jnp.float32)
            sigma1 = get_activation(model.sigma1_name)
            r = y - jnp.mean(model.a[...] * sigma1(model.b[...]))
            sigma2 = get_activation(model.sigma2_name)
            g = jax.jit(feature_direction, static_argnums=(3, 4))(X, r, model.V[...], sigma2, BATCH)
        g.block_until_ready()
    return {"mode": mode, "n": n, "peak_rss": _peak_mib(), "seconds": time.perf_counter() - start}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="quick check at a small size")
    parser.add_argument("--child", nargs=5, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        mode, n, m2, m1, n2 = args.child
        print(json.dumps(child(mode, int(n), int(m2), int(m1), int(n2))))
        return
    sizes, m2, m1 = ((2**14, 2**18), 1024, 256) if args.small else ((2**16, 2**20), 4096, 1024)
    n2 = sizes[0] // 4  # D2 of the whole fit: fixed, so that only D1 grows with n
    print(
        f"machine: {os.cpu_count()} CPU cores; d={D} m2={m2} m1={m1}, drawn blocks of "
        f"{BLOCK}, compute batches of {BATCH}, fit with n2={n2}; peak RSS of the whole process"
    )
    for mode in ("stage1-blocks", "stage1-in-memory", "fit-blocks"):
        rows = []
        for n in sizes:
            out = subprocess.run(
                [sys.executable, __file__, "--child", mode, str(n), str(m2), str(m1), str(n2)],
                check=True,
                capture_output=True,
                text=True,
            ).stdout
            rows.append(json.loads(out.strip().splitlines()[-1]))
        small, large = rows
        print(
            f"  {mode:17s} n=2^{small['n'].bit_length() - 1}: {small['peak_rss']:7.1f} MiB "
            f"({small['seconds']:5.1f} s)   n=2^{large['n'].bit_length() - 1}: "
            f"{large['peak_rss']:7.1f} MiB ({large['seconds']:5.1f} s)   "
            f"ratio {large['peak_rss'] / small['peak_rss']:.2f}x"
        )


if __name__ == "__main__":
    main()
