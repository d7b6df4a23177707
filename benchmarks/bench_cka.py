"""Benchmark: streaming linear CKA (tlkit-probes) — memory vs n, throughput vs matmul.

Streams two synthetic representations of width ``w`` (Gaussian rows and a tanh map of
them) through :class:`tlkit_probes.cka_math.LinearCKAStream` in batches, once per
sample size, each in its own subprocess so that the peak resident memory of one size
is not polluted by another. Prints:

* peak RSS at the largest n relative to the smallest (the claim: within 1.2x, because
  the stream holds only w x w sums, never the n x w data);
* throughput as a fraction of a measured matrix-multiply rate on the same batch shapes
  (the stream's work is three w x w cross-products per batch).

Nothing is asserted; ratios are printed. ``--small`` uses width 256 and n = 2^14, 2^18.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time


def child(n: int, width: int, batch: int, dtype: str) -> None:
    import jax
    import jax.numpy as jnp
    import tlkit  # noqa: F401  (enables float64)
    from tlkit_probes.cka_math import LinearCKAStream

    dt = jnp.dtype(dtype)
    W = jax.random.normal(jax.random.PRNGKey(1), (width, width), dtype=dt) / width**0.5
    make = jax.jit(
        lambda k: (lambda X: (X, jnp.tanh(X @ W)))(jax.random.normal(k, (batch, width), dtype=dt))
    )
    stream = LinearCKAStream(["x"], ["y"])
    X, Y = make(jax.random.PRNGKey(0))
    stream.add({"x": X, "y": Y})  # warm-up (compilation) not timed
    stream = LinearCKAStream(["x"], ["y"])
    t0 = time.perf_counter()
    for i in range(n // batch):
        X, Y = make(jax.random.PRNGKey(i))
        stream.add({"x": X, "y": Y})
    values = stream.cka(False), stream.cka(True)
    jax.block_until_ready(stream.C[("x", "x")])
    elapsed = time.perf_counter() - t0
    # Matmul reference on the same shapes: (w x b) @ (b x w), three per batch.
    A = jax.random.normal(jax.random.PRNGKey(2), (batch, width), dtype=dt)
    mm = jax.jit(lambda a: jnp.matmul(a.T, a, precision=jax.lax.Precision.HIGHEST))
    mm(A).block_until_ready()
    reps = max(3, (n // batch) // 8)
    t1 = time.perf_counter()
    for _ in range(reps):
        out = mm(A)
    out.block_until_ready()
    mm_rate = reps * 2 * batch * width * width / (time.perf_counter() - t1)
    gen = jax.jit(lambda k: make(k)[1].sum())
    gen(jax.random.PRNGKey(0)).block_until_ready()
    t2 = time.perf_counter()
    for i in range(reps):
        s = gen(jax.random.PRNGKey(i))
    s.block_until_ready()
    gen_time = (time.perf_counter() - t2) / reps * (n // batch)
    flops = (n // batch) * 3 * 2 * batch * width * width
    print(
        json.dumps(
            {
                "n": n,
                "seconds": elapsed,
                "data_seconds": gen_time,
                "rate": flops / max(elapsed - gen_time, 1e-9),
                "matmul_rate": mm_rate,
                "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                "cka_biased": float(values[0][0, 0]),
                "cka_debiased": float(values[1][0, 0]),
            }
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="width 256, n = 2^14 and 2^18")
    parser.add_argument("--width", type=int, default=None)
    parser.add_argument("--sizes", type=int, nargs="+", default=None, help="log2 of each n")
    parser.add_argument("--batch", type=int, default=4096)
    parser.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    parser.add_argument("--child", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    width = args.width or (256 if args.small else 1024)
    if args.child is not None:
        child(args.child, width, args.batch, args.dtype)
        return
    sizes = args.sizes or ([14, 18] if args.small else [16, 20])
    rows = []
    for log_n in sizes:
        cmd = [
            sys.executable,
            __file__,
            "--child",
            str(2**log_n),
            "--width",
            str(width),
            "--batch",
            str(args.batch),
            "--dtype",
            args.dtype,
        ]
        out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
        rows.append(json.loads(out.strip().splitlines()[-1]))
        r = rows[-1]
        print(
            f"n=2^{log_n}: {r['seconds']:.1f} s, peak RSS {r['peak_rss_mb']:.0f} MB, "
            f"CKA biased {r['cka_biased']:.4f} debiased {r['cka_debiased']:.4f}"
        )
    lo, hi = rows[0], rows[-1]
    print(f"width {width}, {args.dtype}, batch {args.batch}")
    print(
        f"peak memory ratio n=2^{sizes[-1]} / n=2^{sizes[0]}: "
        f"{hi['peak_rss_mb'] / lo['peak_rss_mb']:.3f}"
    )
    print(
        f"throughput / matmul rate at n=2^{sizes[-1]}: {hi['rate'] / hi['matmul_rate']:.3f} "
        f"(stream {hi['rate'] / 1e9:.1f} GFLOP/s excluding data generation, "
        f"matmul {hi['matmul_rate'] / 1e9:.1f} GFLOP/s)"
    )


if __name__ == "__main__":
    main()
