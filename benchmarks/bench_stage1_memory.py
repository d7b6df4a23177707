"""Benchmark (issue 4): peak memory of Algorithm 1's stage 1 at n = 2^20 vs n = 2^16.

Each size runs in its own subprocess (peak RSS is per process). The child draws D1
(X: n x d float32, and y), resets the kernel's peak-RSS mark (``/proc/self/clear_refs``),
then runs the jitted streamed stage 1 (ĝ, compile included) and reads ``VmHWM``. It
reports the peak RSS of the whole process and the memory stage 1 added on top of the
data; streaming keeps the latter flat in n (target: within 1.2x).

    python benchmarks/bench_stage1_memory.py          # d = 32, m2 = 4096, batch 4096
    python benchmarks/bench_stage1_memory.py --small  # n = 2^14 vs 2^18, m2 = 1024
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys


def _status_kib(field: str) -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


def child(n: int, d: int, m2: int, batch: int) -> None:
    """Run stage 1 once at size n and print a JSON line with memory figures (MiB)."""
    import jax
    import jax.numpy as jnp
    import tlkit  # noqa: F401
    from tlkit.numerics.activations import get_activation
    from tlkit_nets.features import feature_direction

    kx, kv = jax.random.split(jax.random.PRNGKey(0))
    X = jax.random.normal(kx, (n, d), dtype=jnp.float32)
    r = X[:, 0] * X[:, 1]
    V = jax.random.normal(kv, (m2, d), dtype=jnp.float32) / jnp.sqrt(jnp.float32(d))
    r.block_until_ready()
    rss_data = _status_kib("VmRSS")
    with open("/proc/self/clear_refs", "w") as fh:
        fh.write("5")  # reset the peak-RSS mark to the current RSS
    g = jax.jit(feature_direction, static_argnums=(3, 4))(X, r, V, get_activation("abs"), batch)
    g.block_until_ready()
    peak = _status_kib("VmHWM")
    print(
        json.dumps(
            {
                "n": n,
                "data_rss": rss_data / 1024,
                "peak_rss": peak / 1024,
                "stage1_extra": (peak - rss_data) / 1024,
            }
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="quick check at a small size")
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--m2", type=int, default=4096, help=argparse.SUPPRESS)
    args = parser.parse_args()
    d, batch = 32, 4096
    if args.child:
        child(args.child, d, args.m2, batch)
        return
    sizes, m2 = ((2**14, 2**18), 1024) if args.small else ((2**16, 2**20), 4096)
    rows = []
    for n in sizes:
        out = subprocess.run(
            [sys.executable, __file__, "--child", str(n), "--m2", str(m2)],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        rows.append(json.loads(out.strip().splitlines()[-1]))
    print(f"machine: {os.cpu_count()} CPU cores; stage 1 streamed, d={d} m2={m2} batch={batch}")
    for row in rows:
        print(
            f"  n=2^{row['n'].bit_length() - 1}: RSS with data {row['data_rss']:7.1f} MiB, "
            f"peak {row['peak_rss']:7.1f} MiB, stage-1 extra {row['stage1_extra']:6.1f} MiB"
        )
    small, large = rows
    print(
        f"ratio peak RSS n={large['n']} / n={small['n']}: "
        f"{large['peak_rss'] / small['peak_rss']:.2f}x (includes the 16x larger data)"
    )
    print(f"ratio stage-1 extra memory: {large['stage1_extra'] / small['stage1_extra']:.2f}x")


if __name__ == "__main__":
    main()
