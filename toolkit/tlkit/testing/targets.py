"""Contract check for targets: run it in every target plugin's tests.

Example::

    from tlkit.testing import check_target
    check_target(MyTarget(d=8, seed=0))

Each violation raises :class:`AssertionError` with a message that names the target,
the part of the contract and what was found. Statistical checks (variances,
energies) use tolerances of several standard errors estimated from the same sample,
so they fail for real defects (a wrong constant, a missing factor) and not by chance.
Var f* is estimated on a large fresh sample (``n_variance`` points, 2**21 by default)
with no slack beyond its sampling error, so a link off by a few per cent (Var f* off
by about 5 %) fails the "normalized" check and the comparison with an exact
``degree_energy`` variance.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from tlkit.params import jsonable
from tlkit.types import DegreeEnergy, Target

#: metadata keys every target must report
REQUIRED_METADATA = ("input_distribution", "d", "feature_degree", "link_degree", "noise_std")
#: how many standard errors a statistical check allows
SIGMAS = 6.0
#: relative slack of the variance check for Monte Carlo energies only: their
#: ``variance`` may itself be an estimate whose standard error DegreeEnergy does not carry
MONTE_CARLO_VARIANCE_SLACK = 0.05


def check_target(
    target: Any,
    *,
    n: int = 4096,
    seed: int = 0,
    max_degree: int = 6,
    check_energy: bool = True,
    energy_kwargs: Mapping[str, Any] | None = None,
    n_variance: int = 2**21,
) -> None:
    """Check that ``target`` satisfies the :class:`tlkit.types.Target` contract.

    Checks shapes, dtypes (float32 by default, float64 on request), determinism in
    the key, agreement of ``jax.jit(sample)`` with eager ``sample``, feature
    consistency (``function(X) == link((feature(X) - center) / scale)`` with the
    normalization constants of ``metadata()``; ``y == function(X)`` without noise;
    residual standard deviation ``== noise_std`` with noise), metadata, the variance
    normalization when ``metadata()["normalized"]`` is true, and the per-degree
    energies (non-negative, summing to ``Var f*`` when the target is a polynomial of
    degree ``<= max_degree``, never exceeding it otherwise; an exact ``variance``
    equal to the sample Var f* within its sampling error).

    Args:
        target: the object to check.
        n: sample size; the statistical checks (variances, energy totals) use it too,
            and one shape for all checks keeps compilation to a minimum.
        seed: seed of the check's own keys.
        max_degree: highest degree asked of ``degree_energy``.
        check_energy: set False to skip ``degree_energy`` (expensive for some targets).
        energy_kwargs: extra keyword arguments for ``degree_energy`` (e.g. a smaller
            Monte Carlo budget in fast tests).
        n_variance: size of the fresh sample that estimates Var f* for the
            "normalized" and energy-variance checks; drawn in batches of ``n`` (no new
            compilation) and rounded up to a multiple of ``n``.

    Raises:
        AssertionError: naming the violated part of the contract.
    """
    name = type(target).__name__
    _check_attributes(target, name)
    key = jax.random.PRNGKey(seed)
    k1, k2 = jax.random.split(key)
    X, y = _check_sample(target, name, k1, k2, n)
    meta = _check_metadata(target, name)
    _check_function_and_feature(target, name, X, y, meta)
    X64, y64 = target.sample(jax.random.fold_in(key, 7), n, dtype=jnp.float64)
    f64 = np.asarray(target.function(X64), dtype=np.float64)
    _check_noise(name, np.asarray(y64, dtype=np.float64), f64, float(meta["noise_std"]))
    _check_standardization(target, name, X64, meta)
    large: list[tuple[float, float, int]] = []

    def large_sample_variance() -> tuple[float, float, int]:
        # Var f* on a large fresh sample, drawn once and only when a check needs it.
        if not large:
            f = _large_sample_function(target, jax.random.fold_in(key, 11), n, n_variance, f64)
            large.append((*_variance_and_tail_se(f), len(f)))
        return large[0]

    if meta.get("normalized"):
        var, se, size = large_sample_variance()
        _require(
            abs(var - 1.0) <= SIGMAS * se + 1e-9,
            f"{name}: metadata says normalized, but the sample Var f* = {var:.4g} "
            f"(standard error {se:.2g}) on {size} points is not 1",
        )
    if check_energy:
        energy = target.degree_energy(max_degree, **dict(energy_kwargs or {}))
        _check_energy(name, energy, f64, large_sample_variance, meta, max_degree)


def _require(condition: Any, message: str) -> None:
    if not bool(condition):
        raise AssertionError(message)


def _check_attributes(target: Any, name: str) -> None:
    _require(isinstance(target, Target), f"{name}: missing a Target attribute or method")
    _require(
        isinstance(target.d, int) and not isinstance(target.d, bool) and target.d >= 1,
        f"{name}: d must be a positive int, got {target.d!r}",
    )
    _require(isinstance(target.params, Mapping), f"{name}: params must be a mapping")
    try:
        json.dumps(jsonable(dict(target.params)))
    except (TypeError, ValueError) as exc:
        raise AssertionError(f"{name}: params are not JSON-serializable: {exc}") from None


def _check_sample(
    target: Any, name: str, key: jax.Array, other: jax.Array, n: int
) -> tuple[jax.Array, jax.Array]:
    X, y = target.sample(key, n)
    _require(
        X.shape == (n, target.d), f"{name}: sample X shape {X.shape}, expected {(n, target.d)}"
    )
    _require(y.shape == (n,), f"{name}: sample y shape {y.shape}, expected {(n,)}")
    for what, arr in (("X", X), ("y", y)):
        _require(
            arr.dtype == jnp.float32,
            f"{name}: sample {what} dtype {arr.dtype} by default, expected float32",
        )
        _require(
            np.all(np.isfinite(np.asarray(arr))), f"{name}: sample {what} has non-finite values"
        )
    X64, y64 = target.sample(key, n, dtype=jnp.float64)
    _require(
        X64.dtype == jnp.float64 and y64.dtype == jnp.float64,
        f"{name}: sample(dtype=float64) gave {X64.dtype}/{y64.dtype}, expected float64",
    )
    X2, y2 = target.sample(key, n)
    _require(
        np.array_equal(np.asarray(X), np.asarray(X2))
        and np.array_equal(np.asarray(y), np.asarray(y2)),
        f"{name}: sample is not deterministic in the key (same key, different draws)",
    )
    X3, _ = target.sample(other, n)
    _require(not np.array_equal(np.asarray(X), np.asarray(X3)), f"{name}: sample ignores the key")
    jitted = jax.jit(target.sample, static_argnums=(1,), static_argnames=("dtype",))
    Xj, yj = jitted(key, n, dtype=jnp.float64)
    _require(
        np.allclose(np.asarray(Xj), np.asarray(X64), rtol=1e-9, atol=1e-9)
        and np.allclose(np.asarray(yj), np.asarray(y64), rtol=1e-7, atol=1e-7),
        f"{name}: jax.jit(sample) differs from eager sample",
    )
    return X64, y64


def _check_metadata(target: Any, name: str) -> dict[str, Any]:
    meta = target.metadata()
    _require(isinstance(meta, dict), f"{name}: metadata() must return a dict")
    missing = [k for k in REQUIRED_METADATA if k not in meta]
    _require(not missing, f"{name}: metadata() lacks {', '.join(missing)}")
    _require(meta["d"] == target.d, f"{name}: metadata d={meta['d']!r} != target.d={target.d}")
    for key in ("feature_degree", "link_degree"):
        value = meta[key]
        _require(
            value is None or (isinstance(value, int) and value >= 0),
            f"{name}: metadata {key} must be a non-negative int or None, got {value!r}",
        )
    _require(float(meta["noise_std"]) >= 0, f"{name}: metadata noise_std must be >= 0")
    try:
        json.dumps(jsonable(meta))
    except (TypeError, ValueError) as exc:
        raise AssertionError(f"{name}: metadata is not JSON-serializable: {exc}") from None
    return meta


def _normalization(meta: Mapping[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    norm = meta.get("normalization") or {}
    center = np.asarray(norm.get("feature_center", 0.0), dtype=np.float64)
    scale = np.asarray(norm.get("feature_scale", 1.0), dtype=np.float64)
    return center, scale


def _check_function_and_feature(
    target: Any, name: str, X: jax.Array, y: jax.Array, meta: Mapping[str, Any]
) -> None:
    n = X.shape[0]
    f = target.function(X)
    _require(f.shape == (n,), f"{name}: function(X) shape {f.shape}, expected {(n,)}")
    _require(f.dtype == X.dtype, f"{name}: function(X) dtype {f.dtype} != X dtype {X.dtype}")
    f32 = target.function(X.astype(jnp.float32))
    _require(f32.dtype == jnp.float32, f"{name}: function(float32 X) gave dtype {f32.dtype}")
    h = target.feature(X)
    _require(
        h.ndim in (1, 2) and h.shape[0] == n,
        f"{name}: feature(X) shape {h.shape}, expected (n,) or (n, r)",
    )
    _require(h.dtype == X.dtype, f"{name}: feature(X) dtype {h.dtype} != X dtype {X.dtype}")
    _require(np.all(np.isfinite(np.asarray(h))), f"{name}: feature(X) has non-finite values")
    center, scale = _normalization(meta)
    z = (np.asarray(h) - center) / scale
    via_link = np.asarray(target.link(jnp.asarray(z, dtype=X.dtype)), dtype=np.float64)
    _require(
        np.allclose(via_link, np.asarray(f), rtol=1e-8, atol=1e-8),
        f"{name}: function(X) != link((feature(X) - feature_center) / feature_scale); "
        f"max difference {np.max(np.abs(via_link - np.asarray(f))):.3g}",
    )


def _check_noise(name: str, y: np.ndarray, f: np.ndarray, noise_std: float) -> None:
    residual = y - f
    if noise_std == 0:
        _require(
            np.allclose(y, f, rtol=1e-10, atol=1e-10),
            f"{name}: noise_std is 0 but sample y != function(X) "
            f"(max difference {np.max(np.abs(residual)):.3g})",
        )
        return
    n = len(residual)
    sd = float(np.std(residual))
    # Var of the sample sd of Gaussian noise ~ sigma^2 / (2n).
    _require(
        abs(sd - noise_std) <= SIGMAS * noise_std / math.sqrt(2 * n),
        f"{name}: label noise sd {sd:.4g} != noise_std {noise_std:.4g}",
    )
    _require(
        abs(float(np.mean(residual))) <= SIGMAS * noise_std / math.sqrt(n),
        f"{name}: label noise has mean {np.mean(residual):.3g}, expected 0",
    )


def _large_sample_function(
    target: Any, key: jax.Array, n: int, n_variance: int, first: np.ndarray
) -> np.ndarray:
    """float64 f*(X) on ``first`` plus fresh batches of ``n`` points, >= n_variance in all."""
    parts = [first]
    for i in range(max(0, math.ceil(n_variance / n) - 1)):
        X, _ = target.sample(jax.random.fold_in(key, i), n, dtype=jnp.float64)
        parts.append(np.asarray(target.function(X), dtype=np.float64))
    return np.concatenate(parts)


def _variance_and_tail_se(values: np.ndarray) -> tuple[float, float]:
    """Sample variance and a standard error that stays honest for heavy tails.

    The standard error sqrt((m4 - var^2) / n) needs the fourth central moment m4, which
    a heavy-tailed sample underestimates exactly when it also underestimates the
    variance (the rare large values are missing). So m4 is replaced by an upper bound,
    m4 + SIGMAS * sqrt((m8 - m4^2) / n): for light tails this changes little at large n.
    """
    c = values - values.mean()
    scale = float(np.sqrt(np.mean(c**2))) or 1.0
    u = (c / scale) ** 2  # scaled to keep u^4 finite
    var, m4, m8 = float(np.mean(u)), float(np.mean(u**2)), float(np.mean(u**4))
    n = len(values)
    m4_upper = m4 + SIGMAS * math.sqrt(max(m8 - m4**2, 0.0) / n)
    se = math.sqrt(max(m4_upper - var**2, 0.0) / n)
    return var * scale**2, se * scale**2


def _variance_and_se(values: np.ndarray) -> tuple[float, float]:
    """Sample variance and its standard error sqrt((m4 - var^2) / n)."""
    c = values - values.mean(axis=0)
    var = np.mean(c**2, axis=0)
    se = np.sqrt(np.maximum(np.mean(c**4, axis=0) - var**2, 0.0) / len(values))
    return var, se


def _check_standardization(target: Any, name: str, X: jax.Array, meta: Mapping[str, Any]) -> None:
    if "normalization" not in meta:
        return
    center, scale = _normalization(meta)
    z = (np.asarray(target.feature(X), dtype=np.float64) - center) / scale
    n = z.shape[0]
    mean = z.mean(axis=0)
    var, se = _variance_and_se(z)
    _require(
        np.all(np.abs(mean) <= SIGMAS * np.sqrt(var / n) + 1e-12),
        f"{name}: standardized feature has mean {np.round(mean, 4)}, expected 0",
    )
    _require(
        np.all(np.abs(var - 1.0) <= SIGMAS * se + 1e-12),
        f"{name}: standardized feature has variance {np.round(var, 4)}, expected 1",
    )


def _check_energy(
    name: str,
    energy: DegreeEnergy,
    f: np.ndarray,
    large_sample_variance: Callable[[], tuple[float, float, int]],
    meta: Mapping[str, Any],
    max_degree: int,
) -> None:
    e = np.asarray(energy.energy, dtype=np.float64)
    _require(
        e.shape == (max_degree + 1,),
        f"{name}: degree_energy({max_degree}).energy shape {e.shape}, expected {(max_degree + 1,)}",
    )
    _require(
        energy.method in ("exact", "monte-carlo"),
        f"{name}: degree_energy method {energy.method!r}, expected 'exact' or 'monte-carlo'",
    )
    if energy.method == "exact":
        _require(energy.stderr is None, f"{name}: exact degree_energy must have stderr None")
        se = np.zeros_like(e)
    else:
        _require(
            energy.stderr is not None and np.shape(energy.stderr) == e.shape,
            f"{name}: monte-carlo degree_energy needs stderr of shape {e.shape}",
        )
        se = np.asarray(energy.stderr, dtype=np.float64)
    _require(
        np.all(e >= -SIGMAS * se - 1e-9),
        f"{name}: negative degree energies {np.round(e, 5)} (stderr {np.round(se, 5)})",
    )
    total_se = float(np.sqrt(np.sum(se[1:] ** 2)))
    variance = float(energy.variance)
    var_sample, var_se = _variance_and_se(f)
    known_se = getattr(energy, "variance_stderr", None)
    if energy.method == "exact" or known_se is not None:
        # An exact variance (or one with a standard error) must match the large
        # sample within the sampling errors.
        var_ref, ref_se, size = large_sample_variance()
        tol = SIGMAS * math.sqrt(ref_se**2 + float(known_se or 0.0) ** 2)
    else:
        # It may be an estimate on a budget as small as n points, with no standard error.
        var_ref, ref_se, size = var_sample, var_se, len(f)
        tol = SIGMAS * var_se + MONTE_CARLO_VARIANCE_SLACK * abs(variance)
    _require(
        abs(variance - var_ref) <= tol + 1e-9,
        f"{name}: degree_energy variance {variance:.4g} but the sample Var f* is "
        f"{var_ref:.4g} (standard error {ref_se:.2g} on {size} points)",
    )
    mean = float(f.mean())
    mean_se = math.sqrt(var_sample / len(f))
    _require(
        abs(e[0] - mean**2) <= SIGMAS * (se[0] + 2 * abs(mean) * mean_se + mean_se**2) + 1e-9,
        f"{name}: degree-0 energy {e[0]:.4g} != (E f*)^2 ~ {mean**2:.4g}",
    )
    total = float(np.sum(e[1:]))
    tol = SIGMAS * total_se + 1e-6 * max(1.0, abs(variance))
    _require(
        total <= variance + tol,
        f"{name}: degree energies 1..{max_degree} sum to {total:.4g} > Var f* = {variance:.4g}",
    )
    fdeg, ldeg = meta.get("feature_degree"), meta.get("link_degree")
    if isinstance(fdeg, int) and isinstance(ldeg, int) and fdeg * ldeg <= max_degree:
        _require(
            abs(total - variance) <= tol,
            f"{name}: f* has degree <= {fdeg * ldeg} but its degree energies sum to "
            f"{total:.4g}, not Var f* = {variance:.4g}",
        )
