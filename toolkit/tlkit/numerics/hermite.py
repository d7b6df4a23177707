"""Normalized (probabilists') Hermite polynomials and Hermite coefficients.

``h_k = He_k / sqrt(k!)`` are orthonormal under N(0, 1): ``E[h_j(z) h_k(z)] = [j == k]``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import jax.numpy as jnp
import numpy as np


def hermite_normalized(z: Any, k_max: int) -> Any:
    """All normalized Hermite polynomials ``h_0..h_k_max`` at ``z``.

    Works on NumPy and JAX arrays (the recurrence is traceable).

    Args:
        z: array of any shape.
        k_max: highest degree (>= 0).

    Returns:
        Array of shape ``z.shape + (k_max + 1,)``.
    """
    xp = jnp if not isinstance(z, np.ndarray | float | int) else np
    z = xp.asarray(z)
    out = [xp.ones_like(z)]
    if k_max >= 1:
        out.append(z)
    for k in range(1, k_max):
        # h_{k+1} = (z h_k - sqrt(k) h_{k-1}) / sqrt(k+1)
        out.append((z * out[k] - math.sqrt(k) * out[k - 1]) / math.sqrt(k + 1))
    return xp.stack(out, axis=-1)


def hermite(z: Any, k: int) -> Any:
    """The single normalized Hermite polynomial ``h_k(z)``."""
    return hermite_normalized(z, k)[..., k]


def hermite_coefficients(
    fn: Callable[[np.ndarray], np.ndarray], k_max: int, scale: float = 1.0
) -> np.ndarray:
    """Normalized Hermite coefficients ``c_k = E[fn(scale * z) h_k(z)]``, z ~ N(0, 1).

    Uses a fine trapezoid rule on [-14, 14] in float64 (kinks at 0 such as ReLU's
    are on the grid, so non-smooth activations are handled to ~1e-9).

    Args:
        fn: a function accepting a float64 NumPy array.
        k_max: highest degree.
        scale: evaluate ``fn`` at ``scale * z`` (inputs of norm != sqrt(d)).

    Returns:
        float64 array of length ``k_max + 1``.
    """
    z = np.linspace(-14.0, 14.0, 280_001)
    weight = np.exp(-0.5 * z**2) / math.sqrt(2 * math.pi)
    values = np.asarray(fn(scale * z), dtype=np.float64)
    h = hermite_normalized(z, k_max)
    integrand = (values * weight)[:, None] * h
    return np.trapezoid(integrand, z, axis=0)
