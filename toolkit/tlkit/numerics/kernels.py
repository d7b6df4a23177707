"""Infinite-width random-feature kernels, in closed form.

For an activation σ and a random first layer ``v ~ N(0, I_d / d)``, the
random-feature (NNGP) kernel is ``K(x, y) = E_v[σ(v·x) σ(v·y)]`` and the
derivative kernel is ``K'(x, y) = E_v[σ'(v·x) σ'(v·y)]``. Write ``s = |x|/sqrt(d)``,
``t = |y|/sqrt(d)`` and ``ρ = x·y / (|x||y|)``; then ``(v·x/s, v·y/t)`` is a
standard bivariate normal pair with correlation ρ.

Closed forms exist for ``relu`` (arc-cosine kernels of degree 1 and 0), ``abs``
(|z| - sqrt(2/pi)), ``identity`` and ``cube``. Any other activation uses the
Hermite series ``Σ_k c_k(s) c_k(t) ρ^k`` with per-point coefficients
``c_k(s) = E[σ(s z) h_k(z)]`` from a fine trapezoid quadrature.

The Gram matrices are built in blocks by the caller when n is large; these
functions compute one ``(n, m)`` block.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np

from tlkit.numerics.activations import get_activation

Array = jax.Array


def _norms_and_cosine(X: Array, Y: Array) -> tuple[Array, Array, Array]:
    d = X.shape[-1]
    nx = jnp.sqrt(jnp.sum(X * X, axis=-1))
    ny = jnp.sqrt(jnp.sum(Y * Y, axis=-1))
    safe_x = jnp.where(nx > 0, nx, 1)
    safe_y = jnp.where(ny > 0, ny, 1)
    rho = (X @ Y.T) / (safe_x[:, None] * safe_y[None, :])
    rho = jnp.clip(rho, -1.0, 1.0)
    return nx / math.sqrt(d), ny / math.sqrt(d), rho


# Cephes' asinf: asin y = y + y^3 P(y^2) for |y| <= 1/2 (relative error ~2.5e-7), and
# the half-angle identities acos a = 2 asin(sqrt((1 - a)/2)), asin a = pi/2 - acos a
# beyond 1/2, so neither function cancels near 0 or near 1.
_ASIN_COEFFS = (4.2163199048e-2, 2.4181311049e-2, 4.5470025998e-2, 7.4953002686e-2, 1.6666752422e-1)


def _asin_acos_abs(a: Array) -> tuple[Array, Array]:
    """(asin a, acos a) for ``a`` in [0, 1], float32, one square root and one polynomial."""
    big = a > 0.5
    y = jnp.where(big, jnp.sqrt(jnp.maximum(0.5 * (1 - a), 0)), a)
    z = y * y
    p = jnp.full_like(z, _ASIN_COEFFS[0])
    for c in _ASIN_COEFFS[1:]:
        p = p * z + c
    asin_y = y + y * z * p
    acos_a = jnp.where(big, 2 * asin_y, math.pi / 2 - asin_y)
    asin_a = jnp.where(big, math.pi / 2 - 2 * asin_y, asin_y)
    return asin_a, acos_a


def arccos(x: Array) -> Array:
    """arccos on [-1, 1]; in float32 a polynomial (Cephes), to float32 rounding.

    XLA's float32 arccos/arcsin on CPU cost ~20 times a kernel entry's dot product and
    made the infinite-width kernels 10x slower; this needs one sqrt and a degree-4
    polynomial, with errors of a few float32 rounding steps (tested against NumPy).
    Other dtypes (float64) use ``jnp.arccos``.
    """
    if x.dtype != jnp.float32:
        return jnp.arccos(x)
    _, acos_abs = _asin_acos_abs(jnp.abs(x))
    return jnp.where(x < 0, math.pi - acos_abs, acos_abs)


def arcsin(x: Array) -> Array:
    """arcsin on [-1, 1]; fast in float32 like :func:`arccos`, ``jnp.arcsin`` otherwise."""
    if x.dtype != jnp.float32:
        return jnp.arcsin(x)
    asin_abs, _ = _asin_acos_abs(jnp.abs(x))
    return jnp.copysign(asin_abs, x)


def _relu_nngp(s: Array, t: Array, rho: Array) -> Array:
    theta = arccos(rho)
    st = s[:, None] * t[None, :]
    return st * (jnp.sqrt(1 - rho**2) + (math.pi - theta) * rho) / (2 * math.pi)


def _relu_derivative(s: Array, t: Array, rho: Array) -> Array:
    return (math.pi - arccos(rho)) / (2 * math.pi) + 0 * s[:, None] * t[None, :]


def _abs_nngp(s: Array, t: Array, rho: Array) -> Array:
    # E|su||tu'| = (2/pi) s t (sqrt(1-ρ²) + ρ asin ρ);  E|su| = s sqrt(2/pi)
    c2 = 2.0 / math.pi
    st = s[:, None] * t[None, :]
    e_abs_abs = c2 * st * (jnp.sqrt(1 - rho**2) + rho * arcsin(rho))
    return e_abs_abs - c2 * (s[:, None] + t[None, :]) + c2


def _abs_derivative(s: Array, t: Array, rho: Array) -> Array:
    return (2.0 / math.pi) * arcsin(rho) + 0 * s[:, None] * t[None, :]


def _identity_nngp(s: Array, t: Array, rho: Array) -> Array:
    return s[:, None] * t[None, :] * rho


def _identity_derivative(s: Array, t: Array, rho: Array) -> Array:
    return jnp.ones_like(rho)


def _cube_nngp(s: Array, t: Array, rho: Array) -> Array:
    # E[u^3 u'^3] = 9ρ + 6ρ^3 for a standard pair with correlation ρ.
    st3 = (s[:, None] * t[None, :]) ** 3
    return st3 * (9 * rho + 6 * rho**3)


def _cube_derivative(s: Array, t: Array, rho: Array) -> Array:
    # E[9 s² u² t² u'²] = 9 s² t² (1 + 2ρ²)
    st2 = (s[:, None] * t[None, :]) ** 2
    return 9 * st2 * (1 + 2 * rho**2)


_CLOSED_FORMS: dict[str, tuple[Callable[..., Array], Callable[..., Array]]] = {
    "relu": (_relu_nngp, _relu_derivative),
    "abs": (_abs_nngp, _abs_derivative),
    "identity": (_identity_nngp, _identity_derivative),
    "cube": (_cube_nngp, _cube_derivative),
}


def _quadrature(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Nodes and weights for E[g(z)], z ~ N(0, 1): trapezoid rule on [-12, 12].

    Gauss–Hermite converges slowly for activations with a kink (about 1e-2 relative
    error for ReLU with 96 nodes); a fine trapezoid grid with a node at 0 is accurate
    to ~1e-6 for kinks at 0 and smooth activations alike.
    """
    n = n + 1 - n % 2  # odd, so that z = 0 is a node
    nodes = np.linspace(-12.0, 12.0, n)
    h = nodes[1] - nodes[0]
    weights = np.full(n, h) * np.exp(-0.5 * nodes**2) / math.sqrt(2 * math.pi)
    weights[[0, -1]] *= 0.5
    return nodes, weights


