"""Where Algorithm 1's learned feature goes on the Wang et al. target, as n1 grows.

Computes, in NumPy, the stage-1 feature phi_hat(x) = <g, h0(x)> / m2 with
g = (1/n1) sum_j (y_j - mean y) h0(x_j) and h0(x) = h3(V x) (sigma2 = he3), for n1 up to
2^18, and prints corr(phi_hat, p) on 20 000 fresh points, for rows of V ~ N(0, I/d) or
uniform on the unit sphere, and for Gaussian inputs or inputs rescaled to norm sqrt(d).
A correlation that stops rising with n1 is a property of the population feature (a bias),
not of the sample size. Also prints the target's exact degree-3 energy next to the
energy of f* along p (Monte Carlo): equal when the degree-3 part of f* is proportional to p.

For unit rows of V and Gaussian inputs it also prints the population limit that the
rotation invariance of the inner kernel predicts (docs/reproductions/wang-hierarchical.md):
the kernel scales the two O(d)-invariant parts of the degree-3 Hermite space, harmonic
cubics and the "trace" part x_i(|x|^2 - d - 2), by factors in the ratio r = (d + 4)/2; p
has the share f = 3/(d + 2) of its variance in the trace part, so
corr(phi_inf, p) = (1 - f + r f) / sqrt(1 - f + r^2 f).

    python docs/reproductions/scripts/wang_feature_limit.py [--d 8] [--m2 4096]

About a minute per configuration on 2 CPU cores.
"""

from __future__ import annotations

import argparse
import math

import jax
import jax.numpy as jnp
import numpy as np
import tlkit  # noqa: F401  (float64)
from tlkit_targets.hierarchical import HierarchicalPolynomial


def h3(z: np.ndarray) -> np.ndarray:
    return (z**3 - 3 * z) / math.sqrt(6)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--d", type=int, default=8)
    parser.add_argument("--m2", type=int, default=4096)
    parser.add_argument("--max-log2-n1", type=int, default=18)
    args = parser.parse_args()
    d, m2 = args.d, args.m2
    target = HierarchicalPolynomial(d=d, k=3, signs="random", seed=0)

    X = jax.random.normal(jax.random.PRNGKey(1), (1_000_000, d))
    f, p = np.asarray(target.function(X)), np.asarray(target.feature(X))
    energy = np.asarray(target.degree_energy(max_degree=3).energy)
    along_p = np.mean(f * p) ** 2 / np.mean(p * p)
    print(f"d={d}: degree-3 energy of f* {energy[3]:.4f} (exact); along p {along_p:.4f} (MC)")
    f_trace, ratio = 3 / (d + 2), (d + 4) / 2
    limit = (1 - f_trace + ratio * f_trace) / math.sqrt(1 - f_trace + ratio**2 * f_trace)
    print(f"predicted limit of corr(phi_hat, p), unit rows of V, Gaussian inputs: {limit:.3f}")

    for v_rows in ("gaussian", "sphere"):
        V = np.random.default_rng(0).standard_normal((m2, d))
        V = V / math.sqrt(d) if v_rows == "gaussian" else V / np.linalg.norm(V, axis=1)[:, None]
        for inputs in ("gaussian", "norm sqrt(d)"):

            def draw(n: int, seed: int, inputs: str = inputs) -> tuple[np.ndarray, ...]:
                x = np.random.default_rng(seed).standard_normal((n, d))
                if inputs != "gaussian":
                    x *= math.sqrt(d) / np.linalg.norm(x, axis=1, keepdims=True)
                xj = jnp.asarray(x)
                return x, np.asarray(target.function(xj)), np.asarray(target.feature(xj))

            x_test, _, p_test = draw(20_000, 99)
            h_test = h3(x_test @ V.T)
            g, done, cells = np.zeros(m2), 0, []
            for k in range(10, args.max_log2_n1 + 1):
                while done < 2**k:
                    block = min(2**14, 2**k - done)
                    x, y, _ = draw(block, 1000 + done)
                    g += (y - y.mean()) @ h3(x @ V.T)
                    done += block
                phi = h_test @ (g / done) / m2
                cells.append(f"2^{k}: {np.corrcoef(phi, p_test)[0, 1]:.3f}")
            label = f"V rows {v_rows:8s}, inputs {inputs:12s}"
            print(f"{label}: corr(phi_hat, p) by n1: " + ", ".join(cells))


if __name__ == "__main__":
    main()
