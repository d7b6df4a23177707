"""Benchmark: exact kernel ridge (tlkit-probes) vs a plain SciPy solve of the same system.

Builds the float64 NNGP (ReLU arc-cosine) Gram matrix of n Gaussian points in blocks and
solves kernel ridge along a path of L ridges from one eigendecomposition
(:func:`tlkit.numerics.ridge.kernel_ridge_path`), as the ``kernel-ridge`` probe does.
The reference is ``scipy.linalg.solve(K + nλI, y, assume_a="pos")`` (Cholesky) on the
same K: once (one ridge) and L times (the same path by repeated solves). Prints ratios
and the largest coefficient difference; asserts nothing. ``--small`` uses n = 2^11
(the full n = 2^14 needs a 2 GiB Gram matrix and minutes of eigh on a few cores).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import scipy.linalg


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="n = 2^11")
    parser.add_argument("--log-n", type=int, default=None)
    parser.add_argument("--d", type=int, default=16)
    parser.add_argument("--ridges", type=int, default=7)
    args = parser.parse_args()
    import jax
    import jax.numpy as jnp
    import tlkit  # noqa: F401  (enables float64)
    from tlkit.numerics.ridge import (
        kernel_ridge_cholesky,
        kernel_ridge_coefficients,
        kernel_ridge_path,
    )
    from tlkit_probes.baselines import gram, network_kernel

    n = 2 ** (args.log_n or (11 if args.small else 14))
    X = jax.random.normal(jax.random.PRNGKey(0), (n, args.d), dtype=jnp.float64)
    y = np.asarray(jnp.sin(X[:, 0]) + X[:, 1] ** 2)
    lams = np.logspace(-6, 0, args.ridges)
    kernel = network_kernel("relu", "nngp")

    t0 = time.perf_counter()
    K = gram(kernel, X, X, 2048)
    t_gram = time.perf_counter() - t0
    scale = float(np.mean(np.diag(K)))

    t0 = time.perf_counter()
    path = kernel_ridge_path(K, y)
    alphas = [kernel_ridge_coefficients(path, lam * scale) for lam in lams]
    t_path = time.perf_counter() - t0

    t0 = time.perf_counter()
    chol = kernel_ridge_cholesky(K, y, lams * scale)
    t_chol = time.perf_counter() - t0

    t0 = time.perf_counter()
    ref = []
    for lam in lams:
        ref.append(scipy.linalg.solve(K + n * lam * scale * np.eye(n), y, assume_a="pos"))
    t_solves = time.perf_counter() - t0
    err_chol = float(np.max(np.abs(chol - np.stack(ref, axis=1))) / np.max(np.abs(ref)))
    err = max(
        float(np.max(np.abs(a - r)) / np.max(np.abs(r))) for a, r in zip(alphas, ref, strict=True)
    )
    print(f"n = {n} (2^{int(np.log2(n))}), d = {args.d}, float64, {args.ridges} ridges")
    print(f"Gram matrix (blocked, jitted): {t_gram:.2f} s")
    print(f"tlkit path (1 eigh + {args.ridges} ridges): {t_path:.2f} s")
    print(
        f"SciPy Cholesky solves: {t_solves:.2f} s for {args.ridges} "
        f"({t_solves / args.ridges:.2f} s each)"
    )
    print(
        f"tlkit Cholesky path ({args.ridges} factorizations, the probe's default): {t_chol:.2f} s"
    )
    print(f"ratio Cholesky path / {args.ridges} SciPy solves: {t_chol / t_solves:.2f}")
    print(f"ratio path / one SciPy solve: {t_path / (t_solves / args.ridges):.2f}")
    print(f"ratio path / {args.ridges} SciPy solves: {t_path / t_solves:.2f}")
    print(f"max relative coefficient difference: eigh {err:.2e}, Cholesky {err_chol:.2e}")


if __name__ == "__main__":
    main()
