"""Where the time of an 8-seed vmapped Algorithm-1 fit goes (issue 4's vmap target).

On one H200 the 8-seed vmapped fit (d = 16, n = 2^12, m1 = m2 = 512, 8 step sizes x
10 ridges) took 0.29 s although 64 batched 512 x 512 eigendecompositions took 0.03 s;
the looped fit took 0.43 s. This benchmark times the compiled core only (no host work)
at several grid sizes, and the eigendecompositions alone as the core meets them (a
batch of 8 inside a sequential loop over step sizes), so that one run on a device says
which part dominates:

* core time against the number of step sizes (1, 2, 8): the slope is the cost of one
  grid step (features, Gram matrix, eigh, ridge path, validation) for 8 seeds;
* core time with 1 vs 10 ridges at 8 step sizes: the ridge path's share;
* ``lax.map`` of a batched eigh over 8 steps vs one eigh of all 64 matrices;
* the core with the whole step-size grid vmapped (``step_batch=8``), which turns the
  former into the latter inside the fit.

    python benchmarks/bench_layerwise_phases.py [--small]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import tlkit  # noqa: F401  (full-precision matmuls, as in tlkit runs)

sys.path.insert(0, str(Path(__file__).parent))
from bench_vmap_seeds import make_data  # noqa: E402
from tlkit_nets import layerwise  # noqa: E402
from tlkit_nets.three_layer import three_layer  # noqa: E402


def best_time(fn, repeats: int = 5) -> float:
    """Best of ``repeats`` wall times of ``fn()`` (blocking), after one warm-up call."""
    jax.block_until_ready(fn())
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        jax.block_until_ready(fn())
        best = min(best, time.perf_counter() - start)
    return best


def core_call(trainer, models, datas):
    """One vmapped ``_core_many`` call with the arguments ``fit_many`` builds."""
    cfg = trainer._config(
        models[0],
        datas[0].n_train,
        given_direction=False,
        seeds=len(models),
        n_val=int(datas[0].X_val.shape[0]),
    )
    keys = [jax.random.fold_in(dt.key, 1) for dt in datas]
    splits = [layerwise._split_rows(dt, cfg, with_d1=True) for dt in datas]
    args = layerwise.stacked_core_args(models, datas, splits, keys, None)
    return lambda: layerwise._core_many(cfg, *args)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="quick check at a small size")
    args = parser.parse_args()
    seeds, d = 8, 16
    n, width = (2**10, 128) if args.small else (2**12, 512)
    datas = [make_data(s, n, n, d) for s in range(seeds)]
    models = [three_layer(d=d, seed=s, m1=width, m2=width) for s in range(seeds)]
    print(f"machine: {os.cpu_count()} CPU cores, jax {jax.__version__} on {jax.devices()[0]}")
    print(f"{seeds} seeds vmapped, d={d} n={n} m1=m2={width}, compiled core only (best of 5)")
    steps8 = tuple(2.0**k for k in range(-4, 4))
    timings = {}
    for n_steps in (1, 2, 8):
        for n_ridges in (1, 10) if n_steps == 8 else (10,):
            trainer = layerwise.layer_wise(
                step_sizes=steps8[:n_steps],
                ridges=tuple(10.0**k for k in range(-8, 2))[:n_ridges],
                step_batch=1,
            )
            t = best_time(core_call(trainer, models, datas))
            timings[n_steps, n_ridges] = t
            print(f"  {n_steps} step sizes x {n_ridges:2d} ridges   core {t * 1e3:8.1f} ms")
    per_step = (timings[8, 10] - timings[1, 10]) / 7
    print(
        f"  one grid step for {seeds} seeds: {per_step * 1e3:.1f} ms; the rest (stage 1, "
        f"final fit): {(timings[1, 10] - per_step) * 1e3:.1f} ms"
    )
    batched = layerwise.layer_wise(step_sizes=steps8, step_batch=8)
    t = best_time(core_call(batched, models, datas))
    print(
        f"  8 step sizes x 10 ridges, step_batch=8 (grid vmapped)  core {t * 1e3:8.1f} ms "
        f"({timings[8, 10] / t:.2f}x the step_batch=1 core)"
    )
    gram = jax.random.normal(jax.random.PRNGKey(0), (8, seeds, width, width), jnp.float32)
    gram = gram @ jnp.swapaxes(gram, -1, -2)
    mapped = jax.jit(lambda g: jax.lax.map(jnp.linalg.eigh, g))
    flat = jax.jit(lambda g: jnp.linalg.eigh(g.reshape(-1, width, width)))
    t_map = best_time(lambda: mapped(gram))
    t_flat = best_time(lambda: flat(gram))
    print(
        f"  eigh, 8 steps x {seeds} seeds of {width}x{width}: lax.map over steps "
        f"{t_map * 1e3:.1f} ms, all {8 * seeds} at once {t_flat * 1e3:.1f} ms"
    )


if __name__ == "__main__":
    main()
