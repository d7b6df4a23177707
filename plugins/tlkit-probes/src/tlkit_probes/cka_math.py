"""Centred kernel alignment (CKA): Gram-space estimators and a streamed linear form.

Notation: ``K`` and ``L`` are ``n × n`` Gram matrices of two representations of the same
``n`` inputs. ``H = I - 11ᵀ/n`` centres.

* Biased HSIC (Gretton et al. 2005): ``tr(KHLH)`` (the ``1/(n-1)²`` factor cancels in CKA).
* Unbiased HSIC (Song et al. 2012): with ``K̃``, ``L̃`` the Gram matrices with zeroed
  diagonals, ``[tr(K̃L̃) + 1ᵀK̃1·1ᵀL̃1/((n-1)(n-2)) - 2/(n-2)·1ᵀK̃L̃1] / (n(n-3))``.
* CKA = ``HSIC(K, L) / sqrt(HSIC(K, K) HSIC(L, L))``; "debiased" CKA uses the unbiased
  HSIC (Nguyen et al. 2021), which removes the positive bias of biased CKA at small n.

For linear kernels ``K = XXᵀ`` both HSICs are functions of ``XᵀY``, ``Σx``, ``Σy`` and a few
sums weighted by squared row norms, which :class:`LinearCKAStream` accumulates over row
batches, so memory is ``O(p q)`` whatever ``n``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np

# ---------------------------------------------------------------- Gram-space estimators


def hsic_gram(K: np.ndarray, L: np.ndarray, debiased: bool) -> float:
    """HSIC of two Gram matrices (biased: ``tr(KHLH)``; debiased: Song et al.'s U-statistic)."""
    K = np.asarray(K, dtype=np.float64)
    L = np.asarray(L, dtype=np.float64)
    n = K.shape[0]
    if not debiased:
        Kc = K - K.mean(0, keepdims=True) - K.mean(1, keepdims=True) + K.mean()
        return float(np.sum(Kc * L))
    Kt = K - np.diag(np.diag(K))
    Lt = L - np.diag(np.diag(L))
    k1, l1 = Kt.sum(1), Lt.sum(1)
    value = np.sum(Kt * Lt) + k1.sum() * l1.sum() / ((n - 1) * (n - 2)) - 2 * (k1 @ l1) / (n - 2)
    return float(value / (n * (n - 3)))


def cka_from_hsic(hxy: float, hxx: float, hyy: float) -> float:
    """``hxy / sqrt(hxx hyy)``; NaN when the product is not positive (caller warns)."""
    den = hxx * hyy
    if not math.isfinite(den) or den <= 0:
        return math.nan
    return hxy / math.sqrt(den)


def cka_gram(K: np.ndarray, L: np.ndarray, debiased: bool = False) -> float:
    """CKA of two Gram matrices."""
    return cka_from_hsic(
        hsic_gram(K, L, debiased), hsic_gram(K, K, debiased), hsic_gram(L, L, debiased)
    )


def linear_gram(Z: np.ndarray) -> np.ndarray:
    """``Z Zᵀ`` in float64."""
    Z = np.asarray(Z, dtype=np.float64).reshape(Z.shape[0], -1)
    return Z @ Z.T


def rbf_gram(Z: np.ndarray, bandwidth: float | None = None) -> np.ndarray:
    """Gaussian Gram matrix ``exp(-|z - z'|² / (2 σ²))``.

    Args:
        Z: ``(n, p)`` rows.
        bandwidth: σ; ``None`` uses the median heuristic (σ² = median squared distance
            between distinct rows).
    """
    Zj = jnp.asarray(Z, dtype=jnp.float64).reshape(Z.shape[0], -1)
    sq = jnp.sum(Zj * Zj, axis=1)
    D = np.asarray(jnp.maximum(sq[:, None] + sq[None, :] - 2 * Zj @ Zj.T, 0.0))
    if bandwidth is None:
        off = D[~np.eye(D.shape[0], dtype=bool)]
        sigma2 = float(np.median(off))
    else:
        sigma2 = float(bandwidth) ** 2
    if sigma2 <= 0:
        # All rows identical: the kernel is constant and carries no information.
        return np.ones_like(D)
    return np.exp(-D / (2 * sigma2))


# ---------------------------------------------------------------- permutation null


def _hsic_parts(K: np.ndarray, debiased: bool) -> tuple[np.ndarray, np.ndarray, float]:
    """The matrix entering the trace and the row sums entering the correction terms."""
    if not debiased:
        Kc = K - K.mean(0, keepdims=True) - K.mean(1, keepdims=True) + K.mean()
        return Kc, np.zeros(K.shape[0]), 0.0
    Kt = K - np.diag(np.diag(K))
    k1 = Kt.sum(1)
    return Kt, k1, float(k1.sum())


@jax.jit
def _permuted_traces(A: jax.Array, B: jax.Array, perms: jax.Array) -> jax.Array:
    # tr(A · B[π, π]) for every permutation π: shape (P,)
    return jax.vmap(lambda p: jnp.sum(A * B[p][:, p]))(perms)


def permutation_null_cka(
    K: np.ndarray, L: np.ndarray, perms: np.ndarray, debiased: bool
) -> tuple[float, np.ndarray]:
    """CKA of ``(K, L)`` and its null distribution under random re-pairings of the rows.

    Args:
        K, L: ``n × n`` Gram matrices of the same inputs.
        perms: ``(P, n)`` integer permutations applied to ``L``'s rows and columns.
        debiased: use the unbiased HSIC.

    Returns:
        The observed CKA and the ``(P,)`` null CKAs (NaN where undefined).
    """
    n = K.shape[0]
    A, a1, asum = _hsic_parts(np.asarray(K, np.float64), debiased)
    B, b1, bsum = _hsic_parts(np.asarray(L, np.float64), debiased)
    hxx = hsic_gram(K, K, debiased)
    hyy = hsic_gram(L, L, debiased)
    traces = np.asarray(_permuted_traces(jnp.asarray(A), jnp.asarray(B), jnp.asarray(perms)))
    observed_trace = float(np.sum(A * B))
    if debiased:
        cross = np.asarray(b1)[np.asarray(perms)] @ a1  # 1ᵀK̃ L̃_π 1 per permutation
        const = asum * bsum / ((n - 1) * (n - 2))
        null_h = (traces + const - 2 * cross / (n - 2)) / (n * (n - 3))
        obs_h = (observed_trace + const - 2 * (a1 @ b1) / (n - 2)) / (n * (n - 3))
    else:
        null_h, obs_h = traces, observed_trace
    den = hxx * hyy
    if not math.isfinite(den) or den <= 0:
        return math.nan, np.full(len(perms), np.nan)
    return float(obs_h / math.sqrt(den)), null_h / math.sqrt(den)


# ---------------------------------------------------------------- streamed linear CKA


@jax.jit
def _pair_sums(
    zi: jax.Array, zj: jax.Array, ni: jax.Array, nj: jax.Array
) -> tuple[jax.Array, jax.Array, jax.Array, jax.Array]:
    # One batch's contribution to the sums of a pair, fused in one compiled call: the
    # cross-product in the data's dtype at full precision, everything else in float64.
    prod = jnp.matmul(zi.T, zj, precision=jax.lax.Precision.HIGHEST).astype(jnp.float64)
    return prod, ni @ zj.astype(jnp.float64), nj @ zi.astype(jnp.float64), ni @ nj


class LinearCKAStream:
    """Streamed sufficient statistics of linear HSIC between row and column feature sets.

    Add row batches with :meth:`add`; :meth:`cka` then gives biased or debiased linear
    CKA for every (row set, column set) pair. Memory: ``Σ_i Σ_j p_i p_j`` float64
    entries for the cross-products, independent of the number of rows.

    Every feature set is shifted by its first batch's mean before accumulation (both
    estimators are invariant to shifting a representation, and the shift avoids
    catastrophic cancellation in float32/float64).
    """

    def __init__(self, rows: Sequence[str], cols: Sequence[str]) -> None:
        self.rows = list(rows)
        self.cols = list(cols)
        self.sets = list(dict.fromkeys(self.rows + self.cols))
        self.n = 0
        self.ref: dict[str, jax.Array] = {}
        self.s: dict[str, jax.Array] = {}  # Σ z
        self.asum: dict[str, jax.Array] = {}  # Σ |z|²
        self.C: dict[tuple[str, str], jax.Array] = {}  # Σ z_i z_jᵀ
        self.u: dict[tuple[str, str], jax.Array] = {}  # Σ |z_i|² z_j
        self.ab: dict[tuple[str, str], jax.Array] = {}  # Σ |z_i|² |z_j|²

    def _pairs(self) -> list[tuple[str, str]]:
        pairs = [(r, c) for r in self.rows for c in self.cols]
        # self pairs are needed for the normalization of every set
        pairs += [(s, s) for s in self.sets]
        unique: dict[frozenset[str], tuple[str, str]] = {}
        for pair in pairs:  # (i, j) and (j, i) share one cross-product
            unique.setdefault(frozenset(pair), pair)
        return list(unique.values())

    def add(self, batch: dict[str, jax.Array]) -> None:
        """Add one batch: ``{name: (b, p_name)}`` for every name in rows and cols."""
        z: dict[str, jax.Array] = {}
        for name in self.sets:
            a = jnp.asarray(batch[name])
            a = a.reshape(a.shape[0], -1)
            if name not in self.ref:
                self.ref[name] = jnp.mean(a.astype(jnp.float64), axis=0).astype(a.dtype)
            z[name] = a - self.ref[name]
        norms = {k: jnp.sum(v.astype(jnp.float64) ** 2, axis=1) for k, v in z.items()}
        self.n += int(next(iter(z.values())).shape[0])
        for name, v in z.items():
            self.s[name] = self.s.get(name, 0) + jnp.sum(v.astype(jnp.float64), axis=0)
            self.asum[name] = self.asum.get(name, 0) + jnp.sum(norms[name])
        for i, j in self._pairs():
            prod, u_ij, u_ji, ab = _pair_sums(z[i], z[j], norms[i], norms[j])
            self.C[i, j] = self.C.get((i, j), 0) + prod
            self.u[i, j] = self.u.get((i, j), 0) + u_ij
            if i != j:
                self.u[j, i] = self.u.get((j, i), 0) + u_ji
            self.ab[i, j] = self.ab.get((i, j), 0) + ab

    def _C(self, i: str, j: str) -> jax.Array:
        return self.C[i, j] if (i, j) in self.C else self.C[j, i].T

    def hsic(self, i: str, j: str, debiased: bool) -> float:
        """Biased (``tr(KHLH)``) or unbiased HSIC between sets ``i`` and ``j``."""
        n = self.n
        C = self._C(i, j)
        si, sj = self.s[i], self.s[j]
        if not debiased:
            centred = C - jnp.outer(si, sj) / n
            return float(jnp.sum(centred * centred))
        ab = self.ab[i, j] if (i, j) in self.ab else self.ab[j, i]
        trace = jnp.sum(C * C) - ab  # tr(K̃L̃)
        k1 = si @ si - self.asum[i]  # 1ᵀK̃1
        l1 = sj @ sj - self.asum[j]
        # 1ᵀK̃L̃1 = s_iᵀ C s_j - (Σ|z_i|² z_j)·s_j - (Σ|z_j|² z_i)·s_i + Σ|z_i|²|z_j|²
        cross = si @ C @ sj - self.u[i, j] @ sj - self.u[j, i] @ si + ab
        value = trace + k1 * l1 / ((n - 1) * (n - 2)) - 2 * cross / (n - 2)
        return float(value / (n * (n - 3)))

    def cka(self, debiased: bool) -> np.ndarray:
        """``(len(rows), len(cols))`` CKA matrix (NaN where a self-HSIC is not positive)."""
        selfh = {s: self.hsic(s, s, debiased) for s in self.sets}
        out = np.empty((len(self.rows), len(self.cols)))
        for a, i in enumerate(self.rows):
            for b, j in enumerate(self.cols):
                out[a, b] = cka_from_hsic(self.hsic(i, j, debiased), selfh[i], selfh[j])
        return out
