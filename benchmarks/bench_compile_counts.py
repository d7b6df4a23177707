"""Benchmark (issue 6): XLA compilations of a new cell shape, by seeds, for real learners.

For each learner of the quadratic-d16 small reproduction (Algorithm 1 with the kernel-
ridge baseline, one-step, joint Adam, random features) a cell at n = 2^8 is run first
(it compiles what does not depend on n), then a cell at n = 2^9 is counted: the number
of XLA compilations it triggers, with 1 and 3 seeds. One compile per program and shape
means the count does not grow with the seeds. Each count runs in a fresh process.

    python benchmarks/bench_compile_counts.py [--small]
"""

from __future__ import annotations

import argparse
import subprocess
import sys

COUNT = """
import sys, tempfile, tomllib
from jax import monitoring
count = [0]
def listen(name, secs, **kw):
    if name == "/jax/core/compile/backend_compile_duration":
        count[0] += 1
monitoring.register_event_duration_secs_listener(listen)
import subprocess
from tlkit.sweeps import sweep
text = subprocess.run([sys.executable, "-m", "tlkit", "reproduce", "quadratic-d16", "--small",
                       "--show-config"], capture_output=True, text=True, check=True).stdout
spec = tomllib.loads(text)
spec["variants"] = [spec["variants"][int(sys.argv[1])]]
spec["seeds"] = list(range(int(sys.argv[2])))
with tempfile.TemporaryDirectory() as tmp:
    sweep({**spec, "grid": {"n_train": [256]}}, tmp + "/warm", progress="none")
    count[0] = 0
    sweep({**spec, "grid": {"n_train": [512]}}, tmp + "/cell", progress="none")
print(count[0])
"""

LEARNERS = (
    "three-layer / layer-wise + kernel ridge",
    "two-layer / one-step",
    "two-layer / joint",
    "two-layer / random-features",
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="quick check: two learners")
    args = parser.parse_args()
    print("XLA compilations of a new cell shape (n = 2^9 after a cell at n = 2^8)")
    for index, label in enumerate(LEARNERS[:2] if args.small else LEARNERS):
        counts = [
            subprocess.run(
                [sys.executable, "-c", COUNT, str(index), str(seeds)],
                capture_output=True,
                text=True,
                check=True,
            ).stdout.split()[-1]
            for seeds in (1, 3)
        ]
        print(f"  {label:42s} 1 seed: {counts[0]:>3s}   3 seeds: {counts[1]:>3s}")


if __name__ == "__main__":
    main()
