"""quadratic-feature: A's properties, sphere moments, exact variance, energies, errors."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from tlkit.errors import ParameterError
from tlkit_targets.quadratic import A_KINDS, QuadraticFeature

KINDS = [k for k in A_KINDS if k != "custom"]


def sphere_points(rng: np.random.Generator, n: int, d: int) -> np.ndarray:
    """NumPy reference sampler: uniform on the sphere of radius sqrt(d)."""
    z = rng.standard_normal((n, d))
    return z * np.sqrt(d) / np.linalg.norm(z, axis=1, keepdims=True)


def build(kind: str, d: int = 8, **kw):  # type: ignore[no-untyped-def]
    return QuadraticFeature(d=d, a_kind=kind, rank=4 if kind == "low-rank" else None, **kw)


@pytest.mark.parametrize("kind", KINDS)
def test_matrix_is_symmetric_tracefree_unit(kind: str) -> None:
    t = build(kind)
    A = t.A
    np.testing.assert_allclose(A, A.T, atol=1e-14)
    assert np.trace(A) == pytest.approx(0.0, abs=1e-12)
    assert np.linalg.norm(A) == pytest.approx(1.0, abs=1e-12)
    assert t.metadata()["a_operator_norm"] == pytest.approx(np.linalg.norm(A, 2), abs=1e-12)


def test_balanced_diagonal_operator_norm() -> None:
    assert build("balanced-diagonal", d=16).metadata()["a_operator_norm"] == pytest.approx(0.25)


def test_low_rank_has_rank() -> None:
    assert np.linalg.matrix_rank(build("low-rank", d=10).A, tol=1e-10) == 4


@pytest.mark.parametrize("kind", KINDS)
def test_sphere_moments_of_feature(kind: str) -> None:
    # On S^{d-1}(sqrt d): E[x^T A x] = 0 and E[(x^T A x)^2] = 2d/(d+2).
    d, n = 8, 200_000
    t = build(kind, d=d)
    X, _ = t.sample(jax.random.PRNGKey(3), n, dtype=jnp.float64)
    np.testing.assert_allclose(np.linalg.norm(np.asarray(X), axis=1), math.sqrt(d), rtol=1e-12)
    q = np.asarray(t.feature(X))
    se = q.std() / math.sqrt(n)
    assert abs(q.mean()) < 6 * se
    se2 = (q**2).std() / math.sqrt(n)
    assert abs((q**2).mean() - 2 * d / (d + 2)) < 6 * se2


@pytest.mark.parametrize(
    ("link", "coefficients"), [("hermite", None), ("polynomial", [0.3, 1.0, -0.5, 0.2])]
)
def test_exact_variance_matches_numpy_monte_carlo(
    rng: np.random.Generator, link: str, coefficients: list[float] | None
) -> None:
    d, n = 10, 400_000
    t = QuadraticFeature(d=d, a_kind="gaussian", link=link, link_coefficients=coefficients)
    X = sphere_points(rng, n, d)
    u = np.einsum("ni,ij,nj->n", X, t.A, X) / math.sqrt(2 * d / (d + 2))
    f = np.asarray(t.link(jnp.asarray(u)))
    c = f - f.mean()
    se = math.sqrt(np.mean(c**4) - np.mean(c**2) ** 2) / math.sqrt(n)
    exact = t.degree_energy(2, batch_size=64, n_batches=2).variance
    assert abs(np.var(f) - exact) < 6 * se


def test_linear_link_energy_is_all_degree_two() -> None:
    # u = x^T A x / s is a degree-2 spherical harmonic with unit variance.
    t = QuadraticFeature(d=8, link="hermite", link_coefficients=[0.0, 1.0])
    e = t.degree_energy(4, batch_size=256, n_batches=16)
    assert e.variance == pytest.approx(1.0, abs=1e-12)
    assert e.stderr is not None
    assert np.all(np.abs(e.energy - [0, 0, 1, 0, 0]) <= 6 * e.stderr + 1e-3)


def test_degree_energy_is_even_and_sums_to_variance() -> None:
    t = QuadraticFeature(d=8)
    e = t.degree_energy(6, batch_size=256, n_batches=16)
    assert e.stderr is not None
    assert np.all(np.abs(e.energy[1::2]) <= 6 * e.stderr[1::2] + 1e-3)
    total_se = math.sqrt(np.sum(e.stderr[1:] ** 2))
    assert abs(e.energy[1:].sum() - e.variance) <= 6 * total_se


def test_rebuild_from_params_is_exact() -> None:
    t = build("rotated-diagonal", seed=5)
    np.testing.assert_array_equal(QuadraticFeature(**t.params).A, t.A)
    assert not np.array_equal(build("rotated-diagonal", seed=6).A, t.A)


def test_custom_matrix_accepted() -> None:
    A = np.diag([1.0, -1.0, 1.0, -1.0]) / 2
    t = QuadraticFeature(d=4, a_kind="custom", a_matrix=A.tolist())
    np.testing.assert_allclose(t.A, A)


@pytest.mark.parametrize(
    ("kwargs", "pattern"),
    [
        ({"d": 7}, r"d must be even for a_kind='balanced-diagonal'.*got 7"),
        ({"d": 8, "a_kind": "low-rank", "rank": 8}, r"rank must satisfy 2 <= rank < d=8; got 8"),
        ({"d": 8, "a_kind": "low-rank"}, r"rank must be set"),
        ({"d": 8, "a_kind": "diagonal"}, r"a_kind must be one of 'balanced-diagonal'"),
        ({"d": 8, "link": "sigmoid"}, r"link must be one of 'hermite', 'relu', 'tanh'"),
        ({"d": 8, "noise_std": -0.1}, r"noise_std must be a finite number >= 0; got -0.1"),
        (
            {"d": 2, "a_kind": "custom", "a_matrix": [[1.0, 0.0], [0.0, 0.0]]},
            r"a_matrix must have trace 0 \(tr A = 0\); got tr A = 1",
        ),
        (
            {"d": 2, "a_kind": "custom", "a_matrix": [[1.0, 0.0], [0.0, -1.0]]},
            r"a_matrix must have unit Frobenius norm \(\|\|A\|\|_F = 1\); got 1.41421",
        ),
        (
            {"d": 2, "a_kind": "custom", "a_matrix": [[0.0, 1.0], [0.0, 0.0]]},
            r"a_matrix must be symmetric",
        ),
        ({"d": 2, "a_matrix": [[0.0]]}, r"a_kind must be 'custom'"),
    ],
)
def test_bad_parameters(kwargs: dict, pattern: str) -> None:
    with pytest.raises(ParameterError, match=pattern):
        QuadraticFeature(**kwargs)
