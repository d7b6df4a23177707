"""Stage 2 of the trainers: fit the output weights a on fixed features, over a λ grid.

Convention (tlkit.numerics.ridge): minimize ``(1/n)||Φa - y||² + λ||a||²``. One
eigendecomposition of ``ΦᵀΦ/n`` serves the whole λ grid. ``ridge_units="relative"``
multiplies each λ by the mean eigenvalue ``tr(ΦᵀΦ/n)/p``, so the grid does not depend
on the feature scale (e.g. the 1/m1 output factor) [recon].

The GD-with-weight-decay option runs gradient descent on
``J(a) = ½[(1/n)||Φa - y||² + λ||a||²]`` from the initial a with step
``lr / (μ_max + λ)``; because J is quadratic, the t-th iterate is computed exactly in
the eigenbasis, ``a_t = a* + Q (1 - lr (μ + λ)/(μ_max + λ))^t Qᵀ (a_0 - a*)``, and it
converges to the ridge solution a*.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
from tlkit.numerics.ridge import feature_ridge_path, feature_ridge_solve

Array = jax.Array


class Stage2Spec(NamedTuple):
    """Static description of stage 2 (hashable, for jit)."""

    ridges: tuple[float, ...]
    ridge_units: str  # "relative" | "absolute"
    method: str  # "ridge" | "gd"
    gd_steps: int
    gd_lr: float


def absolute_ridges(evals: Array, spec: Stage2Spec) -> Array:
    """The λ values actually used, ``(L,)``."""
    lam = jnp.asarray(spec.ridges, dtype=evals.dtype)
    if spec.ridge_units == "relative":
        return lam * jnp.maximum(jnp.mean(evals), jnp.finfo(evals.dtype).tiny)
    return lam


def fit_output_weights(Phi: Array, y: Array, a0: Array, spec: Stage2Spec) -> tuple[Array, Array]:
    """Output weights for every λ of the grid.

    Args:
        Phi: features ``(n, p)`` (the network output is ``Phi @ a``).
        y: labels ``(n,)``.
        a0: initial output weights (used by GD), ``(p,)``.
        spec: the stage-2 choices.

    Returns:
        ``(A, lambdas)``: weights ``(L, p)`` and absolute ridge values ``(L,)``.
    """
    path = feature_ridge_path(Phi, y)
    lam = absolute_ridges(path.eigenvalues, spec)
    A = feature_ridge_solve(path, lam)  # (L, p)
    if spec.method == "gd":
        evals = jnp.maximum(path.eigenvalues, 0)
        Q = path.eigenvectors
        lr = spec.gd_lr / (jnp.max(evals) + lam)  # (L,)
        contraction = 1 - lr[:, None] * (evals[None, :] + lam[:, None])  # (L, p)
        start = (a0[None, :] - A) @ Q  # coordinates in the eigenbasis
        A = A + (contraction**spec.gd_steps * start) @ Q.T
    return A, lam


def validation_mse(Phi_val: Array, y_val: Array, A: Array) -> Array:
    """Mean squared error of each row of ``A`` on the validation set: ``(L,)``."""
    pred = Phi_val @ A.T
    return jnp.mean((pred - y_val[:, None]) ** 2, axis=0)
