"""Shared machinery of the first-party targets: sampling, noise, standardization.

A target here is ``f*(x) = g*((h*(x) - center) / scale)``: ``feature`` returns the raw
ground-truth feature h*, ``metadata()["normalization"]`` gives ``feature_center`` and
``feature_scale`` (exact constants that make the feature mean 0 and variance 1 under
the input distribution), and ``link`` is applied to the standardized value.

Targets are JAX pytrees. Their leaves are the seed-drawn ground-truth arrays named in
``_array_fields`` (beta, A, signs, ...); everything else is static and compared by
value. ``sample`` and ``function`` run module-level jitted programs that take the
target as an argument, so targets of one family and shape that differ only in their
seed share one compiled program per input shape and dtype (issue 6): a sweep over
seeds compiles once, not once per seed.
"""

from __future__ import annotations

import functools
import math
from typing import Any, ClassVar

import jax
import jax.numpy as jnp
import numpy as np
from tlkit.types import DegreeEnergy

from tlkit_targets import energy, sampling
from tlkit_targets._checks import check_int, check_nonnegative

#: fold_in tag of the key stream used for Monte Carlo degree energies.
_ENERGY_STREAM = 0x5EED


class HierarchicalTarget:
    """Base class: ``f* = g*(standardized h*)`` plus optional Gaussian label noise.

    Subclasses set ``input_distribution``, ``feature_center``, ``feature_scale`` and
    implement :meth:`feature`, :meth:`link` and :meth:`_metadata`. A subclass lists
    the attributes that hold its seed-drawn arrays in ``_array_fields`` (they become
    the pytree's leaves, i.e. traced inputs of the compiled programs) and the
    attributes that ``sample``/``function`` never read in ``_unkeyed_fields`` (they
    are carried along but do not select a compiled program). Every other attribute
    is part of the program's static key, so it must be equal across seeds for the
    seeds to share a program; a forgotten seed-dependent attribute costs extra
    compilations, never a wrong result.

    When a target is rebuilt from leaves and a tree structure (``jax.tree.unflatten``,
    or inside a jitted function), the unkeyed attributes (``seed``, ``params``, ...)
    come from the target that produced the tree structure, which may be another seed
    of the same family.
    """

    input_distribution: str = sampling.GAUSSIAN
    feature_center: Any = 0.0
    feature_scale: Any = 1.0
    #: whether the family makes Var f* = 1 exactly (checked by check_target)
    normalized: bool = False
    #: attributes holding seed-drawn arrays: the pytree leaves
    _array_fields: ClassVar[tuple[str, ...]] = ()
    #: attributes that sample() and function() do not use (bookkeeping, metadata)
    _unkeyed_fields: ClassVar[tuple[str, ...]] = ("seed", "params", "_energy_cache")

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        # The pytree registry matches exact types, so every subclass registers itself.
        _register_pytree(cls)

    def __init__(self, d: int, seed: int, noise_std: float, params: dict[str, Any]) -> None:
        self.d = check_int("d", d, 1)
        self.seed = check_int("seed", seed, 0)
        self.noise_std = check_nonnegative("noise_std", noise_std)
        self.params: dict[str, Any] = dict(params)
        self._energy_cache: dict[tuple[int, int, int], DegreeEnergy] = {}

    # -- the Target protocol -------------------------------------------------------
    def sample(
        self, key: jax.Array, n: int, dtype: Any = jnp.float32
    ) -> tuple[jax.Array, jax.Array]:
        """Draw ``n`` inputs and (noisy) labels in ``dtype``; jittable with n, dtype static."""
        return _sample_program(self, key, n, jnp.dtype(dtype))

    def _sample(self, key: jax.Array, n: int, dtype: Any) -> tuple[jax.Array, jax.Array]:
        kx, kn = jax.random.split(key)
        X = sampling.draw(self.input_distribution, kx, n, self.d, dtype)
        y = self.function(X)
        if self.noise_std > 0:
            y = y + jnp.asarray(self.noise_std, dtype) * jax.random.normal(kn, (n,), dtype)
        return X, y

    def function(self, X: jax.Array) -> jax.Array:
        """The noiseless target ``g*((h*(X) - center) / scale)``, shape ``(n,)``."""
        return _function_program(self, X)

    def _function(self, X: jax.Array) -> jax.Array:
        return self.link(self.standardize(self.feature(X)))

    def standardize(self, h: jax.Array) -> jax.Array:
        """``(h - feature_center) / feature_scale`` in ``h``'s dtype."""
        center = jnp.asarray(self.feature_center, dtype=h.dtype)
        scale = jnp.asarray(self.feature_scale, dtype=h.dtype)
        return (h - center) / scale

    def feature(self, X: jax.Array) -> jax.Array:  # pragma: no cover - abstract
        raise NotImplementedError

    def link(self, z: jax.Array) -> jax.Array:  # pragma: no cover - abstract
        raise NotImplementedError

    def metadata(self) -> dict[str, Any]:
        """Input distribution, d, degrees, normalization constants, noise level."""
        meta: dict[str, Any] = {
            "input_distribution": self.input_distribution,
            "d": self.d,
            "noise_std": self.noise_std,
            "normalized": self.normalized,
            "normalization": {
                "feature_center": _jsonable(self.feature_center),
                "feature_scale": _jsonable(self.feature_scale),
            },
        }
        meta.update(self._metadata())
        return meta

    def _metadata(self) -> dict[str, Any]:  # pragma: no cover - abstract
        raise NotImplementedError

    def degree_energy(
        self, max_degree: int = 6, *, batch_size: int = 1024, n_batches: int = 64
    ) -> DegreeEnergy:
        """Energy of f* per degree 0..max_degree (exact where known, else Monte Carlo).

        The Monte Carlo estimate uses its own key stream derived from ``seed``, so it
        is reproducible; its cost grows like ``n_batches * batch_size**2``.
        """
        check_int("max_degree", max_degree, 0)
        key = (max_degree, batch_size, n_batches)
        if key not in self._energy_cache:
            self._energy_cache[key] = self._degree_energy(max_degree, batch_size, n_batches)
        return self._energy_cache[key]

    # -- helpers for subclasses ----------------------------------------------------
    def _degree_energy(self, max_degree: int, batch_size: int, n_batches: int) -> DegreeEnergy:
        base = jax.random.fold_in(jax.random.PRNGKey(self.seed), _ENERGY_STREAM)

        def sample(b: int, n: int) -> np.ndarray:
            return np.asarray(self.sample(jax.random.fold_in(base, b), n, jnp.float64)[0])

        def f(X: np.ndarray) -> np.ndarray:
            return np.asarray(self.function(jnp.asarray(X, dtype=jnp.float64)))

        return energy.monte_carlo_energy(
            f,
            sample,
            self.input_distribution,
            self.d,
            max_degree,
            batch_size=batch_size,
            n_batches=n_batches,
            variance=self._exact_variance(),
        )

    def _exact_variance(self) -> float | None:
        """Exact Var f* when the family knows it, else None (estimated)."""
        return None


