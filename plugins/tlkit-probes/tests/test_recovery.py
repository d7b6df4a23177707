"""weight-overlap and agop probes against analytic values."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pytest
from probe_fakes import FakeNet, FakeTarget, make_run
from tlkit.errors import ParameterError, ProbeNotApplicable
from tlkit.testing import check_probe
from tlkit_probes.recovery import agop, agop_probe, target_reference, weight_overlap


class QuadraticNet:
    """f(x) = (beta.x)^2 + 0.5 x^T A x: a known function with a known AGOP."""

    def __init__(self, beta, A):
        self.beta, self.A = beta, A

    def __call__(self, X):
        b = jnp.asarray(self.beta, dtype=X.dtype)
        A = jnp.asarray(self.A, dtype=X.dtype)
        return (X @ b) ** 2 + 0.5 * jnp.einsum("ni,ij,nj->n", X, A, X)


def test_agop_of_a_known_function_matches_its_analytic_value() -> None:
    rng = np.random.default_rng(0)
    d = 5
    beta = rng.standard_normal(d)
    A = rng.standard_normal((d, d))
    A = (A + A.T) / 2
    X = rng.standard_normal((300, d))
    G = agop(QuadraticNet(beta, A), jnp.asarray(X, dtype=jnp.float64), 64)
    # grad f = 2 (beta.x) beta + A x  ->  G = mean over the sample of g g^T, written out.
    g = 2 * (X @ beta)[:, None] * beta[None, :] + X @ A
    np.testing.assert_allclose(G, g.T @ g / 300, rtol=1e-10)


def test_agop_on_a_gaussian_sample_matches_the_population_value() -> None:
    # For x ~ N(0, I): E[g g^T] = 4|b|^2 bb^T + 2(Ab b^T + b b^T A) + A^2, g = grad f.
    rng = np.random.default_rng(7)
    d, n = 5, 100_000
    beta = rng.standard_normal(d)
    A = rng.standard_normal((d, d))
    A = (A + A.T) / 2
    pop = (
        4 * beta @ beta * np.outer(beta, beta)
        + 2 * (np.outer(A @ beta, beta) + np.outer(beta, A @ beta))
        + A @ A
    )
    Xmc = rng.standard_normal((n, d))
    G = agop(QuadraticNet(beta, A), jnp.asarray(Xmc, dtype=jnp.float64), 4096)
    # Monte Carlo standard error of each entry, from the analytic gradients of the sample
    gm = 2 * (Xmc @ beta)[:, None] * beta[None, :] + Xmc @ A
    se = np.std(gm[:, :, None] * gm[:, None, :], axis=0) / np.sqrt(n)
    assert np.all(np.abs(G - pop) < 5 * se), np.abs(G - pop) / se


class TwoLayer(FakeNet):
    def __init__(self, W):
        self.Wfirst = W

    def first_layer_weights(self):
        return self.Wfirst

    def __call__(self, X):
        return jnp.maximum(X @ jnp.asarray(self.Wfirst.T, dtype=X.dtype), 0).sum(1)


def test_weight_overlap_single_index() -> None:
    target = FakeTarget(d=6)
    rng = np.random.default_rng(1)
    aligned = np.outer(rng.standard_normal(10), target.beta)
    out = check_probe(weight_overlap(), make_run(target, TwoLayer(aligned)))
    assert out["alignment"].values == pytest.approx(1.0)
    assert out["subspace"].values == pytest.approx(1.0)
    assert out["chance"].values == pytest.approx(1 / 6)
    # Weights orthogonal to beta: zero overlap.
    P = np.eye(6) - np.outer(target.beta, target.beta)
    out = weight_overlap()(make_run(target, TwoLayer(rng.standard_normal((10, 6)) @ P)))
    assert abs(out["subspace"].values) < 1e-10


def test_weight_overlap_reads_w_of_a_one_hidden_layer_network() -> None:
    class Plain:
        def __init__(self, W):
            self.W = W

        def representations(self, X):
            return {"h1": X @ jnp.asarray(self.W.T, dtype=X.dtype)}

        def __call__(self, X):
            return self.representations(X)["h1"].sum(1)

    target = FakeTarget(d=6)
    out = weight_overlap()(make_run(target, Plain(np.outer(np.ones(3), target.beta))))
    assert out["subspace"].values == pytest.approx(1.0)


def test_agop_probe_on_a_single_index_function_is_aligned() -> None:
    target = FakeTarget(d=6)
    out = check_probe(
        agop_probe(points=256), make_run(target, QuadraticNet(target.beta, 0 * np.eye(6)))
    )
    assert out["alignment"].values == pytest.approx(1.0, abs=1e-5)


def test_target_reference_for_quadratic_features() -> None:
    class Quad:
        d = 4
        A = np.diag([1.0, -1.0, 0.0, 0.0]) / np.sqrt(2)

    P, U, kind = target_reference(Quad())
    assert kind == "A" and U.shape == (4, 2)
    np.testing.assert_allclose(P, np.diag([0.5, 0.5, 0, 0]), atol=1e-15)


def test_not_applicable_paths() -> None:
    target = FakeTarget(d=4)
    with pytest.raises(ProbeNotApplicable, match="not a two-layer network"):
        weight_overlap()(make_run(target, FakeNet(4, target.beta)))

    class NoSubspace:
        d = 4

    with pytest.raises(ProbeNotApplicable, match="no subspace"):
        target_reference(NoSubspace())
    with pytest.raises(ParameterError, match="points"):
        agop_probe(points=0)


def test_an_isotropic_reference_matrix_is_not_applicable() -> None:
    # the default quadratic-feature A = diag(+1, -1, ...)/sqrt(d) has A^2 = I/d: any weights
    # would score subspace = chance = 1, so the probe says why it cannot apply
    class Balanced:
        d = 4
        A = np.diag([1.0, 1.0, -1.0, -1.0]) / 2.0

    with pytest.raises(ProbeNotApplicable, match=r"A\^2 is proportional to the identity"):
        target_reference(Balanced())

    class FullRankButAnisotropic:
        d = 4
        A = np.diag([2.0, 1.0, -1.0, -2.0]) / np.sqrt(10)

    P, U, kind = target_reference(FullRankButAnisotropic())
    assert U.shape == (4, 4)  # still informative through the alignment
