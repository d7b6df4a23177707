"""Baselines fitted on the run's own training data and scored on its test set.

* ``kernel-ridge``: kernel ridge regression with the infinite-width NNGP or NTK kernel of
  the network's activation (closed forms from :mod:`tlkit.numerics.kernels`), in float64.
  Exact up to ``exact_limit`` training points (one eigendecomposition gives the whole
  ridge path; the Gram matrix is built in blocks); above it, Nyström features on
  ``nystrom_points`` landmarks.
* ``rf-ridge``: ridge on random features ``σ(Vx)``, ``V ~ N(0, I/d)``.
* ``poly-ridge``: ridge on all polynomials of degree ≤ q: explicit Hermite features for
  q ≤ 2, the polynomial kernel ``(1 + x·x'/d)^q`` (exact kernel ridge) above.

Every baseline centres the training labels (an unpenalized intercept), chooses the ridge
on the run's validation set, and reports the test MSE against the noiseless f* divided
by the measured ``Var f*`` on the test set, exactly like the ``test`` probe.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal

import jax
import jax.numpy as jnp
import numpy as np
from tlkit.errors import ParameterError
from tlkit.numerics.activations import get_activation
from tlkit.numerics.kernels import random_feature_kernel
from tlkit.numerics.ridge import (
    kernel_ridge_cholesky,
    kernel_ridge_coefficients,
    kernel_ridge_path,
)
from tlkit.types import ProbeOutput

from tlkit_probes._common import batches, check_positive_int, safe_ratio
from tlkit_probes._moments import Moments
from tlkit_probes.ridge_probe import fit_moments_ridge

Kernel = Callable[[jax.Array, jax.Array], jax.Array]
#: dim of the baselines' validation curves (relative ridge values)
BASELINE_RIDGE = "baseline_ridge"
DEFAULT_RIDGES = [1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1.0]


def model_activation(model: Any, requested: str) -> str:
    """The activation a baseline should use: ``requested``, or the network's own.

    ``"auto"`` reads ``sigma2_name`` (three-layer networks: the random inner layer),
    then ``sigma_name`` / ``activation_name`` (two-layer networks), else ``"relu"``.
    """
    if requested != "auto":
        get_activation(requested, "activation")  # validate the name early
        return requested
    for attr in ("sigma2_name", "sigma_name", "activation_name"):
        value = getattr(model, attr, None)
        if isinstance(value, str):
            return value
    return "relu"


# Kernels and their jitted forms are cached by their arguments: JAX caches compiled
# programs per function object, and a fresh closure per probe call would compile the
# same kernel again for every run (every seed of a sweep cell).
@functools.cache
def network_kernel(activation: str, kind: str) -> Kernel:
    """NNGP ``E[σ(v·x)σ(v·x')]`` or NTK ``NNGP + (x·x'/d) E[σ'(v·x)σ'(v·x')]``.

    The NTK is that of a two-layer network ``(1/√m) Σ a_i σ(w_i·x)`` with
    ``w_i ~ N(0, I/d)``, ``a_i ~ N(0, 1)`` and both layers trained.
    """
    nngp = random_feature_kernel(activation)
    if kind == "nngp":
        return nngp
    deriv = random_feature_kernel(activation, derivative=True)

    def ntk(X: jax.Array, Y: jax.Array) -> jax.Array:
        return nngp(X, Y) + deriv(X, Y) * (X @ Y.T) / X.shape[1]

    return ntk


@functools.cache
def polynomial_kernel(q: int) -> Kernel:
    """``(1 + x·x'/d)^q``: spans every polynomial of degree ≤ q."""

    def kernel(X: jax.Array, Y: jax.Array) -> jax.Array:
        return (1.0 + X @ Y.T / X.shape[1]) ** q

    return kernel


@functools.cache
def _jitted(kernel: Kernel) -> Kernel:
    return jax.jit(kernel)


def gram(kernel: Kernel, X: Any, Y: Any, block: int) -> np.ndarray:
    """``kernel(X, Y)`` in float64, built ``block`` rows at a time."""
    X = jnp.asarray(X, dtype=jnp.float64)
    Y = jnp.asarray(Y, dtype=jnp.float64)
    out = np.empty((X.shape[0], Y.shape[0]))
    jitted = _jitted(kernel)
    for sl in batches(int(X.shape[0]), block):
        out[sl] = np.asarray(jitted(X[sl], Y))
    return out


def _scores(
    name: str,
    pred_test: np.ndarray,
    f_star: np.ndarray,
    val_mse: np.ndarray,
    lams: np.ndarray,
    best: int,
    how: str,
) -> dict[str, ProbeOutput]:
    mse = float(np.mean((pred_test - f_star) ** 2)) if np.all(np.isfinite(pred_test)) else math.nan
    var = float(np.var(f_star))
    nmse = safe_ratio(mse, var, name, "Var f* on the test set") if mse == mse else mse
    # Own dim, not tlkit's "ridge": these are relative ridges of the baseline, and
    # sharing the trainer's ridge axis would misalign both in one dataset.
    rc = {BASELINE_RIDGE: [float(v) for v in lams]}
    return {
        "normalized_mse": ProbeOutput(
            np.float64(nmse), long_name=f"normalized test MSE / measured Var f* ({how})"
        ),
        "mse": ProbeOutput(np.float64(mse), long_name=f"test MSE E[(f_hat - f*)^2] ({how})"),
        "ridge": ProbeOutput(
            np.float64(lams[best]), long_name="ridge chosen on validation data (relative)"
        ),
        "val_mse": ProbeOutput(
            val_mse, (BASELINE_RIDGE,), rc, "1", f"validation MSE along the ridge path ({how})"
        ),
    }


def _best(val_mse: np.ndarray) -> int:
    return int(np.argmin(np.where(np.isfinite(val_mse), val_mse, np.inf)))


def exact_kernel_ridge(
    kernel: Kernel,
    data: Any,
    X_test: Any,
    lams: np.ndarray,
    block: int,
    solver: str = "cholesky",
) -> tuple[np.ndarray, np.ndarray, int]:
    """Exact kernel ridge in float64 along a relative ridge path.

    The absolute ridge is ``λ = λ_rel · mean(diag K)`` with coefficients
    ``α = (K + nλI)⁻¹ (y - ȳ)`` and predictions ``ȳ + K(x, X) α``. ``solver="eigh"``
    factors K once for the whole path; ``"cholesky"`` factors ``K + nλI`` per ridge,
    which is faster for short paths (about 17 Cholesky solves cost one ``eigh`` on CPU).

    Returns:
        Validation MSE per ridge ``(L,)``, test predictions at the best ridge, its index.
    """
    X = data.X
    y = np.asarray(data.y, dtype=np.float64)
    mean = float(y.mean())
    K = gram(kernel, X, X, block)
    scale = float(np.mean(np.diag(K)))
    if solver == "eigh":
        path = kernel_ridge_path(K, y - mean)
        alphas = np.stack([kernel_ridge_coefficients(path, lam * scale) for lam in lams], axis=1)
        del path
    else:
        alphas = kernel_ridge_cholesky(K, y - mean, lams * scale)
    del K
    y_val = np.asarray(data.y_val, dtype=np.float64)
    sse = np.zeros(len(lams))
    for sl in batches(int(data.X_val.shape[0]), block):
        pred = mean + gram(kernel, data.X_val[sl], X, block) @ alphas  # (b, L)
        sse += np.sum((pred - y_val[sl, None]) ** 2, axis=0)
    val_mse = sse / y_val.shape[0]
    best = _best(val_mse)
    pred_test = np.concatenate(
        [
            mean + gram(kernel, X_test[sl], X, block) @ alphas[:, best]
            for sl in batches(int(X_test.shape[0]), block)
        ]
    )
    return val_mse, pred_test, best


def feature_ridge(
    featurize: Callable[[Any], np.ndarray], data: Any, X_test: Any, lams: np.ndarray, block: int
) -> tuple[np.ndarray, np.ndarray, int]:
    """Ridge on features streamed in blocks (moments), with an unpenalized intercept.

    The absolute ridge is ``λ_rel · tr(Cov φ) / p``.

    Returns:
        Validation MSE per ridge ``(L,)``, test predictions at the best ridge, its index.
    """

    def moments(X: Any, y: Any, ref: np.ndarray | None) -> Moments:
        m: Moments | None = None
        y = np.asarray(y, dtype=np.float64)[:, None]
        for sl in batches(int(X.shape[0]), block):
            phi = featurize(X[sl])
            if m is None:
                m = Moments.empty(phi.mean(axis=0) if ref is None else ref, 1)
            m.add(phi, y[sl])
        assert m is not None
        return m

    train = moments(data.X, data.y, None)
    val = moments(data.X_val, data.y_val, train.ref)
    w, b = fit_moments_ridge(train, lams)
    val_mse = val.sse(w, b)[:, 0] / val.n
    best = _best(val_mse)
    pred = np.concatenate(
        [
            (featurize(X_test[sl]) - train.ref) @ w[best, :, 0] + b[best, 0]
            for sl in batches(int(X_test.shape[0]), block)
        ]
    )
    return val_mse, pred, best


def nystrom_featurizer(kernel: Kernel, landmarks: Any) -> Callable[[Any], np.ndarray]:
    """Features ``φ(x) = K(x, Z) K(Z, Z)^{-1/2}`` (pseudo-inverse root), float64."""
    Z = jnp.asarray(landmarks, dtype=jnp.float64)
    Kzz = np.asarray(kernel(Z, Z))
    evals, evecs = np.linalg.eigh((Kzz + Kzz.T) / 2)
    keep = evals > 1e-10 * evals.max()
    root = evecs[:, keep] / np.sqrt(evals[keep])
    jitted = jax.jit(kernel)

    def featurize(X: Any) -> np.ndarray:
        return np.asarray(jitted(jnp.asarray(X, dtype=jnp.float64), Z)) @ root

    return featurize


class BaselineProbe:
    """Common driver: fit on ``run.train_data()``, score on ``run.test_data()``."""

    def __init__(self, name: str, fit: Callable[[Any, Any, Any], tuple], how: Callable) -> None:
        self.name = name
        self.fit = fit
        self.how = how

    def __call__(self, run: Any) -> Mapping[str, ProbeOutput]:
        data = run.train_data()
        X_test, _ = run.test_data()
        f_star = np.asarray(run.target.function(X_test), dtype=np.float64)
        val_mse, pred, best, lams = self.fit(run, data, X_test)
        return _scores(self.name, pred, f_star, val_mse, lams, best, self.how(run, data))


def _check_ridges(ridges: Sequence[float]) -> np.ndarray:
    if not ridges or any(not isinstance(v, int | float) or v <= 0 for v in ridges):
        raise ParameterError(f"ridges must be a non-empty list of positive numbers, got {ridges!r}")
    return np.asarray(ridges, dtype=np.float64)


def kernel_ridge(
    kernel: Literal["nngp", "ntk"] = "nngp",
    activation: str = "auto",
    ridges: list[float] = DEFAULT_RIDGES,  # noqa: B006
    exact_limit: int = 16384,
    nystrom_points: int = 4096,
    block: int = 2048,
    solver: Literal["cholesky", "eigh"] = "cholesky",
) -> BaselineProbe:
    """Kernel ridge with the network's infinite-width NNGP or NTK kernel (float64).

    Args:
        kernel: ``nngp`` (random-feature kernel of the activation) or ``ntk``.
        activation: activation name; ``auto`` uses the network's (σ2 of a three-layer
            network, σ of a two-layer one), else relu.
        ridges: relative ridges; absolute ``λ = λ_rel · mean(diag K)``.
        exact_limit: largest training set solved exactly (an n × n float64 Gram matrix,
            2 GiB at 2^14); larger sets use Nyström features.
        nystrom_points: landmarks (the first training points) above ``exact_limit``.
        block: rows per Gram block.
        solver: exact path by one Cholesky solve per ridge, or one ``eigh`` for all.
    """
    if solver not in ("cholesky", "eigh"):
        raise ParameterError(f"solver must be 'cholesky' or 'eigh', got {solver!r}")
    if kernel not in ("nngp", "ntk"):
        raise ParameterError(f"kernel must be 'nngp' or 'ntk', got {kernel!r}")
    if activation != "auto":
        get_activation(activation, "activation")
    lams = _check_ridges(ridges)
    check_positive_int("exact_limit", exact_limit, 2)
    check_positive_int("nystrom_points", nystrom_points, 2)
    check_positive_int("block", block)

    def fit(run: Any, data: Any, X_test: Any) -> tuple:
        k = network_kernel(model_activation(run.model, activation), kernel)
        if data.X.shape[0] <= exact_limit:
            return (*exact_kernel_ridge(k, data, X_test, lams, block, solver), lams)
        feats = nystrom_featurizer(k, data.X[:nystrom_points])
        return (*feature_ridge(feats, data, X_test, lams, block), lams)

    def how(run: Any, data: Any) -> str:
        act = model_activation(run.model, activation)
        method = "exact" if data.X.shape[0] <= exact_limit else f"Nystrom m={nystrom_points}"
        return f"kernel ridge, {kernel} kernel of {act}, {method}"

    return BaselineProbe("kernel-ridge", fit, how)


def rf_ridge(
    features: int = 2048,
    activation: str = "auto",
    ridges: list[float] = DEFAULT_RIDGES,  # noqa: B006
    seed: int = 0,
    block: int = 2048,
) -> BaselineProbe:
    """Ridge on random features σ(Vx), V ~ N(0, I/d) (a two-layer random-features model).

    Args:
        features: number of random features.
        activation: activation name or ``auto`` (the network's).
        ridges: relative ridges; absolute ``λ = λ_rel · tr(Cov φ) / p``.
        seed: seed of V.
        block: rows per batch.
    """
    check_positive_int("features", features)
    check_positive_int("seed", seed, 0)
    check_positive_int("block", block)
    if activation != "auto":
        get_activation(activation, "activation")
    lams = _check_ridges(ridges)

    def fit(run: Any, data: Any, X_test: Any) -> tuple:
        act = get_activation(model_activation(run.model, activation))
        d = int(data.X.shape[1])
        V = jax.random.normal(jax.random.PRNGKey(seed), (d, features), dtype=jnp.float64)
        V = V / math.sqrt(d)

        def featurize(X: Any) -> np.ndarray:
            return np.asarray(act(jnp.asarray(X, dtype=jnp.float64) @ V))

        return (*feature_ridge(featurize, data, X_test, lams, block), lams)

    def how(run: Any, data: Any) -> str:
        act = model_activation(run.model, activation)
        return f"random-features ridge, {features} features of {act}"

    return BaselineProbe("rf-ridge", fit, how)


def hermite_features(X: Any, q: int) -> np.ndarray:
    """Hermite features of degree ≤ q ≤ 2: 1, x_i, x_i x_j (i < j), (x_i² - 1)/√2."""
    X = np.asarray(X, dtype=np.float64)
    n, d = X.shape
    cols = [np.ones((n, 1))]
    if q >= 1:
        cols.append(X)
    if q >= 2:
        iu = np.triu_indices(d, 1)
        cols.append(X[:, iu[0]] * X[:, iu[1]])
        cols.append((X**2 - 1) / math.sqrt(2))
    return np.concatenate(cols, axis=1)


def poly_ridge(
    degree: int = 2,
    ridges: list[float] = DEFAULT_RIDGES,  # noqa: B006
    exact_limit: int = 16384,
    block: int = 2048,
) -> BaselineProbe:
    """Ridge on all polynomials of degree ≤ q (Hermite features for q ≤ 2, kernel above).

    Args:
        degree: q.
        ridges: relative ridges.
        exact_limit: largest training set for the exact polynomial-kernel path (q > 2).
        block: rows per batch.
    """
    check_positive_int("degree", degree, 0)
    check_positive_int("exact_limit", exact_limit, 2)
    check_positive_int("block", block)
    lams = _check_ridges(ridges)

    def fit(run: Any, data: Any, X_test: Any) -> tuple:
        if degree <= 2:

            def featurize(X: Any) -> np.ndarray:
                # The constant column is the intercept's job; degree 0 keeps it alone
                # (all-constant features: the prediction is the training mean).
                phi = hermite_features(X, degree)
                return phi[:, 1:] if degree else 0 * phi

            return (*feature_ridge(featurize, data, X_test, lams, block), lams)
        if data.X.shape[0] > exact_limit:
            raise ParameterError(
                f"poly-ridge degree={degree} uses exact kernel ridge, limited to "
                f"exact_limit={exact_limit} training points; got {data.X.shape[0]}"
            )
        return (*exact_kernel_ridge(polynomial_kernel(degree), data, X_test, lams, block), lams)

    def how(run: Any, data: Any) -> str:
        form = "Hermite features" if degree <= 2 else "polynomial kernel (1 + x.x'/d)^q"
        return f"polynomial ridge of degree <= {degree} ({form})"

    return BaselineProbe("poly-ridge", fit, how)
