"""CKA estimators against independent NumPy references and known properties."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from tlkit_probes.cka_math import (
    LinearCKAStream,
    cka_gram,
    hsic_gram,
    linear_gram,
    permutation_null_cka,
    rbf_gram,
)


def reference_biased_cka(X: np.ndarray, Y: np.ndarray) -> float:
    """tr(KHLH) / sqrt(tr(KHKH) tr(LHLH)) with an explicit centring matrix."""
    n = X.shape[0]
    H = np.eye(n) - np.ones((n, n)) / n
    K, L = X @ X.T, Y @ Y.T
    return np.trace(K @ H @ L @ H) / np.sqrt(np.trace(K @ H @ K @ H) * np.trace(L @ H @ L @ H))


def brute_force_unbiased_hsic(K: np.ndarray, L: np.ndarray) -> float:
    """The U-statistic over all ordered 4-tuples of distinct indices (Song et al. 2012)."""
    n = K.shape[0]
    total = 0.0
    count = 0
    for i, j, q, r in itertools.permutations(range(n), 4):
        total += K[i, j] * L[i, j] + K[i, j] * L[q, r] - 2 * K[i, j] * L[i, q]
        count += 1
    return total / count


def stream_of(X: np.ndarray, Y: np.ndarray, batch: int) -> LinearCKAStream:
    s = LinearCKAStream(["x"], ["y"])
    for start in range(0, X.shape[0], batch):
        s.add({"x": X[start : start + batch], "y": Y[start : start + batch]})
    return s


def test_unbiased_hsic_matches_brute_force_u_statistic() -> None:
    rng = np.random.default_rng(0)
    X, Y = rng.standard_normal((8, 3)), rng.standard_normal((8, 2))
    K, L = X @ X.T, np.exp(-linear_gram(Y) / 3)
    np.testing.assert_allclose(hsic_gram(K, L, True), brute_force_unbiased_hsic(K, L), rtol=1e-10)


def test_biased_cka_matches_explicit_centring() -> None:
    rng = np.random.default_rng(1)
    X = rng.standard_normal((40, 5)) + 3.0
    Y = X @ rng.standard_normal((5, 7)) + rng.standard_normal((40, 7))
    np.testing.assert_allclose(
        cka_gram(linear_gram(X), linear_gram(Y)), reference_biased_cka(X, Y), rtol=1e-12
    )


@pytest.mark.parametrize("debiased", [False, True])
@pytest.mark.parametrize("batch", [7, 64, 500])
def test_streamed_feature_space_equals_gram_space_float64(debiased, batch) -> None:
    rng = np.random.default_rng(2)
    X = rng.standard_normal((300, 12)) * 2 + 5.0  # large mean: tests the shift
    Y = np.tanh(X @ rng.standard_normal((12, 9))) + rng.standard_normal((300, 9))
    streamed = stream_of(X, Y, batch).cka(debiased)[0, 0]
    gram = cka_gram(linear_gram(X), linear_gram(Y), debiased)
    assert abs(streamed - gram) < 1e-10


@pytest.mark.parametrize("debiased", [False, True])
def test_linear_cka_invariant_to_orthogonal_maps_and_isotropic_scaling(debiased) -> None:
    rng = np.random.default_rng(3)
    X = rng.standard_normal((200, 10))
    Y = X[:, :6] ** 2 + rng.standard_normal((200, 6))
    Q = np.linalg.qr(rng.standard_normal((10, 10)))[0]
    base = stream_of(X, Y, 50).cka(debiased)[0, 0]
    moved = stream_of(3.7 * X @ Q, 0.2 * Y, 50).cka(debiased)[0, 0]
    assert abs(base - moved) < 1e-10


def test_rbf_cka_invariant_to_orthogonal_maps_and_isotropic_scaling() -> None:
    rng = np.random.default_rng(4)
    X = rng.standard_normal((100, 5))
    Y = np.sin(X @ rng.standard_normal((5, 4)))
    Q = np.linalg.qr(rng.standard_normal((5, 5)))[0]
    for debiased in (False, True):
        a = cka_gram(rbf_gram(X), rbf_gram(Y), debiased)
        b = cka_gram(rbf_gram(5.0 * X @ Q), rbf_gram(0.1 * Y), debiased)
        assert abs(a - b) < 1e-10


def test_rbf_gram_median_heuristic_matches_numpy() -> None:
    rng = np.random.default_rng(5)
    Z = rng.standard_normal((30, 4))
    D = ((Z[:, None, :] - Z[None, :, :]) ** 2).sum(-1)
    sigma2 = np.median(D[~np.eye(30, dtype=bool)])
    np.testing.assert_allclose(rbf_gram(Z), np.exp(-D / (2 * sigma2)), rtol=1e-10, atol=1e-12)


def test_debiased_cka_of_independent_features_is_near_zero_biased_is_not() -> None:
    # Biased linear CKA of independent isotropic Gaussians (n points, p = q features)
    # concentrates near p / (n + p); the debiased estimator is unbiased for 0.
    n, p, reps = 100, 25, 30
    rng = np.random.default_rng(6)
    biased, debiased = [], []
    for _ in range(reps):
        X, Y = rng.standard_normal((n, p)), rng.standard_normal((n, p))
        s = stream_of(X, Y, 100)
        biased.append(s.cka(False)[0, 0])
        debiased.append(s.cka(True)[0, 0])
    expected_bias = p / (n + p)
    assert abs(np.mean(biased) - expected_bias) < 0.2 * expected_bias
    se = np.std(debiased, ddof=1) / np.sqrt(reps)
    assert abs(np.mean(debiased)) < 4 * se
    assert np.mean(biased) > 10 * abs(np.mean(debiased))


def test_permutation_null_matches_direct_recomputation() -> None:
    rng = np.random.default_rng(7)
    X = rng.standard_normal((40, 3))
    Y = X @ rng.standard_normal((3, 2)) + 0.5 * rng.standard_normal((40, 2))
    K, L = linear_gram(X), linear_gram(Y)
    perms = np.stack([rng.permutation(40) for _ in range(5)])
    for debiased in (False, True):
        obs, null = permutation_null_cka(K, L, perms, debiased)
        assert abs(obs - cka_gram(K, L, debiased)) < 1e-12
        direct = [cka_gram(K, L[p][:, p], debiased) for p in perms]
        np.testing.assert_allclose(null, direct, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("gram", [linear_gram, rbf_gram])
@pytest.mark.parametrize("debiased", [False, True])
def test_permutation_null_mean_matches_its_closed_form(gram, debiased: bool) -> None:
    """Monte Carlo over permutations vs the exact permutation mean.

    For doubly centred ``Kc``, ``Lc`` (zero row sums) the mean of ``tr(Kc Lc[π, π])``
    over all permutations is ``tr(Kc) tr(Lc) / (n - 1)``: diagonal pairs contribute
    ``tr(Kc) tr(Lc) / n`` and off-diagonal pairs ``(-tr Kc)(-tr Lc) / (n (n - 1))``.
    The unbiased HSIC has permutation mean exactly 0.
    """
    rng = np.random.default_rng(11)
    n = 30
    X = rng.standard_normal((n, 4))
    Y = np.tanh(X @ rng.standard_normal((4, 3))) + 0.3 * rng.standard_normal((n, 3))
    K, L = gram(X), gram(Y)
    perms = np.stack([rng.permutation(n) for _ in range(20_000)])
    _, null = permutation_null_cka(K, L, perms, debiased)
    if debiased:
        expected = 0.0
    else:
        H = np.eye(n) - 1.0 / n
        Kc, Lc = H @ K @ H, H @ L @ H
        scale = np.sqrt(np.sum(Kc * Kc) * np.sum(Lc * Lc))
        expected = np.trace(Kc) * np.trace(Lc) / (n - 1) / scale
    standard_error = np.std(null) / np.sqrt(len(null))
    # 4 standard errors is about 0.001 here: a mean off by the factor n / (n - 1) fails
    assert abs(np.mean(null) - expected) < 4 * standard_error


def test_zero_self_hsic_gives_nan() -> None:
    X = np.ones((20, 3))
    Y = np.random.default_rng(8).standard_normal((20, 2))
    assert np.isnan(stream_of(X, Y, 5).cka(False)[0, 0])
    assert np.isnan(cka_gram(linear_gram(X), linear_gram(Y), True))
