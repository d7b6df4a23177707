"""The ``cka`` probe and ``cka_between`` on fake runs."""

from __future__ import annotations

import numpy as np
import pytest
from probe_fakes import FakeNet, FakeTarget, make_run
from tlkit.errors import ParameterError
from tlkit.testing import check_probe
from tlkit_probes._common import ProbeWarning
from tlkit_probes.cka import cka, cka_between
from tlkit_probes.cka_math import cka_gram, linear_gram


class InputNet(FakeNet):
    def representations(self, X):
        return {"input": X, **super().representations(X)}


class ConstantLayerNet(FakeNet):
    def representations(self, X):
        return {"const": 0 * X + 1.0, **super().representations(X)}


@pytest.fixture(scope="module")
def run64():
    target = FakeTarget(d=6)
    return make_run(target, InputNet(6, target.beta), n_test=1024, dtype="float64")


@pytest.fixture(scope="module")
def outputs(run64):
    return check_probe(cka(rbf_batch=256, rbf_batches=2, permutations=50, null_points=128), run64)


def test_linear_matrix_matches_gram_reference(run64, outputs) -> None:
    X, _ = run64.test_data()
    reps = run64.model.representations(X)
    names = list(outputs["linear_biased"].coords["layer"])
    assert names == ["input", "h1", "h2"]
    for tag, deb in (("biased", False), ("debiased", True)):
        ref = np.array(
            [
                [cka_gram(linear_gram(reps[a]), linear_gram(reps[b]), deb) for b in names]
                for a in names
            ]
        )
        np.testing.assert_allclose(outputs[f"linear_{tag}"].values, ref, atol=1e-10)
        np.testing.assert_allclose(np.diag(outputs[f"linear_{tag}"].values), 1.0, atol=1e-12)


def test_alignment_of_the_input_with_a_linear_feature_is_one_over_sqrt_d(outputs) -> None:
    # K = XX^T, h = beta.x with |beta| = 1, x ~ N(0, I_6): population CKA = 1/sqrt(6).
    value = outputs["alignment_h"].values[0]
    assert abs(value - 1 / np.sqrt(6)) < 0.05
    assert outputs["alignment_h"].dims == ("layer",)


def test_null_calibration(outputs) -> None:
    # The input is strongly aligned with h*: p-value at its minimum 1/(P+1).
    assert outputs["alignment_h_pvalue"].values[0] == pytest.approx(1 / 51)
    q = outputs["alignment_h_null"].values[0]
    assert q[0] <= q[1] <= q[2] and abs(q[1]) < 0.05  # debiased null median near 0
    assert outputs["linear_null"].dims == ("layer", "layer_other", "quantile")


def numpy_rbf_gram(Z: np.ndarray) -> np.ndarray:
    """exp(-D / (2 median of the off-diagonal D)), D the squared distances, written out."""
    Z = np.asarray(Z, dtype=np.float64)
    D = np.sum((Z[:, None, :] - Z[None, :, :]) ** 2, axis=-1)
    return np.exp(-D / (2 * np.median(D[~np.eye(len(Z), dtype=bool)])))


def numpy_hsic(K: np.ndarray, L: np.ndarray, debiased: bool) -> float:
    """Biased tr(KHLH) with an explicit H, or Song et al.'s unbiased HSIC written out."""
    n = K.shape[0]
    if not debiased:
        H = np.eye(n) - np.ones((n, n)) / n
        return float(np.trace(K @ H @ L @ H))
    Kt, Lt, one = K - np.diag(np.diag(K)), L - np.diag(np.diag(L)), np.ones(n)
    k1, l1 = Kt @ one, Lt @ one  # K̃1 and L̃1: 1ᵀK̃L̃1 = (K̃1)·(L̃1) for symmetric K̃
    value = (
        np.sum(Kt * Lt)  # tr(K̃L̃) for symmetric matrices
        + k1.sum() * l1.sum() / ((n - 1) * (n - 2))
        - 2 / (n - 2) * (k1 @ l1)
    )
    return float(value / (n * (n - 3)))


def numpy_cka(K: np.ndarray, L: np.ndarray, debiased: bool) -> float:
    return numpy_hsic(K, L, debiased) / np.sqrt(
        numpy_hsic(K, K, debiased) * numpy_hsic(L, L, debiased)
    )


