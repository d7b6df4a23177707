"""The ``theory`` probe: overlays from the theory, computed for the run's target.

* ``hermite_coefficients``: normalized Hermite coefficients ``c_k = E[σ2(z) h_k(z)]``.
* ``kernel_eigenvalues``: ``λ_k ≈ c_k² / N_k`` with ``N_k`` the number of degree-k
  components (spherical harmonics of R^d; for Gaussian inputs the same count is used as
  the leading-order approximation) [SCIENCE.md §2, approximate].
* ``target_energy`` / ``target_energy_fraction``: ``E[(P_k f*)²]`` and its share of
  ``Var f*`` from the target's ``degree_energy``.
* ``population_corr`` / ``population_norm``: the population feature ``K(f* - E f*)``
  estimated by Monte Carlo over ``mc_points`` fresh inputs, its correlation with h* and
  its RMS norm, on the first ``eval_points`` test points.
* ``threshold_exponent`` / ``threshold``: the predicted feature-learning threshold
  ``n* ≈ d^e`` [recon from SCIENCE.md §5]: ``e`` = the degree of h*, plus one when h* has
  degree ≥ 2 and σ2 has a linear part (``|c_1| > 1e-8``, the ReLU case); NaN (no
  threshold) when σ2's Hermite coefficient at the degree of h* vanishes, since the
  kernel then removes h* from the learned feature (e.g. σ2 = |z| and h* = β·x).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from tlkit.numerics.activations import get_activation
from tlkit.numerics.hermite import hermite_coefficients
from tlkit.numerics.kernels import random_feature_kernel
from tlkit.types import ProbeOutput

from tlkit_probes._common import batches, check_positive_int, pearson
from tlkit_probes.baselines import model_activation

NAME = "theory"


def harmonic_dimension(k: int, d: int) -> int:
    """Dimension of the degree-k spherical harmonics of R^d."""
    if k == 0:
        return 1
    if k == 1:
        return d
    return math.comb(k + d - 1, k) - math.comb(k + d - 3, k - 2)


def population_feature(
    kernel: Any, X_eval: Any, X_mc: Any, f_mc: np.ndarray, block: int = 1024
) -> np.ndarray:
    """Monte Carlo ``(K f)(x) = E_x'[K(x, x') f(x')] ≈ (1/M) Σ_j K(x, x'_j) f(x'_j)``."""
    Xm = jnp.asarray(X_mc, dtype=jnp.float64)
    f = jnp.asarray(f_mc, dtype=jnp.float64)
    jitted = jax.jit(lambda A: kernel(A, Xm) @ f / Xm.shape[0])
    Xe = jnp.asarray(X_eval, dtype=jnp.float64)
    return np.concatenate([np.asarray(jitted(Xe[sl])) for sl in batches(int(Xe.shape[0]), block)])


class TheoryProbe:
    """Theory overlays for the run's activation and target."""

    def __init__(self, **p: Any) -> None:
        self.p = p

    def __call__(self, run: Any) -> Mapping[str, ProbeOutput]:
        p = self.p
        act_name = model_activation(run.model, p["activation"])
        act = get_activation(act_name)
        k_max = p["max_degree"]
        d = int(run.target.d)
        c = hermite_coefficients(lambda z: np.asarray(act(jnp.asarray(z))), k_max)
        dims = [harmonic_dimension(k, d) for k in range(k_max + 1)]
        deg = {"degree": list(range(k_max + 1))}
        out: dict[str, ProbeOutput] = {
            "hermite_coefficients": ProbeOutput(
                c, ("degree",), deg, "1", f"normalized Hermite coefficients c_k of {act_name}"
            ),
            "kernel_eigenvalues": ProbeOutput(
                c**2 / np.asarray(dims, dtype=np.float64),
                ("degree",),
                deg,
                "1",
                f"approximate kernel eigenvalues c_k^2 / N_k of {act_name} at d={d}",
            ),
        }
        energy = getattr(run.target, "degree_energy", None)
        if callable(energy):
            e = energy(k_max)
            values = np.asarray(e.energy, dtype=np.float64)
            estimate = (
                " (unbiased Monte Carlo estimate: may be slightly negative, see "
                "theory_target_energy_stderr)"
                if e.stderr is not None
                else ""
            )
            out["target_energy"] = ProbeOutput(
                values,
                ("degree",),
                deg,
                "1",
                f"E[(P_k f*)^2] of the target ({e.method}){estimate}",
            )
            if e.stderr is not None:
                out["target_energy_stderr"] = ProbeOutput(
                    np.asarray(e.stderr, dtype=np.float64),
                    ("degree",),
                    deg,
                    "1",
                    "standard error of theory_target_energy (Monte Carlo)",
                )
            frac = values / e.variance if e.variance > 0 else np.full_like(values, np.nan)
            frac[0] = np.nan  # the constant is not part of Var f*
            out["target_energy_fraction"] = ProbeOutput(
                frac, ("degree",), deg, "1", "E[(P_k f*)^2] / Var f* (k >= 1)"
            )
        # The population feature and the threshold are predictions for Algorithm 1's
        # inner activation sigma2: for a network without one (a two-layer network) they
        # would describe a three-layer network nobody trained, unless asked for by name.
        if p["activation"] == "auto" and not isinstance(
            getattr(run.model, "sigma2_name", None), str
        ):
            return out
        out.update(self._population(run, act_name))
        meta = run.target.metadata() if callable(getattr(run.target, "metadata", None)) else {}
        k_feat = meta.get("feature_degree")
        if isinstance(k_feat, int):
            c_feat = (
                c
                if k_feat <= k_max
                else hermite_coefficients(lambda z: np.asarray(act(jnp.asarray(z))), k_feat)
            )
            if abs(c_feat[k_feat]) <= 1e-8:
                # σ2's kernel has no degree-k part, so K f* carries no trace of h*: the
                # layer-wise feature cannot be learned at any n (e.g. |z| and an odd h*)
                e_thr, learnable = math.nan, 0.0
            else:
                e_thr = k_feat + (1 if k_feat >= 2 and abs(c[1]) > 1e-8 else 0)
                learnable = 1.0
            # the reason is a value, not an attribute: runs of a sweep differ in it
            out["threshold_exponent"] = ProbeOutput(
                np.float64(e_thr),
                long_name="predicted threshold exponent e, n* ~ d^e [recon] (NaN where "
                "theory_learnable is 0)",
            )
            out["threshold"] = ProbeOutput(
                np.float64(float(d) ** e_thr),
                long_name="predicted feature-learning threshold n* ~ d^e [recon]",
            )
            out["learnable"] = ProbeOutput(
                np.float64(learnable),
                long_name="1 if sigma2's Hermite coefficient at the degree of h* is nonzero "
                "(a threshold is predicted); 0 if its kernel removes h* (no threshold)",
            )
        return out

    def _population(self, run: Any, act_name: str) -> dict[str, ProbeOutput]:
        p = self.p
        X, _ = run.test_data()
        X_eval = X[: p["eval_points"]]
        key = jax.random.fold_in(jax.random.PRNGKey(p["seed"]), 0x7E0)
        X_mc, _ = run.target.sample(key, p["mc_points"], dtype=jnp.float64)
        f_mc = np.asarray(run.target.function(X_mc), dtype=np.float64)
        # SCIENCE.md §2: φ̂ → K(f* - c0); c0 is taken as E f* (estimated on the sample).
        kf = population_feature(random_feature_kernel(act_name), X_eval, X_mc, f_mc - f_mc.mean())
        h = np.asarray(run.target.feature(X_eval), dtype=np.float64)
        out = {
            "population_norm": ProbeOutput(
                np.float64(np.sqrt(np.mean(kf**2))),
                long_name="RMS of the population feature K(f* - E f*) "
                f"({p['mc_points']} Monte Carlo points)",
            )
        }
        if h.ndim == 1:
            out["population_corr"] = ProbeOutput(
                np.float64(pearson(kf, h, NAME)),
                long_name="corr(K f*, h*): the ceiling of corr(phi_hat, h*) (Monte Carlo)",
            )
        return out


def theory(
    activation: str = "auto",
    max_degree: int = 6,
    mc_points: int = 16384,
    eval_points: int = 4096,
    seed: int = 0,
) -> TheoryProbe:
    """Theory overlays: c_k, λ_k, target energy by degree, K f* and its ceiling, threshold.

    Args:
        activation: σ2's name, or ``auto`` (the network's).
        max_degree: highest degree reported.
        mc_points: Monte Carlo points for ``K f*``.
        eval_points: test points where ``K f*`` is evaluated.
        seed: seed of the Monte Carlo sample.
    """
    if activation != "auto":
        get_activation(activation, "activation")
    check_positive_int("max_degree", max_degree, 1)
    check_positive_int("mc_points", mc_points, 2)
    check_positive_int("eval_points", eval_points, 2)
    check_positive_int("seed", seed, 0)
    return TheoryProbe(
        activation=activation,
        max_degree=max_degree,
        mc_points=mc_points,
        eval_points=eval_points,
        seed=seed,
    )
