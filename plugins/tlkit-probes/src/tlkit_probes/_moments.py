"""Streaming first and second moments of features and targets.

Row batches are added one at a time in float64, so memory depends on the feature
width only, never on the number of rows. Every batch is shifted by a fixed
reference point (the first batch's mean) before accumulation: the shift leaves
centred moments unchanged and avoids the cancellation of ``ΦᵀΦ - n μμᵀ`` when the
features have a large mean.
"""

from __future__ import annotations

from dataclasses import dataclass

import jax.numpy as jnp
import numpy as np


@dataclass
class Moments:
    """Sums over rows of shifted features ``z = φ - ref`` and targets ``t``.

    Attributes:
        n: rows seen.
        ref: the shift of the features, ``(p,)``.
        s: ``Σ z``, ``(p,)``.
        G: ``Σ z zᵀ``, ``(p, p)``.
        c: ``Σ z tᵀ``, ``(p, r)``.
        ys: ``Σ t``, ``(r,)``.
        yy: ``Σ t²``, ``(r,)`` (per component).
    """

    n: int
    ref: np.ndarray
    s: np.ndarray
    G: np.ndarray
    c: np.ndarray
    ys: np.ndarray
    yy: np.ndarray

    @classmethod
    def empty(cls, ref: np.ndarray, r: int) -> Moments:
        p = ref.shape[0]
        z = np.zeros
        return cls(0, ref, z(p), z((p, p)), z((p, r)), z(r), z(r))

    def add(self, phi: np.ndarray, t: np.ndarray) -> None:
        """Add a batch: ``phi`` ``(b, p)``, ``t`` ``(b, r)``."""
        z = jnp.asarray(phi, dtype=jnp.float64) - jnp.asarray(self.ref, dtype=jnp.float64)
        tj = jnp.asarray(t, dtype=jnp.float64)
        self.n += int(z.shape[0])
        self.s = self.s + np.asarray(z.sum(axis=0))
        self.G = self.G + np.asarray(z.T @ z)
        self.c = self.c + np.asarray(z.T @ tj)
        self.ys = self.ys + np.asarray(tj.sum(axis=0))
        self.yy = self.yy + np.asarray((tj * tj).sum(axis=0))

    def __add__(self, other: Moments) -> Moments:
        # Both must share ``ref`` (they do: one reference per layer).
        return Moments(
            self.n + other.n,
            self.ref,
            self.s + other.s,
            self.G + other.G,
            self.c + other.c,
            self.ys + other.ys,
            self.yy + other.yy,
        )

    def centred(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Mean of z, mean of t, covariance of z and cross-covariance with t (1/n)."""
        mz = self.s / self.n
        mt = self.ys / self.n
        cov = self.G / self.n - np.outer(mz, mz)
        cross = self.c / self.n - np.outer(mz, mt)
        return mz, mt, cov, cross

    def sse(self, w: np.ndarray, b: np.ndarray) -> np.ndarray:
        """``Σ_i (z_iᵀ w + b - t_i)²`` per output, from the moments alone.

        Args:
            w: ``(..., p, r)`` weights acting on the shifted features.
            b: ``(..., r)`` intercepts.

        Returns:
            ``(..., r)`` sums of squared errors.
        """
        quad = np.einsum("...pr,pq,...qr->...r", w, self.G, w)
        lin = np.einsum("...pr,p->...r", w, self.s)
        cross = np.einsum("...pr,pr->...r", w, self.c)
        return quad + 2 * b * lin + self.n * b**2 - 2 * cross - 2 * b * self.ys + self.yy

    def sst(self) -> np.ndarray:
        """``Σ_i (t_i - mean t)²`` per output."""
        return self.yy - self.ys**2 / self.n
