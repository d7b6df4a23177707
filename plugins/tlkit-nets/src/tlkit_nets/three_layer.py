"""The three-layer network of SCIENCE.md §2 as a flax nnx Module.

    f(x) = (1/m1) Σ_i a_i σ1(<w_i, h0(x)> + b_i + o_i),   h0(x) = σ2(V x) ∈ R^{m2}

Scalings [recon]: rows of V have ``E[(v·x)^2] = 1`` for ``|x|^2 = d`` (so σ2 sees unit-scale
inputs), the output carries the mean-field factor 1/m1, a_i ∈ {±1} at init, W starts at 0
(Algorithm 1) or N(0, 1/m2) (joint training). ``o`` is a fixed per-neuron offset, zero
unless Algorithm 1's standardized-feature form centres the feature. V, b, o are fixed
(never trained); W and a are ``nnx.Param``.

With ``m2=None`` the inner width is infinite: h0 is never formed and the middle layer sees
only Algorithm 1's scalar feature φ̂(x) = (1/n1) Σ_j r_j K(x_j, x), computed through the
closed-form kernel K of σ2 (tlkit.numerics.kernels). The support points ``x_j`` and
weights ``r_j / n1`` are stored as variables, so a saved run restores exactly.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Literal

import jax
import jax.numpy as jnp
from flax import nnx
from tlkit.errors import ParameterError
from tlkit.numerics.activations import get_activation
from tlkit.numerics.kernels import random_feature_kernel

from tlkit_nets import init
from tlkit_nets._checks import choice, dtype_of, positive_float, positive_int
from tlkit_nets.features import blocks, feature_values, kernel_feature_values

# The network is evaluated eagerly by probes; a lax.map over a fresh closure would
# compile again at every call. These module-level programs take the weights as
# arguments and the activations (module-level functions, stable identity) as static
# arguments, so each input shape compiles once for every network of a family.
_feature_values = jax.jit(feature_values, static_argnames=("sigma2", "batch"))
_kernel_feature_values = jax.jit(kernel_feature_values, static_argnames=("kernel", "batch"))


@functools.partial(jax.jit, static_argnames=("sigma1", "sigma2", "m1", "batch"))
def _finite_forward(
    V: jax.Array,
    W: jax.Array,
    pre_bias: jax.Array,
    a: jax.Array,
    X: jax.Array,
    *,
    sigma1: Callable[[jax.Array], jax.Array],
    sigma2: Callable[[jax.Array], jax.Array],
    m1: int,
    batch: int,
) -> jax.Array:
    def block(x: jax.Array) -> jax.Array:
        return sigma1(sigma2(x @ V.T) @ W.T + pre_bias) @ a / m1

    return jax.lax.map(block, blocks(X, batch)).reshape(-1)[: X.shape[0]]


@functools.partial(jax.jit, static_argnames=("kernel", "sigma1", "batch"))
def _infinite_hidden(
    X: jax.Array,
    support_X: jax.Array,
    coef: jax.Array,
    slope: jax.Array,
    pre_bias: jax.Array,
    *,
    kernel: Callable[[jax.Array, jax.Array], jax.Array],
    sigma1: Callable[[jax.Array], jax.Array],
    batch: int,
) -> jax.Array:
    """h2 = σ1(φ̂(X) slope + bias) at infinite width, one program (probes call it eagerly)."""
    phi = kernel_feature_values(X, support_X, coef, kernel=kernel, batch=batch)
    return sigma1(phi[:, None] * slope + pre_bias)


@functools.partial(jax.jit, static_argnames=("kernel", "sigma1", "m1", "batch"))
def _infinite_forward(
    X: jax.Array,
    support_X: jax.Array,
    coef: jax.Array,
    slope: jax.Array,
    pre_bias: jax.Array,
    a: jax.Array,
    *,
    kernel: Callable[[jax.Array, jax.Array], jax.Array],
    sigma1: Callable[[jax.Array], jax.Array],
    m1: int,
    batch: int,
) -> jax.Array:
    h2 = _infinite_hidden(
        X, support_X, coef, slope, pre_bias, kernel=kernel, sigma1=sigma1, batch=batch
    )
    return h2 @ a / m1


@functools.cache
def _kernel_of(sigma2_name: str) -> Callable[[jax.Array, jax.Array], jax.Array]:
    # one kernel function per activation name, so jitted callers see a stable object
    return random_feature_kernel(sigma2_name)


Array = jax.Array

W_INITS = ("zero", "gaussian")


class Fixed(nnx.Variable):
    """A random or derived quantity that is saved and restored but never trained."""


class ThreeLayer(nnx.Module):
    """Three-layer network with a fixed random first layer (see module docstring).

    Attributes:
        d, m1, m2: input, middle and inner widths (``m2=None``: infinite).
        sigma1_name, sigma2_name: activation names as given.
        V: ``(m2, d)`` fixed inner weights (``(0, d)`` at infinite width).
        W: ``(m1, m2)`` trainable middle weights (``(m1, 0)`` at infinite width).
        b, offset: ``(m1,)`` fixed biases and feature-centring offsets.
        a: ``(m1,)`` trainable output weights.
        slope: ``(m1,)`` the stage-1 factor ``u·m2`` with ``W = outer(slope / m2, ĝ)``
            after Algorithm 1 (zero before), used to read the learned feature back.
        support_X, support_coef: infinite width only: ``x_j`` and ``r_j / n1``.
    """

    def __init__(
        self,
        *,
        d: int,
        seed: int,
        dtype: jnp.dtype,
        m1: int,
        m2: int | None,
        sigma1: str,
        sigma2: str,
        v_init: str,
        bias_init: str,
        bias_scale: float,
        w_init: str,
        batch_size: int,
    ) -> None:
        self.d, self.m1, self.m2 = d, m1, m2
        self.sigma1_name, self.sigma2_name = sigma1, sigma2
        self.sigma1 = get_activation(sigma1, "sigma1")
        self.sigma2 = get_activation(sigma2, "sigma2")
        self.batch_size = batch_size
        self.dtype = dtype
        k_v, k_b, k_a, k_w = jax.random.split(jax.random.PRNGKey(seed), 4)
        width = 0 if m2 is None else m2
        self.V = Fixed(
            init.input_weights(k_v, width, d, v_init, dtype)
            if m2 is not None
            else jnp.zeros((0, d), dtype=dtype)
        )
        self.b = Fixed(init.biases(k_b, m1, bias_init, bias_scale, dtype))
        self.offset = Fixed(jnp.zeros((m1,), dtype=dtype))
        self.a = nnx.Param(init.signs(k_a, m1, dtype))
        if w_init == "gaussian" and m2 is not None:
            W = jax.random.normal(k_w, (m1, width), dtype=dtype) / jnp.sqrt(
                jnp.asarray(width, dtype=dtype)
            )
        else:
            W = jnp.zeros((m1, width), dtype=dtype)
        self.W = nnx.Param(W)
        self.slope = Fixed(jnp.zeros((m1,), dtype=dtype))
        self.support_X = Fixed(jnp.zeros((0, d), dtype=dtype))
        self.support_coef = Fixed(jnp.zeros((0,), dtype=dtype))

    @property
    def infinite(self) -> bool:
        """Whether the inner width is infinite (``m2=None``)."""
        return self.m2 is None

    def kernel(self) -> Callable[[Array, Array], Array]:
        """The closed-form random-feature kernel of σ2 (used at infinite width)."""
        return _kernel_of(self.sigma2_name)

    def inner(self, X: Array) -> Array:
        """h0(X) = σ2(X Vᵀ), ``(n, m2)``; finite width only."""
        return self.sigma2(X @ self.V[...].T)

    def _support(self) -> tuple[Array, Array]:
        """D1's inputs and the kernel feature's coefficients (one empty row before fit)."""
        support = self.support_X[...]
        if support.shape[0] == 0:  # not trained yet: φ̂ = 0, from one zero-weight row
            # (a row of ones, not zeros: kernels divide by norms, and 0 * NaN is NaN)
            return jnp.ones((1, self.d), self.dtype), jnp.zeros((1,), self.dtype)
        # support_coef holds r_j / n1; kernel_feature_values divides by n1 itself.
        return support, self.support_coef[...] * support.shape[0]

    def _kernel_feature(self, X: Array) -> Array:
        support, coef = self._support()
        return _kernel_feature_values(X, support, coef, kernel=self.kernel(), batch=self.batch_size)

    def representations(self, X: Array) -> dict[str, Array]:
        """Per-layer activations: ``h1 = σ2(VX)`` (finite width only) and ``h2``."""
        pre_bias = self.b[...] + self.offset[...]
        if self.infinite:
            support, coef = self._support()
            h2 = _infinite_hidden(
                X,
                support,
                coef,
                self.slope[...],
                pre_bias,
                kernel=self.kernel(),
                sigma1=self.sigma1,
                batch=self.batch_size,
            )
            return {"h2": h2}
        h1 = self.inner(X)
        h2 = self.sigma1(h1 @ self.W[...].T + pre_bias)
        return {"h1": h1, "h2": h2}

    def __call__(self, X: Array) -> Array:
        """Predictions ``(n,)``; at finite width streamed over row blocks (no ``n x m2``)."""
        if self.infinite:
            support, coef = self._support()
            return _infinite_forward(
                X,
                support,
                coef,
                self.slope[...],
                self.b[...] + self.offset[...],
                self.a[...],
                kernel=self.kernel(),
                sigma1=self.sigma1,
                m1=self.m1,
                batch=self.batch_size,
            )
        return _finite_forward(
            self.V[...],
            self.W[...],
            self.b[...] + self.offset[...],
            self.a[...],
            X,
            sigma1=self.sigma1,
            sigma2=self.sigma2,
            m1=self.m1,
            batch=self.batch_size,
        )

    def learned_feature(self, X: Array) -> Array | None:
        """Algorithm 1's scalar feature φ̂(X), ``(n,)``, or None when W is not rank one.

        At finite width φ̂(x) = <ĝ, h0(x)>/m2 with ĝ read back from
        ``W = outer(slope/m2, ĝ)``; the same scale as the closed form in
        :mod:`tlkit_nets.features`. None before stage 1 or after joint training.
        """
        if self.infinite:
            return self._kernel_feature(X) if self.support_X[...].shape[0] else None
        slope, W = self.slope[...], self.W[...]
        s2 = jnp.sum(slope * slope)
        w_norm = jnp.linalg.norm(W)
        if float(s2) == 0.0 or float(w_norm) == 0.0:
            return None
        assert self.m2 is not None  # the infinite-width case returned above
        g_over_m2 = W.T @ slope / s2
        residual = jnp.linalg.norm(W - jnp.outer(slope, g_over_m2))
        tol = 1e-3 if W.dtype == jnp.float32 else 1e-9
        if float(residual) > tol * float(w_norm):
            return None
        return _feature_values(
            X, g_over_m2 * self.m2, self.V[...], sigma2=self.sigma2, batch=self.batch_size
        )


def three_layer(
    *,
    d: int,
    seed: int,
    dtype: str = "float32",
    m1: int = 512,
    m2: int | None = 4096,
    sigma1: str = "relu",
    sigma2: str = "abs",
    v_init: Literal["gaussian", "sphere"] = "gaussian",
    bias_init: Literal["uniform", "gaussian", "zero"] = "uniform",
    bias_scale: float = 1.0,
    w_init: Literal["zero", "gaussian"] = "zero",
    batch_size: int = 4096,
) -> ThreeLayer:
    """Build a three-layer network f(x) = (1/m1) Σ a_i σ1(<w_i, σ2(Vx)> + b_i).

    Args:
        d: input dimension (from the target).
        seed: initialization seed (V, b, a, and W when random).
        dtype: ``"float32"`` or ``"float64"``.
        m1: middle width (number of neurons of the trained layer).
        m2: inner (random-feature) width; ``None`` = infinite, via the closed-form
            kernel of ``sigma2`` [paper: m2 finite; recon: m2 = ∞ is the limit].
        sigma1: outer activation name (``relu``, ``abs``, ``tanh``, ``cube``,
            ``identity`` or ``module:function``).
        sigma2: inner activation name; ``abs`` is |z| - sqrt(2/π) (c1 = 0).
        v_init: rows of V ~ N(0, I/d) (``gaussian``) or uniform on S^{d-1}
            (``sphere``) [recon].
        bias_init: distribution of b [recon]: uniform on [-bias_scale, bias_scale],
            N(0, bias_scale²) or zero.
        bias_scale: scale of b.
        w_init: ``zero`` (Algorithm 1, W(0) = 0 [paper]) or ``gaussian`` N(0, 1/m2)
            (joint training).
        batch_size: rows per block when streaming over data.

    Raises:
        ParameterError: for an invalid value, naming the parameter.
    """
    positive_int("d", d)
    positive_int("m1", m1)
    if m2 is not None:
        positive_int("m2", m2)
    positive_int("batch_size", batch_size)
    choice("v_init", v_init, init.WEIGHT_INITS)
    choice("bias_init", bias_init, init.BIAS_INITS)
    choice("w_init", w_init, W_INITS)
    positive_float("bias_scale", bias_scale, allow_zero=True)
    if m2 is None and v_init != "gaussian":
        raise ParameterError(
            "v_init must be 'gaussian' when m2=None (the closed-form kernel assumes "
            f"Gaussian V), got {v_init!r}"
        )
    if m2 is None and w_init != "zero":
        raise ParameterError(f"w_init must be 'zero' when m2=None (no W to draw), got {w_init!r}")
    return ThreeLayer(
        d=d,
        seed=seed,
        dtype=dtype_of(dtype),
        m1=m1,
        m2=m2,
        sigma1=sigma1,
        sigma2=sigma2,
        v_init=v_init,
        bias_init=bias_init,
        bias_scale=bias_scale,
        w_init=w_init,
        batch_size=batch_size,
    )
