"""The ``feature-energy`` probe and its degree kernels against closed forms."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from numpy.polynomial import hermite_e, legendre
from probe_fakes import FakeNet, FakeTarget, make_run
from tlkit.errors import ParameterError, ProbeNotApplicable
from tlkit.testing import check_probe
from tlkit_probes.feature_energy import (
    feature_energy,
    gaussian_degree_kernels,
    sphere_degree_kernels,
)


def test_gaussian_degree_two_kernel_in_two_dimensions() -> None:
    rng = np.random.default_rng(0)
    X, Y = rng.standard_normal((5, 2)), rng.standard_normal((4, 2))
    h2 = lambda z: (z**2 - 1) / np.sqrt(2)  # noqa: E731
    # Sum over multi-indices of total degree 2: (2,0), (1,1), (0,2).
    expected = (
        h2(X[:, :1]) * h2(Y[:, 0])
        + (X[:, :1] * X[:, 1:]) * (Y[:, 0] * Y[:, 1])
        + h2(X[:, 1:]) * h2(Y[:, 1])
    )
    K = gaussian_degree_kernels(X, Y, 3)
    np.testing.assert_allclose(K[2], expected, rtol=1e-12)
    np.testing.assert_allclose(K[1], X @ Y.T, rtol=1e-12)
    np.testing.assert_allclose(K[0], 1.0)


def h(k: int, x: np.ndarray) -> np.ndarray:
    """Normalized probabilists' Hermite polynomial He_k(x) / sqrt(k!)."""
    return hermite_e.hermeval(x, np.eye(k + 1)[k]) / math.sqrt(math.factorial(k))


def test_gaussian_kernels_in_one_dimension_are_hermite_products_up_to_degree_six() -> None:
    rng = np.random.default_rng(2)
    x, y = rng.standard_normal(7), rng.standard_normal(5)
    K = gaussian_degree_kernels(x[:, None], y[:, None], 6)
    assert K.shape == (7, 7, 5)
    for k in range(7):
        np.testing.assert_allclose(K[k], np.outer(h(k, x), h(k, y)), rtol=1e-10, atol=1e-12)


def test_gaussian_kernels_in_two_dimensions_are_multi_index_sums_up_to_degree_four() -> None:
    rng = np.random.default_rng(3)
    X, Y = rng.standard_normal((6, 2)), rng.standard_normal((4, 2))
    K = gaussian_degree_kernels(X, Y, 4)
    for k in range(5):
        # the basis h_a(x1) h_b(x2), a + b = k, is orthonormal under N(0, I_2)
        expected = sum(
            np.outer(h(a, X[:, 0]) * h(k - a, X[:, 1]), h(a, Y[:, 0]) * h(k - a, Y[:, 1]))
            for a in range(k + 1)
        )
        np.testing.assert_allclose(K[k], expected, rtol=1e-10, atol=1e-12)


def test_sphere_kernels_in_three_dimensions_are_legendre_up_to_degree_four() -> None:
    rng = np.random.default_rng(4)
    X = rng.standard_normal((6, 3))
    X = np.sqrt(3) * X / np.linalg.norm(X, axis=1, keepdims=True)
    t = np.clip(X @ X.T / 3, -1, 1)
    K = sphere_degree_kernels(X, X, 4)
    for k in range(5):
        np.testing.assert_allclose(
            K[k], (2 * k + 1) * legendre.legval(t, np.eye(k + 1)[k]), atol=1e-12
        )


def test_sphere_kernels_on_the_circle_are_two_cosines() -> None:
    # d = 2: the degree-k harmonics are cos(k a), sin(k a): K_k = 2 cos(k (a - b)), K_0 = 1
    a, b = np.linspace(0, 2 * np.pi, 7), np.linspace(0.3, 5.0, 5)
    X = np.sqrt(2) * np.stack([np.cos(a), np.sin(a)], axis=1)
    Y = np.sqrt(2) * np.stack([np.cos(b), np.sin(b)], axis=1)
    K = sphere_degree_kernels(X, Y, 5)
    np.testing.assert_allclose(K[0], 1.0)
    for k in range(1, 6):
        np.testing.assert_allclose(K[k], 2 * np.cos(k * (a[:, None] - b[None, :])), atol=1e-10)


