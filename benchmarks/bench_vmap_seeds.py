"""Benchmark (issue 4): 8 seeds of Algorithm 1 in one vmapped call vs a Python loop.

Both paths use the same jitted code (``LayerWise.fit_many`` vs ``LayerWise.fit`` per
seed); compilation is excluded (each path runs once before timing), and so is building
the models (the same in both paths; printed on its own). Each trainer is timed with its
step-size grid evaluated one step size at a time (``step_batch=1``), all at once, and as
the default ``"auto"`` picks (1 on a CPU, the whole grid on a GPU), and the fastest loop
is also compared with the fastest vmapped fit. Also times the two-layer
one-step trainer the same way, and the part that bounds the gain: the seeds x step sizes
eigendecompositions of Algorithm 1's stage 2 (one m1 x m1 ``eigh`` per seed and step
size), looped vs batched. Prints the speed-up ratios (best of 3 runs each).

    python benchmarks/bench_vmap_seeds.py          # d = 16, n = 2^12, m1 = m2 = 512, 8 seeds
    python benchmarks/bench_vmap_seeds.py --small
"""

from __future__ import annotations

import argparse
import os
import time

import jax
import jax.numpy as jnp
import numpy as np
import tlkit  # noqa: F401
import tlkit_nets.layerwise as layerwise_module
import tlkit_nets.onestep as onestep_module
from tlkit.types import TrainData
from tlkit_nets.layerwise import layer_wise
from tlkit_nets.onestep import one_step
from tlkit_nets.three_layer import three_layer
from tlkit_nets.two_layer import two_layer


