"""Benchmark: the infinite-width learned feature (m2 = None), polynomial vs XLA arccos.

φ̂(x) = (1/n1) Σ_j r_j K(x_j, x) costs one kernel entry per (point, support point)
pair, and each entry of the arc-cosine (ReLU) and abs kernels needs an arccos or
arcsin. ``tlkit.numerics.kernels`` evaluates those in float32 with a polynomial
(A&S 4.4.46); this times the feature with it and with XLA's ``jnp.arccos``/``arcsin``
in the same run, and prints pairs per second, the ratio and the largest difference.

    python benchmarks/bench_kernel_features.py          # n = n1 = 2^14, d = 16
    python benchmarks/bench_kernel_features.py --small  # n = n1 = 2^12
"""

from __future__ import annotations

import argparse
import math
import os

import jax
import jax.numpy as jnp
import numpy as np
import tlkit  # noqa: F401
from bench_stage1 import best_time  # benchmarks/ is on sys.path when run as a script
from tlkit.numerics import kernels
from tlkit_nets.features import kernel_feature_values


def xla_kernel(name: str):
    """The same closed forms with XLA's arccos/arcsin (the previous implementation)."""

    def kernel(X, Y):
        s, t, rho = kernels._norms_and_cosine(X, Y)
        st = s[:, None] * t[None, :]
        if name == "relu":
            return st * (jnp.sqrt(1 - rho**2) + (math.pi - jnp.arccos(rho)) * rho) / (2 * math.pi)
        c2 = 2.0 / math.pi
        e_abs_abs = c2 * st * (jnp.sqrt(1 - rho**2) + rho * jnp.arcsin(rho))
        return e_abs_abs - c2 * (s[:, None] + t[None, :]) + c2

    return kernel


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="quick check at a small size")
    args = parser.parse_args()
    n, d, batch = (2**12 if args.small else 2**14), 16, 4096
    X = jax.random.normal(jax.random.PRNGKey(0), (n, d), jnp.float32)
    r = jax.random.normal(jax.random.PRNGKey(1), (n,), jnp.float32)
    print(f"machine: {os.cpu_count()} CPU cores, jax {jax.__version__} on {jax.devices()[0]}")
    print(f"feature at {n} points with {n} support points, d={d}, float32")
    for name in ("abs", "relu"):
        results = {}
        for label, kernel in (
            ("tlkit", kernels.random_feature_kernel(name)),
            ("xla", xla_kernel(name)),
        ):
            fn = jax.jit(lambda X, X1, r, k=kernel: kernel_feature_values(X, X1, r, k, batch))
            results[label] = np.asarray(fn(X, X, r), np.float64)
            results[label + "_s"] = best_time(lambda fn=fn: fn(X, X, r).block_until_ready(), 3)
        diff = np.max(np.abs(results["tlkit"] - results["xla"])) / np.max(np.abs(results["xla"]))
        print(
            f"  {name:4s}  tlkit {n * n / results['tlkit_s'] / 1e6:6.0f} M pairs/s   "
            f"xla arccos {n * n / results['xla_s'] / 1e6:6.0f} M pairs/s   "
            f"speed-up {results['xla_s'] / results['tlkit_s']:.1f}x   max rel diff {diff:.1e}"
        )


if __name__ == "__main__":
    main()
