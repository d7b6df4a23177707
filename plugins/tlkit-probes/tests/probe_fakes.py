"""Tiny fake targets, networks and runs for probe tests (no other plugin needed), and
NumPy reference formulas shared by several test modules.

Named uniquely (not conftest) so that test modules can import it when several
plugins' tests run in one session.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from tlkit.config import RunConfig
from tlkit.run import Run
from tlkit.types import FitReport


class FakeTarget:
    """f*(x) = h*(x) + 0.5 h*(x)^2 with h*(x) = beta·x (or r features), Gaussian x."""

    def __init__(self, d: int = 6, r: int = 1, noise: float = 0.0, seed: int = 0) -> None:
        self.d = d
        self.r = r
        self.noise = noise
        self.params = {"d": d, "r": r, "seed": seed}
        rng = np.random.default_rng(seed)
        B = np.linalg.qr(rng.standard_normal((d, d)))[0][:, :r]
        self.B = B
        self.beta = B[:, 0]

    def sample(self, key: jax.Array, n: int, dtype: Any = jnp.float32) -> tuple[Any, Any]:
        kx, ky = jax.random.split(key)
        X = jax.random.normal(kx, (n, self.d), dtype=dtype)
        y = self.function(X) + self.noise * jax.random.normal(ky, (n,), dtype=dtype)
        return X, y

    def feature(self, X: Any) -> Any:
        h = X @ jnp.asarray(self.B, dtype=X.dtype)
        return h[:, 0] if self.r == 1 else h

    def link(self, z: Any) -> Any:
        return z + 0.5 * z**2

    def function(self, X: Any) -> Any:
        h = X @ jnp.asarray(self.B, dtype=X.dtype)
        return self.link(h).sum(axis=1)

    def metadata(self) -> dict[str, Any]:
        return {"input_distribution": "gaussian", "d": self.d}


class FakeNet:
    """A random two-hidden-layer ReLU net; ``learned_feature`` is a noisy copy of h*."""

    def __init__(
        self,
        d: int,
        beta: np.ndarray | None,
        width: int = 16,
        feature_noise: float = 0.5,
        seed: int = 1,
        output: str = "random",
    ) -> None:
        rng = np.random.default_rng(seed)
        self.V = rng.standard_normal((d, width)) / np.sqrt(d)
        self.W = rng.standard_normal((width, width)) / np.sqrt(width)
        self.a = rng.standard_normal(width) / np.sqrt(width)
        self.beta = beta
        self.noise_dir = rng.standard_normal(d) / np.sqrt(d)
        self.feature_noise = feature_noise
        self.output = output

    def representations(self, X: Any) -> dict[str, Any]:
        h1 = jax.nn.relu(X @ jnp.asarray(self.V, dtype=X.dtype))
        h2 = jax.nn.relu(h1 @ jnp.asarray(self.W, dtype=X.dtype))
        return {"h1": h1, "h2": h2}

    def __call__(self, X: Any) -> Any:
        if self.output == "zero":
            return jnp.zeros(X.shape[0], dtype=X.dtype)
        if self.output == "nan":
            return jnp.full(X.shape[0], jnp.nan, dtype=X.dtype)
        return self.representations(X)["h2"] @ jnp.asarray(self.a, dtype=X.dtype)

    def learned_feature(self, X: Any) -> Any:
        if self.beta is None:
            return None
        beta = jnp.asarray(self.beta, dtype=X.dtype)
        noise = jnp.asarray(self.noise_dir, dtype=X.dtype)
        return 2.0 * (X @ beta) + 1.0 + self.feature_noise * (X @ noise)


def make_run(target: Any, model: Any, n_test: int = 512, dtype: str = "float32") -> Run:
    """A Run around fake components (the registry is never consulted)."""
    config = RunConfig(
        target="fake", arch="fake", n_train=256, n_val=128, n_test=n_test, seed=3, dtype=dtype
    )
    return Run(config=config, target=target, model=model, fit=FitReport())


def relu_nngp_numpy(X: np.ndarray, Y: np.ndarray) -> np.ndarray:
    """Degree-1 arc-cosine kernel E[relu(v.x) relu(v.y)], v ~ N(0, I/d), written out."""
    d = X.shape[1]
    nx, ny = np.linalg.norm(X, axis=1), np.linalg.norm(Y, axis=1)
    cos = np.clip(X @ Y.T / np.outer(nx, ny), -1, 1)
    theta = np.arccos(cos)
    return np.outer(nx, ny) / d * (np.sin(theta) + (np.pi - theta) * cos) / (2 * np.pi)