class _StaticPart:
    """Aux data of a target pytree: equal (and hashed) by ``key`` only.

    ``attrs`` holds all non-array attributes so that unflattening rebuilds a complete
    target; ``key`` summarizes those that shape the computation. JAX selects compiled
    programs by comparing aux data, so two seeds of one cell compare equal here.
    """

    __slots__ = ("attrs", "key")

    def __init__(self, key: tuple[Any, ...], attrs: dict[str, Any]) -> None:
        self.key = key
        self.attrs = attrs

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _StaticPart) and self.key == other.key

    def __hash__(self) -> int:
        return hash(self.key)

    def __repr__(self) -> str:
        return f"_StaticPart({self.key[0].__name__})"


def _freeze(value: Any) -> Any:
    """A hashable value-based summary of a static attribute (recursing into objects)."""
    if value is None or isinstance(value, bool | int | str):
        return (type(value).__name__, value)
    if isinstance(value, float):
        # hex() tells 0.0 from -0.0, which == does not.
        return ("float", value.hex())
    if isinstance(value, np.ndarray | np.generic | jax.Array):
        a = np.asarray(value)
        return ("array", a.dtype.str, a.shape, a.tobytes())
    if isinstance(value, list | tuple):
        return (type(value).__name__, tuple(_freeze(v) for v in value))
    if isinstance(value, dict):
        return ("dict", tuple(sorted((k, _freeze(v)) for k, v in value.items())))
    if hasattr(value, "__dict__"):  # e.g. a ScalarLink: its state fixes what it computes
        return (type(value), _freeze(vars(value)))
    hash(value)  # anything else must be hashable to serve as a static key
    return (type(value), value)


