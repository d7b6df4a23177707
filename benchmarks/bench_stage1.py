"""Benchmark (issue 2b): Algorithm 1 stage 1, tlkit's jitted streamed form vs plain NumPy.

Stage 1 is ĝ = (1/n1) Σ_j (y_j - c0) σ2(V x_j) (the rank-one gradient of W, SCIENCE.md §2),
with σ2 = |z| - sqrt(2/π), streamed over blocks of D1 in both implementations. Prints the
time ratio and the FLOP rate of each as a fraction of the matrix-multiply FLOP rate
measured in the same run (the best of NumPy and XLA on a square float32 product).

    python benchmarks/bench_stage1.py            # n = 2^16, d = 32, m2 = 4096
    python benchmarks/bench_stage1.py --small    # a quick check
"""

from __future__ import annotations

import argparse
import math
import os
import time

import jax
import jax.numpy as jnp
import numpy as np
import tlkit  # noqa: F401  (x64 available; we use float32 explicitly)
from tlkit.numerics.activations import get_activation
from tlkit_nets.features import feature_direction

C = math.sqrt(2 / math.pi)


def best_time(fn, repeats: int) -> float:
    """Best wall time of ``repeats`` calls (after one warm-up call)."""
    fn()
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def matmul_rate(size: int, repeats: int) -> float:
    """Best float32 square matmul FLOP rate of NumPy and XLA, in FLOP/s."""
    rng = np.random.default_rng(0)
    A = rng.standard_normal((size, size), dtype=np.float32)
    B = rng.standard_normal((size, size), dtype=np.float32)
    Aj, Bj = jnp.asarray(A), jnp.asarray(B)
    mm = jax.jit(jnp.matmul)
    t_np = best_time(lambda: A @ B, repeats)
    t_jax = best_time(lambda: mm(Aj, Bj).block_until_ready(), repeats)
    return 2 * size**3 / min(t_np, t_jax)


def numpy_stage1(X: np.ndarray, r: np.ndarray, V: np.ndarray, batch: int) -> np.ndarray:
    """The same math in plain NumPy, streamed over the same blocks."""
    acc = np.zeros(V.shape[0], dtype=X.dtype)
    for start in range(0, X.shape[0], batch):
        H = np.abs(X[start : start + batch] @ V.T) - np.float32(C)
        acc += H.T @ r[start : start + batch]
    return acc / X.shape[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="quick check at a small size")
    args = parser.parse_args()
    n, d, m2 = (2**12, 16, 512) if args.small else (2**16, 32, 4096)
    batch, repeats = 4096, 2 if args.small else 3
    rng = np.random.default_rng(0)
    X = rng.standard_normal((n, d), dtype=np.float32)
    r = rng.standard_normal(n, dtype=np.float32)
    V = (rng.standard_normal((m2, d)) / math.sqrt(d)).astype(np.float32)
    Xj, rj, Vj = jnp.asarray(X), jnp.asarray(r), jnp.asarray(V)
    sigma2 = get_activation("abs")
    streamed = jax.jit(feature_direction, static_argnums=(3, 4))

    g_np = numpy_stage1(X, r, V, batch)
    g_tl = np.asarray(streamed(Xj, rj, Vj, sigma2, batch))
    err = np.max(np.abs(g_np - g_tl)) / np.max(np.abs(g_np))

    t_tl = best_time(lambda: streamed(Xj, rj, Vj, sigma2, batch).block_until_ready(), repeats)
    t_np = best_time(lambda: numpy_stage1(X, r, V, batch), repeats)
    flops = 2 * n * d * m2 + 3 * n * m2  # X Vᵀ, then |.| - c and the weighted sum
    peak = matmul_rate(1024 if args.small else 2048, repeats)
    print(f"machine: {os.cpu_count()} CPU cores, jax {jax.__version__} on {jax.devices()[0]}")
    print(f"stage 1: n={n} d={d} m2={m2} batch={batch} float32; max rel diff {err:.1e}")
    print(f"  tlkit (jit, streamed) {t_tl:8.3f} s   {flops / t_tl / 1e9:7.1f} GFLOP/s")
    print(f"  numpy (streamed)      {t_np:8.3f} s   {flops / t_np / 1e9:7.1f} GFLOP/s")
    print(f"  matmul peak measured            {peak / 1e9:7.1f} GFLOP/s")
    print(f"ratio numpy/tlkit time: {t_np / t_tl:.2f}x")
    print(f"tlkit FLOP rate / matmul rate: {flops / t_tl / peak:.2f}")
    print(f"numpy FLOP rate / matmul rate: {flops / t_np / peak:.2f}")


if __name__ == "__main__":
    main()
