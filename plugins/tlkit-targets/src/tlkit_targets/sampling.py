"""Input distributions: standard Gaussian, the sphere of radius sqrt(d), two spheres.

All samplers are traceable by ``jax.jit`` with ``n`` and ``dtype`` static.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

#: Names reported in ``metadata()["input_distribution"]``.
GAUSSIAN = "gaussian"
SPHERE = "sphere"
TWO_SPHERES = "two-spheres"


def gaussian(key: jax.Array, n: int, d: int, dtype: Any) -> jax.Array:
    """``n`` points from N(0, I_d)."""
    return jax.random.normal(key, (n, d), dtype=dtype)


def sphere(key: jax.Array, n: int, d: int, dtype: Any) -> jax.Array:
    """``n`` points uniform on the sphere of radius sqrt(d) in R^d."""
    z = jax.random.normal(key, (n, d), dtype=dtype)
    return z * (jnp.sqrt(jnp.asarray(d, dtype=dtype)) / jnp.linalg.norm(z, axis=1, keepdims=True))


def two_spheres(key: jax.Array, n: int, d: int, dtype: Any) -> jax.Array:
    """``x = (x1, x2)`` with x1, x2 independent and uniform on spheres of radius sqrt(d/2)."""
    k1, k2 = jax.random.split(key)
    m = d // 2
    return jnp.concatenate([sphere(k1, n, m, dtype), sphere(k2, n, m, dtype)], axis=1)


def draw(distribution: str, key: jax.Array, n: int, d: int, dtype: Any) -> jax.Array:
    """Dispatch on the distribution name."""
    samplers = {GAUSSIAN: gaussian, SPHERE: sphere, TWO_SPHERES: two_spheres}
    return samplers[distribution](key, n, d, dtype)
