"""The ``ridge-probe`` probe against an explicit NumPy ridge fit."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from probe_fakes import FakeNet, FakeTarget, make_run
from tlkit.errors import ParameterError
from tlkit_probes.ridge_probe import ridge_probe


class LayeredNet(FakeNet):
    """Adds an exact copy of the input and a layer of noise unrelated to x."""

    def representations(self, X):
        reps = super().representations(X)
        # Noise that depends on the row values only through a hash-like mixing: a
        # fixed random key per batch would correlate with nothing, which is the point.
        key = jax.random.PRNGKey(int(X.shape[0]))
        noise = jax.random.normal(key, (X.shape[0], 4), dtype=X.dtype)
        return {"input": X, **reps, "noise": noise}


def numpy_r2(Phi: np.ndarray, h: np.ndarray, lam_rel: float, half: int) -> float:
    """Ridge with an unpenalized intercept, fitted on rows [:half], scored on [half:]."""
    A, B = Phi[:half], Phi[half:]
    mu, my = A.mean(0), h[:half].mean()
    Ac = A - mu
    cov = Ac.T @ Ac / half
    lam = lam_rel * np.trace(cov) / cov.shape[0]
    w = np.linalg.solve(cov + lam * np.eye(cov.shape[0]), Ac.T @ (h[:half] - my) / half)
    pred = (B - mu) @ w + my
    return 1 - np.sum((pred - h[half:]) ** 2) / np.sum((h[half:] - h[half:].mean()) ** 2)


@pytest.mark.parametrize("dtype", ["float64", pytest.param("float32", marks=pytest.mark.slow)])
def test_r2_matches_numpy_solve_at_the_chosen_ridge(dtype) -> None:
    target = FakeTarget(d=6)
    run = make_run(target, LayeredNet(6, target.beta), n_test=1024, dtype=dtype)
    out = ridge_probe()(run)
    X, _ = run.test_data()
    h = np.asarray(target.feature(X), dtype=np.float64)
    reps = run.model.representations(X)
    layers = list(out["r2"].coords["layer"])
    assert layers == ["input", "h1", "h2", "noise"]
    assert out["r2"].dims == ("layer",)
    for i, name in enumerate(layers):
        if name == "noise":
            continue  # batch-dependent noise: not reproducible on the full matrix
        Phi = np.asarray(reps[name], dtype=np.float64)
        expected = numpy_r2(Phi, h, float(out["ridge"].values[i]), 512)
        np.testing.assert_allclose(out["r2"].values[i], expected, rtol=1e-6, atol=1e-6)
    # An exact linear copy of h* gives R^2 ~ 1; unrelated noise gives R^2 ~ 0.
    assert out["r2"].values[0] > 0.999
    assert abs(out["r2"].values[3]) < 0.05


def test_vector_feature_gives_component_dim() -> None:
    target = FakeTarget(d=6, r=2)
    run = make_run(target, LayeredNet(6, target.beta), n_test=512)
    out = ridge_probe()(run)
    assert out["r2"].dims == ("layer", "component")
    assert out["r2"].values.shape == (4, 2)
    assert list(out["r2"].coords["component"]) == [0, 1]
    assert np.all(out["r2"].values[0] > 0.999)


def test_model_without_representations_is_not_applicable() -> None:
    from tlkit.errors import ProbeNotApplicable

    class Bare:
        def __call__(self, X):
            return jnp.zeros(X.shape[0])

    with pytest.raises(ProbeNotApplicable, match="representations"):
        ridge_probe()(make_run(FakeTarget(d=3), Bare()))


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"ridges": []}, "ridges"),
        ({"ridges": [1.0, -1.0]}, "ridges"),
        ({"inner_val_fraction": 1.0}, "inner_val_fraction"),
        ({"budget_mb": 0}, "budget_mb"),
    ],
)
def test_bad_parameters(kwargs, name) -> None:
    with pytest.raises(ParameterError, match=name):
        ridge_probe(**kwargs)