def make_data(seed: int, n: int, n_val: int, d: int) -> TrainData:
    key = jax.random.PRNGKey(seed)
    kx, kv = jax.random.split(key)
    X = jax.random.normal(kx, (n, d), dtype=jnp.float32)
    Xv = jax.random.normal(kv, (n_val, d), dtype=jnp.float32)
    diag = jnp.concatenate([jnp.ones(d // 2), -jnp.ones(d // 2)]).astype(jnp.float32)

    def f(Z: jax.Array) -> jax.Array:
        return (Z**2) @ diag / jnp.sqrt(jnp.float32(d))

    return TrainData(X, f(X), Xv, f(Xv), key)


class CoreTimer:
    """Times a trainer module's compiled cores (``_core_jit``, ``_core_many``), blocking.

    Splits a fit's wall time into the compiled computation and everything around it
    (model construction, stacking seeds, host transfers, reports): on a GPU the two can
    be of one size at small shapes, which bounds what vmapping can gain.
    """

    def __init__(self, module) -> None:
        self.module, self.seconds = module, 0.0
        self.originals = {name: getattr(module, name) for name in ("_core_jit", "_core_many")}

    def __enter__(self) -> CoreTimer:
        for name, fn in self.originals.items():
            setattr(self.module, name, self._timed(fn))
        return self

    def __exit__(self, *exc) -> None:
        for name, fn in self.originals.items():
            setattr(self.module, name, fn)

    def _timed(self, fn):
        def run(*args):
            start = time.perf_counter()
            out = jax.block_until_ready(fn(*args))
            self.seconds += time.perf_counter() - start
            return out

        return run


def time_fits(trainer, build, datas, seeds: int, module, batched: bool) -> tuple[float, float]:
    """Wall time of fitting ``seeds`` fresh models (best of 3) and its compiled-core part.

    The models are built before the timer starts: construction is the same in both
    paths and not training (its time is printed on its own).
    """
    best = (float("inf"), float("inf"))
    for _ in range(3):
        models = [build(s) for s in range(seeds)]
        with CoreTimer(module) as core:
            start = time.perf_counter()
            if batched:
                trainer.fit_many(models, datas, lambda r: None)
            else:
                for model, data in zip(models, datas, strict=True):
                    trainer.fit(model, data, lambda r: None)
            elapsed = time.perf_counter() - start
        best = min(best, (elapsed, core.seconds))
    return best


def compare(label: str, make_trainer, batches, build, datas, seeds: int, module) -> None:
    """Loop vs vmapped for each ``step_batch``, after a compile run of each; print ratios."""
    loops, vmaps = {}, {}
    for batch in batches:
        trainer = make_trainer(batch)
        for batched, store in ((False, loops), (True, vmaps)):
            time_fits(trainer, build, datas, seeds, module, batched)  # compile
            store[batch] = time_fits(trainer, build, datas, seeds, module, batched)
        (t_loop, c_loop), (t_vmap, c_vmap) = loops[batch], vmaps[batch]
        print(
            f"  {label:22s} step_batch={batch:<4}  loop {t_loop:7.3f} s   vmapped {t_vmap:7.3f} s"
            f"   speed-up {t_loop / t_vmap:.2f}x"
        )
        print(
            f"  {'':22s} {'':15s}  of which compiled core: loop {c_loop:.3f} s, vmapped "
            f"{c_vmap:.3f} s (core speed-up {c_loop / c_vmap:.2f}x)"
        )
    best_loop = min(batches, key=lambda b: loops[b][0])
    best_vmap = min(batches, key=lambda b: vmaps[b][0])
    print(
        f"  {label:22s} fastest loop (step_batch={best_loop}) vs fastest vmapped "
        f"(step_batch={best_vmap}): speed-up {loops[best_loop][0] / vmaps[best_vmap][0]:.2f}x"
    )


def compare_eigh(count: int, width: int) -> None:
    """``count`` eigendecompositions of ``width x width`` matrices: looped vs one batched call."""
    A = jax.random.normal(jax.random.PRNGKey(0), (count, width, width), dtype=jnp.float32)
    A = A @ jnp.swapaxes(A, 1, 2)
    eigh = jax.jit(jnp.linalg.eigh)
    eigh(A[0])[0].block_until_ready()  # compile both shapes before timing
    eigh(A)[0].block_until_ready()
    start = time.perf_counter()
    for i in range(count):
        eigh(A[i])[0].block_until_ready()
    loop = time.perf_counter() - start
    start = time.perf_counter()
    eigh(A)[0].block_until_ready()
    batched = time.perf_counter() - start
    print(
        f"  {count} x eigh({width}) float32    loop {loop:7.2f} s   batched {batched:7.2f} s   "
        f"speed-up {loop / batched:.2f}x"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="quick check at a small size")
    args = parser.parse_args()
    seeds, d = 8, 16
    n, n_val, width = (2**10, 2**10, 128) if args.small else (2**12, 2**12, 512)
    datas = [make_data(s, n, n_val, d) for s in range(seeds)]
    print(f"machine: {os.cpu_count()} CPU cores, jax {jax.__version__} on {jax.devices()[0]}")
    print(f"{seeds} seeds, d={d} n={n} n_val={n_val} m1=m2={width} (two-layer m={width})")
    build_start = time.perf_counter()
    for s in range(seeds):
        three_layer(d=d, seed=s, m1=width, m2=width)
    print(
        f"  building {seeds} three-layer models (not timed below): "
        f"{time.perf_counter() - build_start:.3f} s"
    )
    grid = len(layer_wise().options["step_sizes"])
    compare(
        "three-layer/layer-wise",
        lambda batch: layer_wise(step_batch=batch),
        (1, grid, "auto"),
        lambda s: three_layer(d=d, seed=s, m1=width, m2=width),
        datas,
        seeds,
        layerwise_module,
    )
    compare(
        "two-layer/one-step",
        lambda batch: one_step(step_batch=batch),
        (1, len(one_step().options["step_sizes"]), "auto"),
        lambda s: two_layer(d=d, seed=s, m=width),
        datas,
        seeds,
        onestep_module,
    )
    # Algorithm 1's stage 2: one eigh per seed and step size (8 step sizes by default)
    compare_eigh(seeds * len(layer_wise().options["step_sizes"]), width)
    print(f"(numpy {np.__version__})")


if __name__ == "__main__":
    main()