def test_sphere_kernels_in_three_dimensions_are_legendre() -> None:
    rng = np.random.default_rng(1)
    X = rng.standard_normal((6, 3))
    X = np.sqrt(3) * X / np.linalg.norm(X, axis=1, keepdims=True)
    t = np.clip(X @ X.T / 3, -1, 1)
    K = sphere_degree_kernels(X, X, 2)
    np.testing.assert_allclose(K[1], 3 * t, atol=1e-12)
    np.testing.assert_allclose(K[2], 5 * (3 * t**2 - 1) / 2, atol=1e-12)


def test_affine_feature_energy_under_gaussian_inputs() -> None:
    target = FakeTarget(d=5)
    net = FakeNet(5, target.beta, feature_noise=0.5)
    run = make_run(target, net, n_test=8192, dtype="float64")
    out = check_probe(feature_energy(max_degree=3, batch=512), run)
    e, se = out["energy"].values, out["stderr"].values
    # phi = 2 beta.x + 1 + 0.5 u.x: E_0 = 1, E_1 = |2 beta + 0.5 u|^2, E_k = 0 for k >= 2.
    expected = [1.0, float(np.sum((2 * target.beta + 0.5 * net.noise_dir) ** 2)), 0.0, 0.0]
    assert np.all(np.abs(e - expected) < 5 * se + 1e-9)
    assert out["energy"].dims == ("degree",)


class HermiteThreeNet(FakeNet):
    def learned_feature(self, X):
        # sum_i h_3(x_i) / sqrt(d): a sum of d orthonormal degree-3 Hermite functions
        return jnp.sum(X**3 - 3 * X, axis=1) / np.sqrt(6 * X.shape[1])


def test_cubic_hermite_feature_has_unit_energy_at_degree_three() -> None:
    # E_3 = 1 and E_k = 0 for k != 3. (A single h_3(beta.x) has E[h_3^4] = 93, so its
    # estimate spreads too much to test; the sum over coordinates is closer to Gaussian.)
    d = 8
    target = FakeTarget(d=d)
    run = make_run(target, HermiteThreeNet(d, target.beta), n_test=8192, dtype="float64")
    out = feature_energy(max_degree=4, batch=512)(run)
    e, se = out["energy"].values, out["stderr"].values
    expected = np.array([0.0, 0.0, 0.0, 1.0, 0.0])
    assert se[3] < 0.15  # the check below is sharp enough to tell E_3 = 1 from 0.5
    assert np.all(np.abs(e - expected) < 5 * se + 1e-9), (e, se)


class SphereTarget(FakeTarget):
    def sample(self, key, n, dtype=jnp.float32):
        X = jax.random.normal(key, (n, self.d), dtype=dtype)
        X = jnp.sqrt(self.d) * X / jnp.linalg.norm(X, axis=1, keepdims=True)
        return X, self.function(X)

    def metadata(self):
        return {"input_distribution": "sphere", "d": self.d}


class QuadFeatureNet(FakeNet):
    def learned_feature(self, X):
        d = X.shape[1]
        A = jnp.diag(jnp.asarray([1.0] * (d // 2) + [-1.0] * (d // 2), dtype=X.dtype))
        return jnp.einsum("ni,ij,nj->n", X, A / jnp.sqrt(d), X)


def test_quadratic_form_energy_on_the_sphere() -> None:
    d = 6
    target = SphereTarget(d=d)
    run = make_run(target, QuadFeatureNet(d, target.beta), n_test=8192, dtype="float64")
    out = feature_energy(max_degree=3, batch=512)(run)
    e, se = out["energy"].values, out["stderr"].values
    # x^T A x with tr A = 0, |A|_F = 1 on S^{d-1}(sqrt d): pure degree 2, energy 2d/(d+2).
    expected = np.array([0.0, 0.0, 2 * d / (d + 2), 0.0])
    assert np.all(np.abs(e - expected) < 5 * se + 1e-9)
    assert abs(out["fraction"].values[2] - 1) < 0.1


def test_not_applicable_and_bad_parameters() -> None:
    class Odd(FakeTarget):
        def metadata(self):
            return {"input_distribution": "two-spheres"}

    target = Odd(d=4)
    with pytest.raises(ProbeNotApplicable, match="two-spheres"):
        feature_energy(batch=64)(make_run(target, FakeNet(4, target.beta), n_test=256))
    target = FakeTarget(d=4)
    with pytest.raises(ProbeNotApplicable, match="returned None"):
        feature_energy(batch=64)(make_run(target, FakeNet(4, None), n_test=256))
    with pytest.raises(ParameterError, match="batch"):
        feature_energy(batch=1)
