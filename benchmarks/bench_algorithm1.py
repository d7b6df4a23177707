"""Benchmark (issue 4): Algorithm 1 end to end, tlkit's layer-wise trainer vs plain NumPy.

Both run the same math: stage 1 streamed (ĝ over D1, φ̂ on D2 and the validation set),
then for every step size s of the grid the standardized features on D2, one
eigendecomposition of ΦᵀΦ/n2 for the whole λ grid, and the validation error; finally the
chosen (s, λ). Prints the time ratio and the FLOP rate of tlkit as a fraction of the
matrix-multiply FLOP rate measured in the same run.

    python benchmarks/bench_algorithm1.py          # n = 2^16, d = 32, m2 = 4096, m1 = 1024
    python benchmarks/bench_algorithm1.py --small
"""

from __future__ import annotations

import argparse
import math
import os
import time

import jax
import jax.numpy as jnp
import numpy as np
import tlkit  # noqa: F401
from tlkit.types import TrainData
from tlkit_nets.layerwise import DEFAULT_RIDGES, DEFAULT_STEP_SIZES, layer_wise
from tlkit_nets.three_layer import three_layer

C = math.sqrt(2 / math.pi)


def numpy_algorithm1(model, X, y, Xv, yv, batch: int) -> tuple[float, float, np.ndarray]:
    """Algorithm 1 (standardized form, relative ridge units) in plain float32 NumPy."""
    V, b, a = (np.asarray(v[...]) for v in (model.V, model.b, model.a))
    m1, n = a.shape[0], X.shape[0]
    n1 = n // 2
    c0 = np.mean(a * np.maximum(b, 0))
    r = y[:n1] - c0
    g = np.zeros(V.shape[0], dtype=np.float32)
    for s in range(0, n1, batch):
        g += (np.abs(X[s : s + batch][: n1 - s] @ V.T) - np.float32(C)).T @ r[s : s + batch]
    g /= n1

    def phi(Z: np.ndarray) -> np.ndarray:
        out = [
            (np.abs(Z[s : s + batch] @ V.T) - np.float32(C)) @ g for s in range(0, len(Z), batch)
        ]
        return np.concatenate(out) / V.shape[0]

    phi2, phiv, y2 = phi(X[n1:]), phi(Xv), y[n1:]
    mu, sd = phi2.mean(), phi2.std()
    lam = np.asarray(DEFAULT_RIDGES, dtype=np.float32)
    val = np.empty((len(DEFAULT_STEP_SIZES), len(lam)), dtype=np.float32)
    for i, step in enumerate(DEFAULT_STEP_SIZES):
        slope = np.float32(step) * a / sd

        def feats(p: np.ndarray, slope=slope) -> np.ndarray:
            return np.maximum(p[:, None] * slope - slope * mu + b, 0) / m1

        P2, Pv = feats(phi2), feats(phiv)
        evals, Q = np.linalg.eigh(P2.T @ P2 / len(P2))
        proj = Q.T @ (P2.T @ y2 / len(P2))
        lam_abs = lam * evals.mean()
        A = (proj / (evals + lam_abs[:, None])) @ Q.T
        val[i] = np.mean((Pv @ A.T - yv[:, None]) ** 2, axis=0)
    i, j = np.unravel_index(np.argmin(val), val.shape)
    return DEFAULT_STEP_SIZES[i], DEFAULT_RIDGES[j], val


