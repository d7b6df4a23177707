"""Compile counts (issue 6): one program per (family, shape, n, dtype), not one per seed.

Compilations are counted through ``jax.monitoring``: JAX records one
``backend_compile`` duration event per XLA compilation, whoever triggers it, so the
count does not rely on the targets' own jit caches.
"""

from __future__ import annotations

import collections
from collections.abc import Callable, Iterator
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from tlkit_targets import (
    DepthSeparation,
    HierarchicalPolynomial,
    MultiQuadratic,
    QuadraticFeature,
    SingleIndex,
)

COMPILE_EVENT = "/jax/core/compile/backend_compile_duration"
SEEDS = (0, 1, 2, 3)
#: Sample sizes and dimensions no other test uses, so the first seed must compile.
N_SAMPLE = 53
D = 10


@pytest.fixture
def compiles() -> Iterator[collections.Counter[str]]:
    """A counter of XLA compilations, incremented while the test runs."""
    counter: collections.Counter[str] = collections.Counter()

    def listen(event: str, duration: float, **kwargs: Any) -> None:
        if event == COMPILE_EVENT:
            counter["total"] += 1

    jax.monitoring.register_event_duration_secs_listener(listen)
    try:
        yield counter
    finally:
        jax.monitoring.unregister_event_duration_listener(listen)


FAMILIES: dict[str, Callable[[int], Any]] = {
    "quadratic-feature": lambda seed: QuadraticFeature(
        d=D, a_kind="rotated-diagonal", noise_std=0.1, seed=seed
    ),
    "single-index": lambda seed: SingleIndex(d=D, link="relu", seed=seed),
    # Random signs also make the link's scale seed-dependent, so it must be traced too.
    "hierarchical-polynomial": lambda seed: HierarchicalPolynomial(d=D, k=2, q=3, seed=seed),
    "multi-quadratic": lambda seed: MultiQuadratic(d=D, r=2, a_kind="gaussian", seed=seed),
}


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_sample_compiles_once_across_seeds(family: str, compiles: collections.Counter[str]) -> None:
    # Build the targets and keys first: their construction runs eager ops of its own.
    targets = [FAMILIES[family](seed) for seed in SEEDS]
    keys = [jax.random.PRNGKey(100 + seed) for seed in SEEDS]
    jax.block_until_ready(keys)
    first = compiles["total"]
    outputs = [t.sample(k, N_SAMPLE, dtype=jnp.float32) for t, k in zip(targets, keys, strict=True)]
    jax.block_until_ready(outputs)
    sample_compiles = compiles["total"] - first
    # The seeds really differ, so a shared program is not a shared ground truth.
    assert not np.array_equal(np.asarray(outputs[0][1]), np.asarray(outputs[1][1]))
    assert sample_compiles == 1, (
        f"{family}: sample(n={N_SAMPLE}, float32) compiled {sample_compiles} times "
        f"for {len(SEEDS)} seeds; expected 1 in total"
    )


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_function_compiles_once_across_seeds(
    family: str, compiles: collections.Counter[str]
) -> None:
    targets = [FAMILIES[family](seed) for seed in SEEDS]
    X = jax.block_until_ready(jax.random.normal(jax.random.PRNGKey(7), (N_SAMPLE + 1, D)))
    first = compiles["total"]
    values = [t.function(X) for t in targets]
    jax.block_until_ready(values)
    function_compiles = compiles["total"] - first
    assert not np.array_equal(np.asarray(values[0]), np.asarray(values[1]))
    assert function_compiles == 1, (
        f"{family}: function compiled {function_compiles} times for {len(SEEDS)} seeds"
    )


def test_tree_structure_ignores_seed_only() -> None:
    """Seeds share a tree structure (hence programs); shape-defining parameters do not."""

    def structure(target: Any) -> Any:
        return jax.tree.structure(target)

    for make in FAMILIES.values():
        assert structure(make(0)) == structure(make(5))
    assert structure(DepthSeparation(d=D, seed=0)) == structure(DepthSeparation(d=D, seed=1))
    base = structure(QuadraticFeature(d=D, a_kind="gaussian", seed=0))
    for other in (
        QuadraticFeature(d=D, a_kind="gaussian", link="tanh", seed=0),
        QuadraticFeature(d=D, a_kind="gaussian", noise_std=0.5, seed=0),
        QuadraticFeature(d=D + 2, a_kind="gaussian", seed=0),
        SingleIndex(d=D, seed=0),
    ):
        assert structure(other) != base


def test_shared_program_keeps_each_targets_computation() -> None:
    """Targets that share compiled programs still compute their own f* (no stale constants)."""
    X = jax.random.normal(jax.random.PRNGKey(3), (N_SAMPLE + 2, D))
    for make in FAMILIES.values():
        for seed in (0, 1):
            t = make(seed)
            # Eager and compiled evaluation may round differently; a stale A would not.
            expected = t.link(t.standardize(t.feature(X)))
            np.testing.assert_allclose(t.function(X), expected, rtol=1e-12, atol=1e-12)
    relu, tanh = (QuadraticFeature(d=D, link=link, seed=0) for link in ("relu", "tanh"))
    tanh_eager = tanh.link(tanh.standardize(tanh.feature(X)))
    np.testing.assert_allclose(tanh.function(X), tanh_eager, rtol=1e-12, atol=1e-12)
    assert not np.array_equal(np.asarray(relu.function(X)), np.asarray(tanh.function(X)))


def test_targets_of_one_cell_vmap_as_a_batch() -> None:
    """Seeds of one cell stack into one pytree, so they can be vmapped in a single program."""
    targets = [FAMILIES["quadratic-feature"](seed) for seed in SEEDS]
    stacked = jax.tree.map(lambda *a: jnp.stack([jnp.asarray(x) for x in a]), *targets)
    keys = jnp.stack([jax.random.PRNGKey(100 + seed) for seed in SEEDS])
    _, y = jax.vmap(lambda t, k: t.sample(k, N_SAMPLE, jnp.float64))(stacked, keys)
    for i, (t, k) in enumerate(zip(targets, keys, strict=True)):
        np.testing.assert_allclose(y[i], t.sample(k, N_SAMPLE, jnp.float64)[1], rtol=1e-12)
