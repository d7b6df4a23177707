"""Sweep benchmarks (issue 6); prints ratios, asserts nothing about wall time.

1. Overhead: wall time of a 40-cell sweep / the sum of its cells' compute time
   (training, probes and writing each cell file, timed inside the cells).
2. Compilations per cell shape: XLA compilations of one new cell shape as the
   number of seeds grows (seeds are vmapped by the trainer's ``fit_many``).
3. Dask with 2 local workers vs the local executor on the same sweep.

Uses the installed first-party plugins (quadratic-feature target, two- and
three-layer networks, the ``test`` probe) at small sizes. ``--small`` runs a
reduced version (8 cells) for smoke tests.

Run: python benchmarks/bench_sweep.py [--small] [--skip-dask]
"""

from __future__ import annotations

import argparse
import collections
import logging
import os
import platform
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import jax
import tlkit
from tlkit.sweeps import SweepSpec, expand_cells, train_many

COMPILE_EVENT = "/jax/core/compile/backend_compile_duration"


def sweep_spec(n_cells: int) -> dict[str, Any]:
    """Two- vs three-layer networks over d and n (x two widths for 40 cells)."""
    n_values = [128, 256, 512, 1024, 2048]
    widths = [32, 64] if n_cells >= 40 else [64]
    if n_cells < 40:
        n_values = n_values[: max(1, n_cells // 4)]
    variants = [
        {
            "name": f"two-layer-m{w}",
            "arch": {"name": "two-layer", "params": {"m": w}},
            "trainer": "one-step",
        }
        for w in widths
    ] + [
        {
            "name": f"three-layer-m{w}",
            "arch": {"name": "three-layer", "params": {"m1": w, "m2": 128}},
            "trainer": "layer-wise",
        }
        for w in widths
    ]
    return {
        "seeds": [0, 1],
        "base": {
            "target": {"name": "quadratic-feature", "params": {"d": 8}},
            "n_val": 256,
            "n_test": 512,
            "probes": ["test"],
        },
        "grid": {"target.d": [8, 12], "n_train": n_values},
        "variants": variants,
    }


def overhead(n_cells: int, workdir: Path) -> dict[str, float]:
    spec = sweep_spec(n_cells)
    cells = len(expand_cells(SweepSpec.from_dict(spec)))
    result = tlkit.sweep(spec, workdir / "overhead", progress="none")
    assert not result.errors, result.errors
    return {
        "cells": cells,
        "wall_s": result.wall_s,
        "compute_s": result.compute_s,
        "ratio": result.wall_s / result.compute_s,
    }


class CompileCounter:
    """Counts XLA compilations: the total through jax.monitoring, and per jitted
    function from JAX's own ``Compiling <name>`` log lines (``jax_log_compiles``)."""

    def __init__(self) -> None:
        self.count = 0
        self.by_name: collections.Counter[str] = collections.Counter()
        jax.monitoring.register_event_duration_secs_listener(self._listen)
        jax.config.update("jax_log_compiles", True)
        handler = logging.Handler()
        handler.emit = self._log  # type: ignore[method-assign]
        logger = logging.getLogger("jax")
        logger.addHandler(handler)
        logger.setLevel(logging.WARNING)
        logger.propagate = False  # keep the benchmark's output readable

    def _listen(self, event: str, duration: float, **kwargs: Any) -> None:
        if event == COMPILE_EVENT:
            self.count += 1

    def _log(self, record: logging.LogRecord) -> None:
        words = record.getMessage().split()
        if len(words) > 1 and words[0] == "Compiling":
            self.by_name[words[1]] += 1


def compiles_per_seed_count(seed_counts: list[int]) -> dict[int, tuple[int, dict[str, int]]]:
    """Compilations of one fresh cell shape (a new n_train each time) per seed count."""
    counter = CompileCounter()
    out = {}
    base = {
        "target": {"name": "quadratic-feature", "params": {"d": 8}},
        "arch": {"name": "three-layer", "params": {"m1": 64, "m2": 128}},
        "trainer": "layer-wise",
        "n_val": 256,
        "n_test": 512,
        "probes": ["test"],
    }
    # warm up shape-independent compilations (key derivation, small helpers)
    train_many([{**base, "n_train": 100, "seed": s} for s in range(2)])
    for i, n_seeds in enumerate(seed_counts):
        before, names = counter.count, collections.Counter(counter.by_name)
        train_many([{**base, "n_train": 300 + 17 * i, "seed": s} for s in range(n_seeds)])
        out[n_seeds] = (counter.count - before, dict(counter.by_name - names))
    return out


def dask_vs_local(workdir: Path, n_cells: int) -> dict[str, float]:
    spec = sweep_spec(n_cells)
    t0 = time.perf_counter()
    local = tlkit.sweep(spec, workdir / "local", progress="none")
    local_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    dask = tlkit.sweep(spec, workdir / "dask", executor="dask", workers=2, progress="none")
    dask_s = time.perf_counter() - t0  # includes starting the cluster
    assert not local.errors and not dask.errors
    return {"cells": local.cells, "local_s": local_s, "dask_s": dask_s, "ratio": dask_s / local_s}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="8 cells instead of 40")
    parser.add_argument("--skip-dask", action="store_true")
    args = parser.parse_args()
    n_cells = 8 if args.small else 40
    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
        f"jax {jax.__version__} on {jax.devices()[0].platform}"
    )
    workdir = Path(tempfile.mkdtemp(prefix="bench-sweep-"))
    try:
        o = overhead(n_cells, workdir)
        print(
            f"overhead: {o['cells']} cells, wall {o['wall_s']:.1f} s, "
            f"in cells {o['compute_s']:.1f} s, ratio {o['ratio']:.3f} (target <= 1.15)"
        )
        c = compiles_per_seed_count([1, 2, 4, 8] if not args.small else [1, 2, 4])
        print("XLA compilations of a new cell shape, by number of seeds:")
        for k, (total, names) in c.items():
            detail = ", ".join(f"{n} x{v}" for n, v in sorted(names.items()))
            print(f"  {k} seeds: {total} ({detail})")
        multi = [total for k, (total, _) in c.items() if k >= 2]
        print(f"  ratio of compilations, most/fewest seeds (>= 2): {multi[-1] / multi[0]:.2f}")
        if not args.skip_dask:
            d = dask_vs_local(workdir, 8 if args.small else 20)
            print(
                f"dask (2 local workers) vs local: {d['cells']} cells, local {d['local_s']:.1f} s, "
                f"dask {d['dask_s']:.1f} s (incl. cluster start), ratio {d['ratio']:.2f}"
            )
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
