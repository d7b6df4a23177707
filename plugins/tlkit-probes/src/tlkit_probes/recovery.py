"""Feature-recovery probes that compare the network with the target's subspace.

* ``weight-overlap``: first-layer weights of a two-layer network vs the target's
  subspace (β for single index, the range of A for quadratic features).
* ``agop``: the average gradient outer product ``G = E[∇f(x) ∇f(x)ᵀ]`` of the trained
  network vs the target's reference matrix.

The target's ground truth is read from its attributes: ``beta`` ``(d,)`` (single index),
``A`` ``(d, d)`` (quadratic feature) or ``As`` ``(r, d, d)`` (several quadratic features).
The reference matrix ``P`` is ``ββᵀ``, ``A²`` or ``Σ_i A_i²``: for ``f = g(h(x))`` the AGOP
is ``E[g'(h)² ∇h ∇hᵀ]``, which is ``∝ ββᵀ`` for ``h = β·x`` and ``≈ ∝ A²`` for
``h = xᵀAx`` (``∇h = 2Ax``). The subspace ``U`` spans the eigenvectors of ``P`` with
non-negligible eigenvalues.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx
from tlkit.errors import ProbeNotApplicable
from tlkit.types import ProbeOutput

from tlkit_probes._common import batches, check_positive_int, model_batch_rows, safe_ratio


def target_reference(target: Any) -> tuple[np.ndarray, np.ndarray, str]:
    """The target's reference matrix ``P`` (d × d), subspace basis ``U`` (d × k) and kind.

    Raises:
        ProbeNotApplicable: when the target exposes none of ``beta``, ``A``, ``As``.
    """
    if getattr(target, "beta", None) is not None:
        b = np.asarray(target.beta, dtype=np.float64).ravel()
        b = b / np.linalg.norm(b)
        return np.outer(b, b), b[:, None], "beta"
    if getattr(target, "A", None) is not None:
        A = np.asarray(target.A, dtype=np.float64)
        P, kind = A @ A, "A"
    elif getattr(target, "As", None) is not None:
        As = np.asarray(target.As, dtype=np.float64)
        P, kind = np.einsum("rij,rjk->ik", As, As), "As"
    else:
        raise ProbeNotApplicable(
            f"target {type(target).__name__} exposes no subspace (beta, A or As attribute)"
        )
    evals, evecs = np.linalg.eigh(P)
    top = max(float(evals.max()), np.finfo(np.float64).tiny)
    keep = evals > 1e-10 * top
    if keep.all() and float(evals.min()) > (1 - 1e-8) * top:
        # e.g. the default balanced-diagonal A: A^2 = I/d. The target's gradients then
        # have no preferred direction, and any weights score like random ones.
        ref = {"A": "A^2", "As": "sum_i A_i^2"}[kind]
        raise ProbeNotApplicable(
            f"the target's reference matrix {ref} is proportional to the identity, so no "
            "subspace overlap can tell learned weights from random ones (use an anisotropic "
            "A, e.g. a_kind='low-rank'; feature and ridge-probe measure xᵀAx itself)"
        )
    return P, evecs[:, keep], kind


def frobenius_cosine(M: np.ndarray, P: np.ndarray, probe: str) -> float:
    """``<M, P>_F / (|M|_F |P|_F)``, NaN with a warning when a norm is zero."""
    return safe_ratio(
        float(np.sum(M * P)),
        float(np.linalg.norm(M) * np.linalg.norm(P)),
        probe,
        "the product of Frobenius norms",
    )


def agop(fn: Callable[[Any], Any], X: Any, rows: int) -> np.ndarray:
    """Average gradient outer product ``(1/n) Σ_i ∇f(x_i) ∇f(x_i)ᵀ`` in float64.

    ``fn`` must treat rows independently (true of every tlkit network), so the gradient
    of ``Σ_i f(x_i)`` with respect to ``X`` holds each row's own gradient.

    Args:
        fn: ``(b, d) -> (b,)``.
        X: ``(n, d)`` points.
        rows: rows per batch.
    """
    grad = jax.grad(lambda Xb: jnp.sum(fn(Xb)))
    d = int(X.shape[1])
    G = np.zeros((d, d))
    for sl in batches(int(X.shape[0]), rows):
        g = np.asarray(grad(X[sl]), dtype=np.float64)
        G += g.T @ g
    return G / int(X.shape[0])


def _subspace_outputs(
    M: np.ndarray, P: np.ndarray, U: np.ndarray, kind: str, probe: str, what: str
) -> dict[str, ProbeOutput]:
    d, k = U.shape
    ref = {"beta": "beta beta^T", "A": "A^2", "As": "sum_i A_i^2"}[kind]
    return {
        "alignment": ProbeOutput(
            np.float64(frobenius_cosine(M, P, probe)),
            long_name=f"Frobenius cosine between {what} and the target's reference matrix {ref}",
        ),
        "subspace": ProbeOutput(
            np.float64(safe_ratio(np.trace(U.T @ M @ U), np.trace(M), probe, f"trace of {what}")),
            long_name=f"fraction of {what}'s trace in the target subspace (k={k} of d={d})",
        ),
        "chance": ProbeOutput(
            np.float64(k / d), long_name="the subspace fraction of an isotropic matrix, k/d"
        ),
    }


def first_layer_weights(model: Any, X_probe: Any) -> np.ndarray:
    """The ``(width, d)`` input weights of a two-layer network.

    Uses ``model.first_layer_weights()`` when the network provides it; otherwise a
    ``W`` attribute of shape ``(width, d)`` on a network with exactly one hidden layer
    (so a three-layer network's middle weights are never mistaken for input weights).

    Raises:
        ProbeNotApplicable: for anything else.
    """
    fn = getattr(model, "first_layer_weights", None)
    if callable(fn):
        return np.asarray(fn(), dtype=np.float64)
    W = getattr(model, "W", None)
    reps = getattr(model, "representations", None)
    d = int(X_probe.shape[1])
    if W is not None and callable(reps) and len(reps(X_probe)) == 1:
        # nnx.Variable: read its array with [...] (``.value`` is deprecated).
        W = np.asarray(W[...] if isinstance(W, nnx.Variable) else W, dtype=np.float64)
        if W.ndim == 2 and W.shape[1] == d:
            return W
    raise ProbeNotApplicable(
        f"{type(model).__name__} is not a two-layer network with input weights (it has no "
        "first_layer_weights() and no (width, d) W under a single hidden layer)"
    )


class WeightOverlapProbe:
    """Overlap of a two-layer network's first-layer weights with the target subspace."""

    name = "weight-overlap"

    def __call__(self, run: Any) -> Mapping[str, ProbeOutput]:
        W = first_layer_weights(run.model, run.test_data()[0][:2])
        d = int(run.target.d)
        if W.ndim != 2 or W.shape[1] != d:
            raise ProbeNotApplicable(
                f"first_layer_weights() has shape {W.shape}, expected (width, d={d})"
            )
        P, U, kind = target_reference(run.target)
        return _subspace_outputs(W.T @ W, P, U, kind, self.name, "W^T W")


class AGOPProbe:
    """AGOP of the trained network against the target's reference matrix."""

    name = "agop"

    def __init__(self, points: int, budget_mb: int) -> None:
        self.points = points
        self.budget = budget_mb * 2**20

    def __call__(self, run: Any) -> Mapping[str, ProbeOutput]:
        P, U, kind = target_reference(run.target)
        X, _ = run.test_data()
        X = X[: self.points]
        # Backward passes keep every activation: halve the forward batch.
        rows = max(1, model_batch_rows(run.model, X, self.budget) // 2)
        G = agop(run.model, X, rows)
        return _subspace_outputs(G, P, U, kind, self.name, "the AGOP")


def weight_overlap() -> WeightOverlapProbe:
    """Overlap of a two-layer network's first-layer weights with β or the range of A."""
    return WeightOverlapProbe()


def agop_probe(points: int = 4096, budget_mb: int = 64) -> AGOPProbe:
    """Average gradient outer product of the network vs the target's subspace.

    Args:
        points: test points (the first ones) averaged over.
        budget_mb: activation memory per batch, in MiB.
    """
    check_positive_int("points", points)
    check_positive_int("budget_mb", budget_mb)
    return AGOPProbe(points, budget_mb)
