"""Ridge regression along a whole path of ridge parameters from one factorization.

Convention (used everywhere in tlkit): the ridge estimator minimizes
``(1/n) Σ (f(x_i) - y_i)² + λ ||w||²``. For features Φ (n × p) this is
``w = (ΦᵀΦ/n + λ I)⁻¹ Φᵀy/n``; for a kernel K (n × n) the coefficients are
``α = (K + n λ I)⁻¹ y`` and predictions ``K(x, X) α``.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

Array = jax.Array


class FeatureRidgePath(NamedTuple):
    """Eigendecomposition of ``ΦᵀΦ/n`` and ``Φᵀy/n``, reusable for every λ."""

    eigenvalues: Array  # (p,)
    eigenvectors: Array  # (p, p)
    projected_target: Array  # (p,) = Vᵀ Φᵀy / n


def feature_ridge_path(Phi: Array, y: Array) -> FeatureRidgePath:
    """Factor a feature ridge problem once.

    Args:
        Phi: features, ``(n, p)``.
        y: targets, ``(n,)``.
    """
    n = Phi.shape[0]
    cov = Phi.T @ Phi / n
    evals, evecs = jnp.linalg.eigh(cov)
    return FeatureRidgePath(evals, evecs, evecs.T @ (Phi.T @ y / n))


def feature_ridge_solve(path: FeatureRidgePath, lam: Array | float) -> Array:
    """Weights for one or many ridge parameters.

    Args:
        path: from :func:`feature_ridge_path`.
        lam: scalar, or ``(L,)`` array of ridge parameters.

    Returns:
        ``(p,)`` or ``(L, p)`` weights.
    """
    lam = jnp.asarray(lam, dtype=path.eigenvalues.dtype)
    scaled = path.projected_target / (path.eigenvalues + lam[..., None])
    return scaled @ path.eigenvectors.T


class KernelRidgePath(NamedTuple):
    """Eigendecomposition of a Gram matrix, reusable for every λ."""

    eigenvalues: np.ndarray  # (n,)
    eigenvectors: np.ndarray  # (n, n)
    projected_target: np.ndarray  # (n,) = Uᵀ y


def kernel_ridge_path(K: np.ndarray, y: np.ndarray) -> KernelRidgePath:
    """Factor a kernel ridge problem once (float64 NumPy; ``K`` may be large)."""
    K = np.asarray(K, dtype=np.float64)
    evals, evecs = np.linalg.eigh(K)
    return KernelRidgePath(evals, evecs, evecs.T @ np.asarray(y, dtype=np.float64))


def kernel_ridge_coefficients(path: KernelRidgePath, lam: float) -> np.ndarray:
    """``α = (K + n λ I)⁻¹ y`` from the factorization."""
    n = path.eigenvalues.shape[0]
    return path.eigenvectors @ (path.projected_target / (path.eigenvalues + n * lam))
