"""Tiny inline components for core tests (no first-party plugin needed).

A linear-teacher target, a linear nnx network, a least-squares trainer with two
stages and an MSE probe: enough to drive every stage of the pipeline.
"""

from __future__ import annotations

from typing import Literal

import jax
import jax.numpy as jnp
import numpy as np
import tlkit
from flax import nnx
from tlkit.errors import ParameterError, ProbeNotApplicable
from tlkit.types import DegreeEnergy, FitReport, ProbeOutput, StageReport


class LinearTarget:
    """y = beta . x with x ~ N(0, I_d), beta a random unit vector."""

    def __init__(self, *, d: int = 4, seed: int = 0, noise_std: float = 0.0) -> None:
        if d < 1:
            raise ParameterError(f"d must be >= 1, got {d}")
        self.d = d
        self.params = {"d": d, "seed": seed, "noise_std": noise_std}
        beta = np.random.default_rng(seed).standard_normal(d)
        self.beta = beta / np.linalg.norm(beta)

    def sample(self, key, n, dtype=jnp.float32):
        kx, kn = jax.random.split(key)
        X = jax.random.normal(kx, (n, self.d), dtype=dtype)
        y = self.function(X) + self.params["noise_std"] * jax.random.normal(kn, (n,), dtype)
        return X, y

    def function(self, X):
        return self.link(self.feature(X))

    def feature(self, X):
        return X @ jnp.asarray(self.beta, X.dtype)

    def link(self, z):
        return z

    def metadata(self):
        return {"input_distribution": "gaussian", "d": self.d, "feature_degree": 1}

    def degree_energy(self, max_degree=6):
        energy = np.zeros(max_degree + 1)
        energy[1] = 1.0
        return DegreeEnergy(energy, None, "exact", 1.0)


class LinearNet(nnx.Module):
    """f(x) = w . x + c, with a fixed random projection kept as a Variable."""

    def __init__(self, *, d: int, seed: int, dtype: str, scale: float = 1.0) -> None:
        if scale <= 0:
            raise ParameterError(f"scale must be > 0, got {scale}")
        key = jax.random.PRNGKey(seed)
        self.w = nnx.Param(jnp.zeros((d,), dtype))
        self.c = nnx.Param(jnp.zeros((), dtype))
        self.fixed = nnx.Variable(scale * jax.random.normal(key, (d,), dtype))
        # zero-size state (e.g. an unused support set) must survive a save/load
        self.empty = nnx.Variable(jnp.zeros((0, d), dtype))

    def __call__(self, X):
        return X @ self.w[...] + self.c[...]

    def representations(self, X):
        return {"input": X, "h1": (X @ self.w[...])[:, None]}


class LeastSquares:
    """Stage 'fit' solves least squares; stage 'check' records the train MSE."""

    stages = ("fit", "check")

    def __init__(self, ridge: float = 0.0, blow_up: bool = False, min_n: int = 0) -> None:
        self.ridge = ridge
        self.blow_up = blow_up
        self.min_n = min_n

    def check_sample_size(self, n_train):
        if n_train < self.min_n:
            raise ParameterError(f"needs n_train >= min_n = {self.min_n}, got {n_train}")

    def fit(self, model, data, on_stage):
        X = np.asarray(data.X, np.float64)
        y = np.asarray(data.y, np.float64)
        w = np.linalg.solve(X.T @ X + self.ridge * np.eye(X.shape[1]), X.T @ y)
        if self.blow_up:
            w = w * np.nan
        model.w[...] = jnp.asarray(w, model.w[...].dtype)
        on_stage(StageReport("fit", info={"ridge": self.ridge}))
        mse = float(jnp.mean((model(data.X) - data.y) ** 2))
        curve = ProbeOutput(np.array([mse, mse]), ("step",), {"step": [0, 1]}, "1", "train mse")
        on_stage(StageReport("check", info={"train_mse": mse}, curves={"train_mse": curve}))
        if not np.isfinite(mse):
            return FitReport("failed", "training loss is NaN", [], {"solver": "lstsq"})
        return FitReport("ok", None, [], {"solver": "lstsq"})


def make_mse_probe(kind: Literal["plain", "normalized"] = "normalized"):
    """Test MSE (optionally normalized by the variance of f*)."""

    def probe(run):
        X, _ = run.test_data()
        f_star = run.target.function(X)
        err = jnp.mean((run.model(X) - f_star) ** 2)
        if kind == "normalized":
            err = err / jnp.var(f_star)
        return {"mse": ProbeOutput(float(err), (), {}, "1", f"{kind} test MSE")}

    return probe


def make_never_probe():
    """A probe that never applies."""

    def probe(run):
        raise ProbeNotApplicable("fake networks have no learned feature")

    return probe


class FakePlugin:
    """Registers the fake components (an inline plugin object)."""

    @tlkit.hookimpl
    def tlkit_register_targets(self, register):
        register("linear", LinearTarget, description="linear teacher")

    @tlkit.hookimpl
    def tlkit_register_architectures(self, register):
        register("linear-net", LinearNet, description="linear net", trainers=["lstsq"])

    @tlkit.hookimpl
    def tlkit_register_trainers(self, register):
        register("lstsq", LeastSquares, architectures=["linear-net"])

    @tlkit.hookimpl
    def tlkit_register_probes(self, register):
        register("mse", make_mse_probe, default=True)
        register("never", make_never_probe)


def fake_config(**overrides):
    base = {
        "target": {"name": "linear", "params": {"d": 4}},
        "arch": "linear-net",
        "n_train": 64,
        "n_val": 32,
        "n_test": 128,
        "seed": 3,
    }
    base.update(overrides)
    return base


class NormProbePlugin:
    """A second probe, ``norm`` (the norm of the fake net's weights), for tests that
    need a run's results to hold more than one probe. Add it with
    ``host.add_plugin(NormProbePlugin(), name="norm")``."""

    @tlkit.hookimpl
    def tlkit_register_probes(self, register):
        def make_norm():
            def probe(run):
                w = np.asarray(run.model.w[...], np.float64)
                return {"l2": ProbeOutput(float(np.linalg.norm(w)))}

            return probe

        register("norm", make_norm)
