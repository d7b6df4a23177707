"""Benchmark: a sweep of small cells with and without the persistent compilation cache.

Each run is a fresh ``tlkit sweep`` process (as a rerun, a resumed sweep or a Dask
worker is): 4 cells of the quadratic-d16 small reproduction (Algorithm 1 and one-step,
n = 2^8 and 2^10, 2 seeds). Prints the wall time and the summed cell time of each run,
and the ratios to the run without a cache.

    python benchmarks/bench_compile_cache.py [--skip-dask | --small]
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
import tomllib
from pathlib import Path

import tomli_w

TLKIT = [sys.executable, "-m", "tlkit"]


def small_config(path: Path) -> Path:
    text = subprocess.run(
        [*TLKIT, "reproduce", "quadratic-d16", "--small", "--show-config"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    spec = tomllib.loads(text)
    spec["variants"] = spec["variants"][:2]
    spec["grid"]["n_train"] = [256, 1024]
    path.write_text(tomli_w.dumps(spec))
    return path


def run(config: Path, out: Path, *extra: str) -> tuple[float, float]:
    """Wall time of the whole process and the cells' summed time it reports."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JAX_", "TLKIT_"))}
    start = time.perf_counter()
    done = subprocess.run(
        [*TLKIT, "sweep", str(config), "--out", str(out), "--quiet", *extra],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    wall = time.perf_counter() - start
    cells = float(re.search(r"([0-9.]+) s in cells", done.stdout).group(1))  # type: ignore[union-attr]
    return wall, cells


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-dask", action="store_true", help="local executor only")
    parser.add_argument("--small", action="store_true", help="quick check: local executor only")
    args = parser.parse_args()
    args.skip_dask = args.skip_dask or args.small
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        config = small_config(work / "sweep.toml")
        cache = ["--compile-cache", str(work / "cache")]
        rows = [
            ("local, no cache", run(config, work / "a")),
            ("local, empty cache (fills it)", run(config, work / "b", *cache)),
            ("local, warm cache", run(config, work / "c", *cache)),
        ]
        if not args.skip_dask:
            dask = ["--executor", "dask", "--workers", "2"]
            rows += [
                ("dask 2 workers, no cache", run(config, work / "d", *dask)),
                ("dask 2 workers, warm cache", run(config, work / "e", *dask, *cache)),
            ]
    print(f"machine: {os.cpu_count()} CPU cores; 4 cells x 2 seeds, each run a fresh process")
    base = {"local": rows[0][1], "dask": rows[3][1] if len(rows) > 3 else None}
    for label, (wall, cells) in rows:
        ref = base["dask" if label.startswith("dask") else "local"]
        assert ref is not None
        print(
            f"  {label:32s} wall {wall:6.1f} s  in cells {cells:6.1f} s  "
            f"wall vs no cache {wall / ref[0]:.2f}  cells vs no cache {cells / ref[1]:.2f}"
        )


if __name__ == "__main__":
    main()