def _flatten(target: HierarchicalTarget) -> tuple[tuple[Any, ...], _StaticPart]:
    cls = type(target)
    children = tuple(getattr(target, name) for name in cls._array_fields)
    attrs = {k: v for k, v in vars(target).items() if k not in cls._array_fields}
    keyed = {k: v for k, v in attrs.items() if k not in cls._unkeyed_fields}
    return children, _StaticPart((cls, _freeze(keyed)), attrs)


def _flatten_with_keys(
    target: HierarchicalTarget,
) -> tuple[tuple[tuple[Any, Any], ...], _StaticPart]:
    children, aux = _flatten(target)
    names = type(target)._array_fields
    keyed = tuple((jax.tree_util.GetAttrKey(k), c) for k, c in zip(names, children, strict=True))
    return keyed, aux


def _unflatten(cls: Any, aux: _StaticPart, children: Any) -> Any:
    target: Any = object.__new__(cls)
    target.__dict__.update(aux.attrs)
    # A rebuilt target holds other arrays, so it must not share cached energies.
    target._energy_cache = {}
    for name, child in zip(cls._array_fields, children, strict=True):
        setattr(target, name, child)
    return target


def _register_pytree(cls: type) -> None:
    jax.tree_util.register_pytree_with_keys(
        cls, _flatten_with_keys, functools.partial(_unflatten, cls), _flatten
    )


_register_pytree(HierarchicalTarget)


@functools.partial(jax.jit, static_argnums=(2, 3))
def _sample_program(
    target: HierarchicalTarget, key: jax.Array, n: int, dtype: Any
) -> tuple[jax.Array, jax.Array]:
    # Module-level, so the jit cache is keyed by the target's static part and the
    # shapes of its arrays, not by the instance: seeds of one cell share the program.
    return target._sample(key, n, dtype)


@jax.jit
def _function_program(target: HierarchicalTarget, X: jax.Array) -> jax.Array:
    # One compiled program per (target static part, input shape); eager evaluation
    # would compile every op.
    return target._function(X)


def _jsonable(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return value.tolist()
    return float(value)


def random_orthogonal(key: jax.Array, d: int, k: int | None = None) -> np.ndarray:
    """A Haar-random ``d x k`` matrix with orthonormal columns (float64 NumPy)."""
    k = d if k is None else k
    g = np.asarray(jax.random.normal(key, (d, k), dtype=jnp.float64))
    q, r = np.linalg.qr(g)
    # Sign fix makes the QR factor Haar-distributed (Mezzadri 2007).
    return q * np.sign(np.diag(r))[None, :]


def sphere_standard_deviation(d: int) -> float:
    """sqrt(E[(x^T A x)^2]) = sqrt(2d/(d+2)) for x uniform on S^{d-1}(sqrt d), tr A = 0,
    ||A||_F = 1."""
    return math.sqrt(2.0 * d / (d + 2.0))
