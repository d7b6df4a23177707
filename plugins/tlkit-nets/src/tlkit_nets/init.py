"""Random initial values shared by the architectures ([recon] choices, all options)."""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp

WEIGHT_INITS = ("gaussian", "sphere")
BIAS_INITS = ("uniform", "gaussian", "zero")


def input_weights(key: jax.Array, m: int, d: int, kind: str, dtype: jnp.dtype) -> jax.Array:
    """Rows ``v_i`` with ``E[(v_i . x)^2] = 1`` for ``|x|^2 = d`` (unit-scale pre-activations).

    Args:
        key: PRNG key.
        m: number of rows.
        d: input dimension.
        kind: ``"gaussian"``: rows ~ N(0, I_d / d); ``"sphere"``: rows uniform on the
            unit sphere S^{d-1}.
        dtype: array dtype.
    """
    g = jax.random.normal(key, (m, d), dtype=dtype)
    if kind == "gaussian":
        return g / jnp.sqrt(jnp.asarray(d, dtype=dtype))
    return g / jnp.linalg.norm(g, axis=1, keepdims=True)


def biases(key: jax.Array, m: int, kind: str, scale: float, dtype: jnp.dtype) -> jax.Array:
    """Biases: uniform on [-scale, scale], N(0, scale^2), or zero."""
    if kind == "uniform":
        return jax.random.uniform(key, (m,), dtype=dtype, minval=-scale, maxval=scale)
    if kind == "gaussian":
        return scale * jax.random.normal(key, (m,), dtype=dtype)
    return jnp.zeros((m,), dtype=dtype)


def signs(key: jax.Array, m: int, dtype: jnp.dtype) -> jax.Array:
    """Rademacher signs a_i in {-1, +1}."""
    return jax.random.rademacher(key, (m,), dtype=dtype)


def elementwise_derivative(
    fn: Callable[[jax.Array], jax.Array],
) -> Callable[[jax.Array], jax.Array]:
    """The derivative of an elementwise activation, by autodiff, for any input shape."""
    scalar_grad = jax.grad(lambda z: fn(z))

    def derivative(z: jax.Array) -> jax.Array:
        flat = z.reshape(-1)
        return jax.vmap(scalar_grad)(flat).reshape(z.shape)

    return derivative