def _per_point_coefficients(
    fn: Callable[[Array], Array], scale: Array, k_max: int, n_quad: int
) -> Array:
    """c_k(scale_i) = E[fn(scale_i z) h_k(z)] for every point: shape (n, k_max+1)."""
    from tlkit.numerics.hermite import hermite_normalized

    nodes, weights = _quadrature(n_quad)
    nodes_j = jnp.asarray(nodes, dtype=scale.dtype)
    weights_j = jnp.asarray(weights, dtype=scale.dtype)
    h = hermite_normalized(nodes_j, k_max)  # (q, K)
    values = fn(scale[:, None] * nodes_j[None, :])  # (n, q)
    return (values * weights_j[None, :]) @ h


def _series_kernel(
    fn: Callable[[Array], Array], k_max: int, n_quad: int
) -> Callable[[Array, Array, Array], Array]:
    def kernel(s: Array, t: Array, rho: Array) -> Array:
        cs = _per_point_coefficients(fn, s, k_max, n_quad)
        ct = _per_point_coefficients(fn, t, k_max, n_quad)
        powers = rho[..., None] ** jnp.arange(k_max + 1, dtype=rho.dtype)
        return jnp.einsum("ik,jk,ijk->ij", cs, ct, powers)

    return kernel


def _elementwise_derivative(fn: Callable[[Array], Array]) -> Callable[[Array], Array]:
    """σ' by autodiff for arrays of any shape.

    ``fn`` is bound here once; an earlier version re-bound the name inside a lambda
    and recursed forever.
    """
    scalar_grad = jax.grad(lambda z: fn(z))

    def derivative(z: Array) -> Array:
        return jax.vmap(scalar_grad)(z.reshape(-1)).reshape(z.shape)

    return derivative


def random_feature_kernel(
    activation: str | Callable[[Array], Array],
    *,
    derivative: bool = False,
    k_max: int = 24,
    n_quad: int = 4001,
) -> Callable[[Array, Array], Array]:
    """The infinite-width kernel of an activation, as a function of two input blocks.

    Args:
        activation: a name from :mod:`tlkit.numerics.activations` or a callable. A
            callable (or a name without a closed form, e.g. ``tanh``) uses the
            Hermite series truncated at ``k_max``.
        derivative: return the derivative kernel ``E[σ'(v·x) σ'(v·y)]`` (for NTKs).
        k_max: truncation degree of the Hermite series.
        n_quad: quadrature nodes (trapezoid on [-12, 12]) for the per-point coefficients.

    Returns:
        ``kernel(X, Y) -> (n, m)`` for ``X`` of shape ``(n, d)`` and ``Y`` ``(m, d)``.

    Example:
        >>> import jax.numpy as jnp
        >>> k = random_feature_kernel("identity")
        >>> float(k(jnp.eye(2), jnp.eye(2))[0, 0])
        0.5
    """
    if isinstance(activation, str) and activation in _CLOSED_FORMS:
        fn_block = _CLOSED_FORMS[activation][1 if derivative else 0]
    else:
        fn = get_activation(activation) if isinstance(activation, str) else activation
        if derivative:
            fn = _elementwise_derivative(fn)
        fn_block = _series_kernel(fn, k_max, n_quad)

    def kernel(X: Array, Y: Array) -> Array:
        s, t, rho = _norms_and_cosine(X, Y)
        return fn_block(s, t, rho)

    return kernel


def blocked_gram(
    kernel: Callable[[Array, Array], Array], X: Array, Y: Array, block: int = 4096
) -> np.ndarray:
    """Assemble ``kernel(X, Y)`` block by block into a host NumPy array.

    Keeps device memory at ``block * len(Y)`` entries whatever ``len(X)`` is.
    """
    out = np.empty((X.shape[0], Y.shape[0]), dtype=np.dtype(X.dtype))
    jitted = jax.jit(kernel)
    for start in range(0, X.shape[0], block):
        out[start : start + block] = np.asarray(jitted(X[start : start + block], Y))
    return out