def best_time(fn, repeats: int = 3) -> float:
    """Best wall time of ``repeats`` calls after a warm-up call."""
    fn()
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def flop_count(n: int, n_val: int, d: int, m1: int, m2: int, steps: int, ridges: int) -> float:
    """Dominant FLOPs: inner layer on D1, D2 and validation, then per step size the
    covariance, its eigendecomposition (~9 p³ for eigh with vectors) and the predictions."""
    inner = 2 * (n + n_val) * d * m2 + 2 * (n + n_val) * m2
    per_step = 2 * (n // 2) * m1**2 + 9 * m1**3 + 2 * n_val * m1 * ridges + 2 * m1**2 * ridges
    return inner + steps * per_step


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="quick check at a small size")
    args = parser.parse_args()
    n, n_val, d, m2, m1 = (
        (2**12, 2**12, 16, 512, 128) if args.small else (2**16, 2**15, 32, 4096, 1024)
    )
    rng = np.random.default_rng(0)
    X = rng.standard_normal((n, d), dtype=np.float32)
    Xv = rng.standard_normal((n_val, d), dtype=np.float32)
    A = np.diag(np.r_[np.ones(d // 2), -np.ones(d // 2)]).astype(np.float32) / math.sqrt(d)
    y = np.einsum("ni,ij,nj->n", X, A, X).astype(np.float32)
    yv = np.einsum("ni,ij,nj->n", Xv, A, Xv).astype(np.float32)
    data = TrainData(
        jnp.asarray(X), jnp.asarray(y), jnp.asarray(Xv), jnp.asarray(yv), jax.random.PRNGKey(0)
    )
    trainer = layer_wise(feature_form="standardized")

    def run_tlkit() -> tuple:
        model = three_layer(d=d, seed=0, m1=m1, m2=m2)
        report = trainer.fit(model, data, lambda s: None)
        return model, report

    run_tlkit()  # compile
    t = time.perf_counter()
    model, report = run_tlkit()
    t_tl = time.perf_counter() - t
    t = time.perf_counter()
    s_np, lam_np, val_np = numpy_algorithm1(
        three_layer(d=d, seed=0, m1=m1, m2=m2), X, y, Xv, yv, 4096
    )
    t_np = time.perf_counter() - t
    val_tl = np.asarray(report.stages[0].curves["val_mse"].values)
    # float32 solves at the tiniest λ are ill-conditioned; compare the grid's median
    # and the chosen cell
    rel_all = np.abs(val_tl - val_np) / np.abs(val_np)
    rel = (np.median(rel_all), abs(val_tl.min() - val_np.min()) / val_np.min())
    size = 1024 if args.small else 2048
    Am = rng.standard_normal((size, size), dtype=np.float32)
    Aj, mm = jnp.asarray(Am), jax.jit(jnp.matmul)
    t_mm = min(best_time(lambda: mm(Aj, Aj).block_until_ready()), best_time(lambda: Am @ Am))
    peak = 2 * size**3 / t_mm
    flops = flop_count(n, n_val, d, m1, m2, len(DEFAULT_STEP_SIZES), len(DEFAULT_RIDGES))
    print(f"machine: {os.cpu_count()} CPU cores, jax {jax.__version__} on {jax.devices()[0]}")
    print(
        f"Algorithm 1: n={n} n_val={n_val} d={d} m2={m2} m1={m1}, grid "
        f"{len(DEFAULT_STEP_SIZES)} x {len(DEFAULT_RIDGES)}, float32"
    )
    print(
        f"  chosen: tlkit s={report.stages[0].info['step_size']} "
        f"lambda={report.stages[1].info['ridge']}; numpy s={s_np} lambda={lam_np}"
    )
    print(f"  validation MSE rel diff tlkit vs numpy: median {rel[0]:.1e}, best {rel[1]:.1e}")
    print(f"  tlkit {t_tl:8.2f} s   {flops / t_tl / 1e9:6.1f} GFLOP/s")
    print(f"  numpy {t_np:8.2f} s   {flops / t_np / 1e9:6.1f} GFLOP/s")
    print(f"  matmul peak measured {peak / 1e9:6.1f} GFLOP/s")
    print(f"ratio numpy/tlkit time: {t_np / t_tl:.2f}x")
    print(f"tlkit FLOP rate / matmul rate: {flops / t_tl / peak:.2f}")


if __name__ == "__main__":
    main()
