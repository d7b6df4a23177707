"""The k-sparse parity: f*(x) = prod_{i in S} x_i, x uniform on {-1, +1}^d, |S| = k.

The feature is the vector of the k relevant coordinates, h*(x) = x_S (shape (n, k)),
and the link multiplies them. Each x_i has mean 0 and variance 1, so no
standardization is needed, and f* has Var f* = 1 exactly. In the Fourier-Walsh basis
of the hypercube (the orthonormal polynomial basis of this input distribution) f*
is a single degree-k character, so all of its energy sits in degree k.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from tlkit.errors import ParameterError
from tlkit.types import DegreeEnergy


class SparseParity:
    """f*(x) = prod_{i in S} x_i with x uniform on {-1, +1}^d.

    Args:
        d: input dimension (>= 1).
        k: parity order |S| (1 <= k <= d).
        noise_std: standard deviation of Gaussian label noise (>= 0).
        seed: seed of the hidden set S (the host passes it).
    """

    def __init__(self, d: int = 16, k: int = 3, noise_std: float = 0.0, seed: int = 0) -> None:
        if not isinstance(d, int) or d < 1:
            raise ParameterError(f"d must be an integer >= 1; got {d!r}")
        if not isinstance(k, int) or not 1 <= k <= d:
            raise ParameterError(f"k must be an integer with 1 <= k <= d={d}; got {k!r}")
        if not noise_std >= 0:
            raise ParameterError(f"noise_std must be a number >= 0; got {noise_std!r}")
        self.d, self.k, self.noise_std = d, k, float(noise_std)
        # Everything needed to rebuild the target exactly (the run manifest stores it).
        self.params: dict[str, Any] = {"d": d, "k": k, "noise_std": self.noise_std, "seed": seed}
        perm = np.asarray(jax.random.permutation(jax.random.PRNGKey(seed), d))
        self.support = np.sort(perm[:k])

    def sample(
        self, key: jax.Array, n: int, dtype: Any = jnp.float32
    ) -> tuple[jax.Array, jax.Array]:
        """``n`` points of {-1, +1}^d and their labels, in ``dtype``."""
        kx, kn = jax.random.split(key)
        X = jax.random.rademacher(kx, (n, self.d), dtype=dtype)
        y = self.function(X)
        if self.noise_std > 0:
            y = y + jnp.asarray(self.noise_std, dtype) * jax.random.normal(kn, (n,), dtype)
        return X, y

    def feature(self, X: jax.Array) -> jax.Array:
        """h*(x) = x_S, the k relevant coordinates, shape ``(n, k)``."""
        return X[:, self.support]

    def link(self, z: jax.Array) -> jax.Array:
        """g*(z) = prod_j z_j over the last axis."""
        return jnp.prod(z, axis=-1)

    def function(self, X: jax.Array) -> jax.Array:
        """f*(X) = g*(h*(X)), shape ``(n,)``."""
        return self.link(self.feature(X))

    def metadata(self) -> dict[str, Any]:
        """Ground truth for probes and for check_target."""
        return {
            "input_distribution": "hypercube",
            "d": self.d,
            "feature_degree": 1,
            "link_degree": self.k,
            "feature_dim": self.k,
            "support": self.support.tolist(),
            "noise_std": self.noise_std,
            "normalization": {"feature_center": 0.0, "feature_scale": 1.0},
            "normalized": True,
        }

    def degree_energy(self, max_degree: int = 6) -> DegreeEnergy:
        """Exact: f* is one Walsh character of degree k, with unit energy."""
        energy = np.zeros(max_degree + 1)
        if self.k <= max_degree:
            energy[self.k] = 1.0
        return DegreeEnergy(energy=energy, stderr=None, method="exact", variance=1.0)
