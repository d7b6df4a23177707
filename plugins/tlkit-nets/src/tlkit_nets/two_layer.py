"""The two-layer baseline f(x) = (1/m) Σ_i a_i σ(<w_i, x> + b_i) as a flax nnx Module.

Scalings [recon]: rows of W ~ N(0, I_d/d) or uniform on S^{d-1} (unit-scale
pre-activations for |x|² = d), mean-field output factor 1/m, a_i ∈ {±1}, b fixed.
"""

from __future__ import annotations

from typing import Literal

import jax
import jax.numpy as jnp
from flax import nnx
from tlkit.numerics.activations import get_activation

from tlkit_nets import init
from tlkit_nets._checks import choice, dtype_of, positive_float, positive_int
from tlkit_nets.three_layer import Fixed

Array = jax.Array


class TwoLayer(nnx.Module):
    """Two-layer network; W and a are trainable, b is fixed.

    Attributes:
        d, m: input dimension and width.
        sigma_name: the activation name.
        W: ``(m, d)``; b: ``(m,)`` fixed; a: ``(m,)``.
    """

    def __init__(
        self,
        *,
        d: int,
        seed: int,
        dtype: jnp.dtype,
        m: int,
        sigma: str,
        w_init: str,
        bias_init: str,
        bias_scale: float,
    ) -> None:
        self.d, self.m, self.sigma_name, self.dtype = d, m, sigma, dtype
        self.sigma = get_activation(sigma, "sigma")
        k_w, k_b, k_a = jax.random.split(jax.random.PRNGKey(seed), 3)
        self.W = nnx.Param(init.input_weights(k_w, m, d, w_init, dtype))
        self.b = Fixed(init.biases(k_b, m, bias_init, bias_scale, dtype))
        self.a = nnx.Param(init.signs(k_a, m, dtype))

    def representations(self, X: Array) -> dict[str, Array]:
        """The hidden layer ``h1 = σ(X Wᵀ + b)``, ``(n, m)``."""
        return {"h1": self.sigma(X @ self.W[...].T + self.b[...])}

    def __call__(self, X: Array) -> Array:
        """Predictions ``(n,)``."""
        return self.representations(X)["h1"] @ self.a[...] / self.m

    def learned_feature(self, X: Array) -> Array | None:
        """A two-layer network has no scalar learned feature: always None."""
        return None


def two_layer(
    *,
    d: int,
    seed: int,
    dtype: str = "float32",
    m: int = 1024,
    sigma: str = "relu",
    w_init: Literal["gaussian", "sphere"] = "gaussian",
    bias_init: Literal["uniform", "gaussian", "zero"] = "uniform",
    bias_scale: float = 1.0,
) -> TwoLayer:
    """Build a two-layer network f(x) = (1/m) Σ a_i σ(<w_i, x> + b_i).

    Args:
        d: input dimension (from the target).
        seed: initialization seed.
        dtype: ``"float32"`` or ``"float64"``.
        m: width.
        sigma: activation name (``relu``, ``abs``, ``tanh``, ``cube``, ``identity``,
            ``module:function``).
        w_init: rows of W ~ N(0, I/d) (``gaussian``) or uniform on S^{d-1} [recon].
        bias_init, bias_scale: distribution of the fixed biases [recon].

    Raises:
        ParameterError: for an invalid value, naming the parameter.
    """
    positive_int("d", d)
    positive_int("m", m)
    choice("w_init", w_init, init.WEIGHT_INITS)
    choice("bias_init", bias_init, init.BIAS_INITS)
    positive_float("bias_scale", bias_scale, allow_zero=True)
    return TwoLayer(
        d=d,
        seed=seed,
        dtype=dtype_of(dtype),
        m=m,
        sigma=sigma,
        w_init=w_init,
        bias_init=bias_init,
        bias_scale=bias_scale,
    )
