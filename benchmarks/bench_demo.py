"""Benchmark: `tlkit demo` wall time and peak memory.

Runs the demo in a fresh subprocess (so compilation is included, as a user sees
it) and prints its wall time, its peak resident memory, and both as ratios of
the budget the core issue sets ("a few minutes on 2 CPU cores": 300 s) and of
the machine's memory.

Usage: python benchmarks/bench_demo.py [--small]
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time

BUDGET_S = 300.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="the --small demo (smoke check)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, "-m", "tlkit.cli", "demo", "--quiet", "--out", f"{tmp}/demo"]
        if args.small:
            cmd.append("--small")
        start = time.perf_counter()
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
        wall = time.perf_counter() - start
    peak_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    total_mib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**20
    print(f"tlkit demo{' --small' if args.small else ''}: cores={os.cpu_count()}")
    ratio, share = wall / BUDGET_S, peak_mib / total_mib
    print(f"  wall time   {wall:8.1f} s    ratio to the {BUDGET_S:.0f} s budget: {ratio:.2f}")
    print(f"  peak memory {peak_mib:8.0f} MiB  ratio to machine memory: {share:.3f}")


if __name__ == "__main__":
    main()