def numpy_minibatch_rbf_cka(reps_a, reps_b, n_batches, size, debiased) -> np.ndarray:
    """Mean over the first minibatches of RBF CKA between every layer of a and of b."""
    total = 0
    for k in range(n_batches):
        sl = slice(k * size, (k + 1) * size)
        ga = [numpy_rbf_gram(np.asarray(r)[sl]) for r in reps_a.values()]
        gb = [numpy_rbf_gram(np.asarray(r)[sl]) for r in reps_b.values()]
        total = total + np.array([[numpy_cka(a, b, debiased) for b in gb] for a in ga])
    return total / n_batches


def test_rbf_matrix_matches_a_numpy_minibatch_reference(run64, outputs) -> None:
    # the fixture's probe: rbf_batch=256, rbf_batches=2 (the first 512 test points)
    X, _ = run64.test_data()
    reps = run64.model.representations(X)
    assert list(outputs["rbf_biased"].coords["layer"]) == list(reps)
    for tag, deb in (("biased", False), ("debiased", True)):
        ref = numpy_minibatch_rbf_cka(reps, reps, 2, 256, deb)
        np.testing.assert_allclose(outputs[f"rbf_{tag}"].values, ref, atol=1e-10)


def test_alignments_match_numpy_linear_cka_with_y_and_h(run64, outputs) -> None:
    # alignment_debiased=True (the default): debiased linear CKA over the whole test set
    X, y = run64.test_data()
    reps = run64.model.representations(X)
    y = np.asarray(y, dtype=np.float64)
    h = np.asarray(X, dtype=np.float64) @ run64.target.beta
    for label, t in (("y", y), ("h", h)):
        ref = [
            numpy_cka(np.asarray(r) @ np.asarray(r).T, np.outer(t, t), True) for r in reps.values()
        ]
        np.testing.assert_allclose(outputs[f"alignment_{label}"].values, ref, atol=1e-10)


def test_rbf_is_symmetric_with_unit_diagonal(outputs) -> None:
    for tag in ("biased", "debiased"):
        v = outputs[f"rbf_{tag}"].values
        np.testing.assert_allclose(v, v.T, atol=1e-12)
        np.testing.assert_allclose(np.diag(v), 1.0, atol=1e-12)


def test_cka_between_two_runs(run64, outputs) -> None:
    target = run64.target
    other = make_run(target, FakeNet(6, target.beta, seed=9), n_test=1024, dtype="float64")
    same = cka_between(run64, run64, debiased=False)
    np.testing.assert_allclose(same.values, outputs["linear_biased"].values, atol=1e-10)
    da = cka_between(run64, other)
    assert da.dims == ("layer", "layer_other")
    assert list(da.coords["layer_other"].values) == ["h1", "h2"]
    X, _ = run64.test_data()
    ra, rb = run64.model.representations(X), other.model.representations(X)
    ref = cka_gram(linear_gram(ra["h2"]), linear_gram(rb["h1"]), True)
    assert abs(float(da.sel(layer="h2", layer_other="h1")) - ref) < 1e-10
    rbf = cka_between(run64, other, kind="rbf", rbf_batch=128, rbf_batches=2)
    assert rbf.shape == (3, 2) and np.all(np.isfinite(rbf.values))


@pytest.mark.parametrize("debiased", [False, True])
def test_cka_between_rbf_matches_a_numpy_minibatch_reference(run64, debiased) -> None:
    other = make_run(
        run64.target, FakeNet(6, run64.target.beta, seed=9), n_test=1024, dtype="float64"
    )
    da = cka_between(run64, other, kind="rbf", debiased=debiased, rbf_batch=128, rbf_batches=3)
    X, _ = run64.test_data()
    ref = numpy_minibatch_rbf_cka(
        run64.model.representations(X), other.model.representations(X), 3, 128, debiased
    )
    np.testing.assert_allclose(da.values, ref, atol=1e-10)


def test_constant_layer_gives_nan_with_warning() -> None:
    target = FakeTarget(d=4)
    run = make_run(target, ConstantLayerNet(4, target.beta), n_test=256)
    with pytest.warns(ProbeWarning, match="probe 'cka'"):
        out = cka(rbf=False, permutations=0)(run)
    assert np.isnan(out["linear_biased"].values[0, 1])
    assert np.isfinite(out["linear_biased"].values[1, 2])


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"rbf_batch": 2}, "rbf_batch"),
        ({"permutations": -1}, "permutations"),
        ({"null_points": 0}, "null_points"),
        ({"budget_mb": 0}, "budget_mb"),
    ],
)
def test_bad_parameters(kwargs, name) -> None:
    with pytest.raises(ParameterError, match=name):
        cka(**kwargs)


def test_cka_between_bad_kind(run64) -> None:
    with pytest.raises(ParameterError, match="kind"):
        cka_between(run64, run64, kind="cosine")
