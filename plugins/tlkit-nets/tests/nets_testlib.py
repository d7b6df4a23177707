"""Test helpers: a small quadratic-feature problem built here (independent of plugins)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import tlkit  # enables float64
from tlkit.types import TrainData


def quadratic_problem(
    key: jax.Array, n: int, d: int, dtype: jnp.dtype = jnp.float32
) -> tuple[jax.Array, jax.Array, jax.Array]:
    """x uniform on the sphere of radius sqrt(d); h* = xᵀAx with A = diag(±1)/sqrt(d).

    Returns ``(X, y, h)`` with ``y = (u + He3(u)/sqrt(6))/sqrt(2)``, u = h*/sd(h*).
    """
    g = jax.random.normal(key, (n, d), dtype=dtype)
    X = g / jnp.linalg.norm(g, axis=1, keepdims=True) * jnp.sqrt(jnp.asarray(d, dtype=dtype))
    h = _quadratic_feature(X)
    return X, _quadratic_link(h / jnp.sqrt(jnp.asarray(2 * d / (d + 2), dtype=dtype))), h


def _quadratic_feature(X: jax.Array) -> jax.Array:
    """h* = xᵀAx, A = diag(±1)/sqrt(d)."""
    d, dtype = X.shape[1], X.dtype
    diag = jnp.concatenate([jnp.ones(d // 2), -jnp.ones(d - d // 2)]).astype(dtype)
    return (X**2) @ (diag / jnp.sqrt(jnp.asarray(d, dtype=dtype)))


def _quadratic_link(u: jax.Array) -> jax.Array:
    """g*(u) = (u + He3(u)/sqrt(6))/sqrt(2) on the standardized feature u."""
    dtype = u.dtype
    return (u + (u**3 - 3 * u) / jnp.sqrt(jnp.asarray(6.0, dtype=dtype))) / jnp.sqrt(
        jnp.asarray(2.0, dtype=dtype)
    )


class QuadraticTarget:
    """The quadratic problem as a tlkit target, so that the nets tests can run the
    pipeline without the tlkit-targets plugin (``nox -s plugins`` loads nets alone)."""

    def __init__(self, *, d: int = 8, seed: int = 0) -> None:
        self.d = d
        self.params = {"d": d, "seed": seed}

    def sample(self, key: jax.Array, n: int, dtype=jnp.float32) -> tuple[jax.Array, jax.Array]:
        X, y, _ = quadratic_problem(key, n, self.d, dtype)
        return X, y

    def function(self, X: jax.Array) -> jax.Array:
        return self.link(self.feature(X) / jnp.sqrt(2 * self.d / (self.d + 2)))

    def feature(self, X: jax.Array) -> jax.Array:
        return _quadratic_feature(X)

    def link(self, z: jax.Array) -> jax.Array:
        return _quadratic_link(z)

    def metadata(self) -> dict:
        return {"input_distribution": "sphere", "d": self.d, "feature_degree": 2}

    def degree_energy(self, max_degree: int = 6):
        raise NotImplementedError("not needed by the nets tests")


class QuadraticTargetPlugin:
    """An inline plugin registering :class:`QuadraticTarget` as ``nets-test-quadratic``."""

    @tlkit.hookimpl
    def tlkit_register_targets(self, register) -> None:
        register("nets-test-quadratic", QuadraticTarget, description="tests' quadratic target")


def make_data(seed: int, n: int, d: int, n_val: int = 256, dtype=jnp.float32) -> TrainData:
    """Training and validation sets of the quadratic problem."""
    k = jax.random.PRNGKey(seed)
    X, y, _ = quadratic_problem(jax.random.fold_in(k, 0), n, d, dtype)
    Xv, yv, _ = quadratic_problem(jax.random.fold_in(k, 1), n_val, d, dtype)
    return TrainData(X, y, Xv, yv, jax.random.fold_in(k, 2))


def numpy_ridge(Phi: np.ndarray, y: np.ndarray, lam: float) -> np.ndarray:
    """argmin (1/n)||Phi a - y||² + lam ||a||², by np.linalg.solve."""
    n, p = Phi.shape
    return np.linalg.solve(Phi.T @ Phi / n + lam * np.eye(p), Phi.T @ y / n)


def relative_ridge(Phi: np.ndarray, lam: float) -> float:
    """``ridge_units="relative"``: λ times the mean eigenvalue of ΦᵀΦ/n, i.e. λ tr(ΦᵀΦ/n)/p."""
    n, p = Phi.shape
    return lam * np.trace(Phi.T @ Phi / n) / p


def numpy_validation_grid(
    features: list[tuple[np.ndarray, np.ndarray]],
    y2: np.ndarray,
    y_val: np.ndarray,
    ridges: list[float],
) -> np.ndarray:
    """The (step size, ridge) selection grid in NumPy: ``(len(features), len(ridges))``.

    ``features[i]`` is step size i's (Φ on D2, Φ on the validation set); each ridge is
    solved on D2 at the relative ridge and scored by its MSE on the validation set.
    """
    grid = np.empty((len(features), len(ridges)))
    for i, (Phi2, Phi_val) in enumerate(features):
        for j, lam in enumerate(ridges):
            a = numpy_ridge(Phi2, y2, relative_ridge(Phi2, lam))
            grid[i, j] = np.mean((Phi_val @ a - y_val) ** 2)
    return grid


def quadratic_sample(key: jax.Array, n: int, dtype=jnp.float32) -> tuple[jax.Array, jax.Array]:
    """The quadratic problem with a target's ``sample(key, n, dtype=...)`` signature."""
    X, y, _ = quadratic_problem(key, n, 8, dtype)
    return X, y


def make_block_data(seed: int, n: int, block: int, n_val: int = 256) -> TrainData:
    """Like :func:`make_data` (d = 8, float64), the training split drawn in blocks."""
    from tlkit.sampling import BlockSource

    k = jax.random.PRNGKey(seed)
    source = BlockSource(quadratic_sample, jax.random.fold_in(k, 0), n, block, jnp.float64)
    Xv, yv, _ = quadratic_problem(jax.random.fold_in(k, 1), n_val, 8, jnp.float64)
    return TrainData(None, None, Xv, yv, jax.random.fold_in(k, 2), blocks=source)
