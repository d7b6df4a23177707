"""Ridge regression along a whole path of ridge parameters from one factorization.

Convention (used everywhere in tlkit): the ridge estimator minimizes
``(1/n) Σ (f(x_i) - y_i)² + λ ||w||²``. For features Φ (n × p) this is
``w = (ΦᵀΦ/n + λ I)⁻¹ Φᵀy/n``; for a kernel K (n × n) the coefficients are
``α = (K + n λ I)⁻¹ y`` and predictions ``K(x, X) α``.

Targets may be vectors ``(n,)`` or matrices ``(n, r)`` (r outputs fitted at once).
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
    projected_target: Array  # (p,) or (p, r) = Vᵀ Φᵀy / n


def covariance_ridge_path(cov: Array, cross: Array) -> FeatureRidgePath:
    """Factor a feature ridge problem given its second moments.

    Useful when ``Φ`` is too large to hold and its moments were accumulated in
    batches (``cov = ΦᵀΦ/n``, ``cross = Φᵀy/n``; centred moments give a ridge with an
    unpenalized intercept).

    Args:
        cov: ``(p, p)`` symmetric positive semi-definite matrix.
        cross: ``(p,)`` or ``(p, r)``.
    """
    cov = jnp.asarray(cov)
    evals, evecs = jnp.linalg.eigh(cov)
    return FeatureRidgePath(evals, evecs, evecs.T @ jnp.asarray(cross, dtype=cov.dtype))


def feature_ridge_path(Phi: Array, y: Array) -> FeatureRidgePath:
    """Factor a feature ridge problem once.

    Args:
        Phi: features, ``(n, p)``.
        y: targets, ``(n,)`` or ``(n, r)``.
    """
    n = Phi.shape[0]
    return covariance_ridge_path(Phi.T @ Phi / n, Phi.T @ y / n)


def feature_ridge_solve(path: FeatureRidgePath, lam: Array | float) -> Array:
    """Weights for one or many ridge parameters.

    Args:
        path: from :func:`feature_ridge_path` or :func:`covariance_ridge_path`.
        lam: scalar, or ``(L,)`` array of ridge parameters.

    Returns:
        ``(p,)`` / ``(p, r)`` weights for a scalar ``lam``; ``(L, p)`` / ``(L, p, r)``
        for a vector of ridges.
    """
    lam = jnp.asarray(lam, dtype=path.eigenvalues.dtype)
    evals = path.eigenvalues
    target = path.projected_target
    # Shapes: denominators (L..., p) broadcast against targets (p,) or (p, r).
    denom = evals + lam[..., None]
    if target.ndim == 2:
        scaled = target / denom[..., None]  # (L..., p, r)
        return jnp.einsum("qp,...pr->...qr", path.eigenvectors, scaled)
    scaled = target / denom
    return scaled @ path.eigenvectors.T


class KernelRidgePath(NamedTuple):
    """Eigendecomposition of a Gram matrix, reusable for every λ."""

    eigenvalues: np.ndarray  # (n,)
    eigenvectors: np.ndarray  # (n, n)
    projected_target: np.ndarray  # (n,) or (n, r) = Uᵀ y


def kernel_ridge_path(K: np.ndarray, y: np.ndarray) -> KernelRidgePath:
    """Factor a kernel ridge problem once (float64 NumPy; ``K`` may be large).

    ``K`` is symmetrized (its upper triangle is what ``eigh`` reads) and not copied
    when it is already a C-contiguous float64 array.
    """
    K = np.asarray(K, dtype=np.float64)
    evals, evecs = np.linalg.eigh(K)
    return KernelRidgePath(evals, evecs, evecs.T @ np.asarray(y, dtype=np.float64))


def kernel_ridge_coefficients(path: KernelRidgePath, lam: float) -> np.ndarray:
    """``α = (K + n λ I)⁻¹ y`` from the factorization."""
    n = path.eigenvalues.shape[0]
    denom = path.eigenvalues + n * lam
    target = path.projected_target
    scaled = target / (denom[:, None] if target.ndim == 2 else denom)
    return path.eigenvectors @ scaled


def kernel_ridge_path_predictions(
    path: KernelRidgePath, K_eval: np.ndarray, lams: np.ndarray
) -> np.ndarray:
    """Predictions at new points for every ridge of a path, from one factorization.

    Args:
        path: from :func:`kernel_ridge_path` (scalar targets).
        K_eval: ``(m, n)`` kernel between the new points and the training points.
        lams: ``(L,)`` ridge parameters.

    Returns:
        ``(L, m)`` predictions ``K_eval (K + n λ I)⁻¹ y``.
    """
    n = path.eigenvalues.shape[0]
    lams = np.asarray(lams, dtype=np.float64)
    projected = np.asarray(K_eval, dtype=np.float64) @ path.eigenvectors  # (m, n)
    scaled = path.projected_target[None, :] / (path.eigenvalues[None, :] + n * lams[:, None])
    return scaled @ projected.T


def kernel_ridge_cholesky(K: np.ndarray, y: np.ndarray, lams: np.ndarray) -> np.ndarray:
    """``α_l = (K + n λ_l I)⁻¹ y`` for each ridge by one Cholesky solve per ridge.

    On CPUs a Cholesky factorization is an order of magnitude cheaper than ``eigh``
    (docs/performance.md, Probes), so for a short ridge path this beats
    :func:`kernel_ridge_path`. ``K`` is left unchanged.

    Args:
        K: ``(n, n)`` symmetric positive semi-definite Gram matrix.
        y: ``(n,)`` or ``(n, r)`` targets.
        lams: ``(L,)`` ridge parameters (``> 0`` unless ``K`` is positive definite).

    Returns:
        ``(n, L)`` coefficients for vector ``y``; ``(n, r, L)`` for matrix ``y``; NaN for
        a ridge at which ``K + nλI`` is not numerically positive definite.
    """
    import scipy.linalg

    K = np.asarray(K, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    n = K.shape[0]
    out = []
    diag = np.einsum("ii->i", K)  # a writable view of the diagonal
    original = diag.copy()
    try:
        for lam in np.asarray(lams, dtype=np.float64):
            diag += n * lam
            try:
                factor = scipy.linalg.cho_factor(K, lower=True, overwrite_a=False)
            except np.linalg.LinAlgError:
                # Not numerically positive definite at this ridge: no solution (NaN),
                # so that a ridge search skips it instead of crashing.
                out.append(np.full(y.shape, np.nan))
                continue
            finally:
                diag[:] = original
            out.append(scipy.linalg.cho_solve(factor, y))
            del factor
    finally:
        diag[:] = original
    return np.stack(out, axis=-1)
