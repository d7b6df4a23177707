"""The ``feature-energy`` probe: energy of the learned feature φ̂ by polynomial degree.

``E_k = E[(P_k φ̂)²]`` where ``P_k`` projects onto degree-k polynomials orthogonal to lower
degrees in L2 of the input distribution. With ``K_k`` the reproducing kernel of that space,
``E_k = E_{x,x'}[φ̂(x) φ̂(x') K_k(x, x')]`` for independent ``x, x'``; the probe estimates it by
the U-statistic over each batch of test points (diagonal dropped, so it is unbiased) and
averages over batches, with the spread over batches as standard error.

* Gaussian N(0, I_d): ``Σ_k ρ^k K_k(x, y) = Π_i Σ_m ρ^m h_m(x_i) h_m(y_i)`` (Mehler's formula
  per coordinate, ``h_m`` normalized Hermite), so ``K_k`` is the degree-k coefficient of a
  product of d truncated polynomials in ρ.
* Sphere of radius √d: ``K_k(x, y) = N_k C_k^λ(t) / C_k^λ(1)``, ``t = x·y/d``, ``λ = (d−2)/2``
  (zonal harmonic; ``N_k`` the dimension of degree-k harmonics).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
from scipy.special import eval_gegenbauer
from tlkit.errors import ProbeNotApplicable
from tlkit.numerics.hermite import hermite_normalized
from tlkit.types import ProbeOutput

from tlkit_probes._common import batches, check_positive_int, map_rows, model_batch_rows, warn
from tlkit_probes.feature import learned_feature_fn
from tlkit_probes.theory import harmonic_dimension

NAME = "feature-energy"


def gaussian_degree_kernels(X: np.ndarray, Y: np.ndarray, k_max: int) -> np.ndarray:
    """``K_k(x, y)`` for k = 0..k_max under N(0, I_d): shape ``(k_max + 1, n, m)``."""
    hx = hermite_normalized(np.asarray(X, dtype=np.float64), k_max)  # (n, d, K)
    hy = hermite_normalized(np.asarray(Y, dtype=np.float64), k_max)  # (m, d, K)
    n, d = X.shape
    prod = np.zeros((k_max + 1, n, Y.shape[0]))
    prod[0] = 1.0
    for i in range(d):
        # coordinate i's polynomial in ρ: coefficient m is h_m(x_i) h_m(y_i)
        coord = np.einsum("nm,km->mnk", hx[:, i, :], hy[:, i, :])
        new = np.zeros_like(prod)
        for k in range(k_max + 1):
            for m in range(k + 1):
                new[k] += prod[k - m] * coord[m]
        prod = new
    return prod


def sphere_degree_kernels(X: np.ndarray, Y: np.ndarray, k_max: int) -> np.ndarray:
    """Zonal kernels ``N_k C_k^λ(t)/C_k^λ(1)`` on the sphere of radius √d."""
    d = X.shape[1]
    t = np.clip(np.asarray(X, np.float64) @ np.asarray(Y, np.float64).T / d, -1.0, 1.0)
    lam = (d - 2) / 2
    out = []
    for k in range(k_max + 1):
        if d == 2:  # λ = 0: Chebyshev limit
            out.append((2 if k else 1) * np.cos(k * np.arccos(t)))
        else:
            norm = eval_gegenbauer(k, lam, 1.0)
            out.append(harmonic_dimension(k, d) * eval_gegenbauer(k, lam, t) / norm)
    return np.stack(out)


KERNELS = {"gaussian": gaussian_degree_kernels, "sphere": sphere_degree_kernels}


def degree_energy_u_statistic(
    values: np.ndarray, X: np.ndarray, distribution: str, k_max: int, batch: int
) -> tuple[np.ndarray, np.ndarray]:
    """Unbiased per-degree energies of ``values = φ(X)`` and their standard errors."""
    kernels = KERNELS[distribution]
    per = []
    for sl in batches(X.shape[0], batch):
        if sl.stop - sl.start < batch:
            break  # equal batches keep the spread an honest standard error
        v = values[sl]
        K = kernels(X[sl], X[sl], k_max)
        diag = np.einsum("knn->kn", K)
        per.append((np.einsum("i,kij,j->k", v, K, v) - diag @ (v * v)) / (batch * (batch - 1)))
    per_arr = np.asarray(per)
    stderr = (
        per_arr.std(axis=0, ddof=1) / math.sqrt(len(per))
        if len(per) > 1
        else np.full(k_max + 1, np.nan)
    )
    return per_arr.mean(axis=0), stderr


class FeatureEnergyProbe:
    """Energy of φ̂ per polynomial degree (Gaussian or spherical inputs)."""

    def __init__(self, max_degree: int, batch: int, budget_mb: int) -> None:
        self.k_max, self.batch, self.budget = max_degree, batch, budget_mb * 2**20

    def __call__(self, run: Any) -> Mapping[str, ProbeOutput]:
        meta = run.target.metadata() if callable(getattr(run.target, "metadata", None)) else {}
        dist = meta.get("input_distribution")
        if dist not in KERNELS:
            raise ProbeNotApplicable(
                f"degree energies need Gaussian or spherical inputs; the target's input "
                f"distribution is {dist!r}"
            )
        X, _ = run.test_data()
        if X.shape[0] < 2 * self.batch:
            raise ProbeNotApplicable(
                f"needs at least two batches of {self.batch} test points, got {X.shape[0]}"
            )
        fn = learned_feature_fn(run.model, X[:2])
        phi = map_rows(fn, X, model_batch_rows(run.model, X, self.budget)).astype(np.float64)
        energy, stderr = degree_energy_u_statistic(
            phi.ravel(), np.asarray(X, dtype=np.float64), dist, self.k_max, self.batch
        )
        var = float(np.var(phi))
        if var > 0:
            fraction = energy / var
            fraction[0] = np.nan  # the constant is not part of the variance
        else:
            warn(NAME, "the learned feature is constant; energy fractions set to NaN")
            fraction = np.full_like(energy, np.nan)
        deg = {"degree": list(range(self.k_max + 1))}
        return {
            "energy": ProbeOutput(
                energy, ("degree",), deg, "1", f"E[(P_k phi_hat)^2] ({dist} inputs, U-statistic)"
            ),
            "stderr": ProbeOutput(
                stderr, ("degree",), deg, "1", "standard error of energy (spread over batches)"
            ),
            "fraction": ProbeOutput(
                fraction, ("degree",), deg, "1", "E[(P_k phi_hat)^2] / Var phi_hat (k >= 1)"
            ),
        }


def feature_energy(
    max_degree: int = 4, batch: int = 1024, budget_mb: int = 64
) -> FeatureEnergyProbe:
    """Energy of the learned feature φ̂ by polynomial degree 0..max_degree.

    Args:
        max_degree: highest degree.
        batch: points per U-statistic batch (memory ``(max_degree + 1) · batch²`` doubles).
        budget_mb: activation memory per evaluation batch, in MiB.
    """
    check_positive_int("max_degree", max_degree, 0)
    check_positive_int("batch", batch, 4)
    check_positive_int("budget_mb", budget_mb)
    return FeatureEnergyProbe(max_degree, batch, budget_mb)
