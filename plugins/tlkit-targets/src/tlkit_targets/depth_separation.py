"""Classical depth-separation targets (not the paper's construction, which is unknown).

* ``radial``: x ~ N(0, I_d), h*(x) = |x|^2 standardized as (|x|^2 - d) / sqrt(2d)
  (Eldan-Shamir / Safran-Shamir style radial functions);
* ``daniely``: x = (x1, x2) with x1, x2 uniform on spheres of radius sqrt(d/2),
  h*(x) = <x1, x2> standardized by sqrt(d/2) (Daniely 2017).

The link is ReLU (Lipschitz) or sin(frequency * z) (oscillating).
"""

from __future__ import annotations

import math
from typing import Any, Literal

import jax
import jax.numpy as jnp

from tlkit_targets import sampling
from tlkit_targets._checks import check_choice, check_even, check_positive
from tlkit_targets.base import HierarchicalTarget

CONSTRUCTIONS = ("radial", "daniely")
Construction = Literal["radial", "daniely"]
G_KINDS = ("relu", "sin")
GKind = Literal["relu", "sin"]


class DepthSeparation(HierarchicalTarget):
    """g(standardized |x|^2) under N(0, I_d), or g(<x1, x2>/sqrt(d/2)) on two spheres."""

    def __init__(
        self,
        d: int = 16,
        construction: Construction = "daniely",
        g: GKind = "sin",
        frequency: float = 1.0,
        noise_std: float = 0.0,
        seed: int = 0,
    ) -> None:
        params = {
            "d": d,
            "construction": construction,
            "g": g,
            "frequency": frequency,
            "noise_std": noise_std,
            "seed": seed,
        }
        super().__init__(d, seed, noise_std, params)
        self.construction = check_choice("construction", construction, CONSTRUCTIONS)
        self.g = check_choice("g", g, G_KINDS)
        self.frequency = check_positive("frequency", frequency)
        if self.construction == "daniely":
            check_even("d", self.d, "for construction='daniely' (x = (x1, x2), two halves)")
            self.input_distribution = sampling.TWO_SPHERES
            self.feature_center = 0.0
            self.feature_scale = math.sqrt(self.d / 2)
        else:
            self.input_distribution = sampling.GAUSSIAN
            self.feature_center = float(self.d)
            self.feature_scale = math.sqrt(2.0 * self.d)

    def feature(self, X: jax.Array) -> jax.Array:
        """h*: |x|^2 (radial) or <x1, x2> (daniely), shape (n,)."""
        if self.construction == "radial":
            return jnp.sum(X**2, axis=1)
        m = self.d // 2
        return jnp.sum(X[:, :m] * X[:, m:], axis=1)

    def link(self, z: jax.Array) -> jax.Array:
        """relu(z) or sin(frequency * z)."""
        if self.g == "relu":
            return jnp.maximum(z, 0)
        return jnp.sin(jnp.asarray(self.frequency, dtype=z.dtype) * z)

    def _metadata(self) -> dict[str, Any]:
        return {
            "family": "depth-separation",
            "construction": self.construction,
            "feature_degree": 2,
            "link_degree": None,
            "feature_dim": 1,
            "g": self.g,
            "frequency": self.frequency,
            "provenance": "classical construction (Eldan-Shamir / Daniely), not the paper's",
        }
