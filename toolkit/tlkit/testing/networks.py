"""Contract check for architectures: run it on every network a plugin registers.

Example::

    from tlkit.testing import check_architecture
    model = my_factory(d=8, seed=0, dtype="float32")
    check_architecture(model, d=8, factory=my_factory, params={})
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx


def _fail(message: str) -> None:
    raise AssertionError(f"check_architecture: {message}")


def check_architecture(
    model: Any,
    d: int,
    *,
    factory: Callable[..., Any] | None = None,
    params: Mapping[str, Any] | None = None,
    n: int = 16,
    seed: int = 0,
    dtype: str = "float32",
) -> None:
    """Check that ``model`` satisfies :class:`tlkit.types.Network` and restores from state.

    Checks, in order: it is an ``nnx.Module``; ``model(X)`` has shape ``(n,)``, the
    model's dtype and finite values, and is the same eagerly and under ``nnx.jit``;
    ``representations(X)`` is a non-empty dict of finite ``(n, width)`` arrays;
    ``learned_feature(X)``, if defined, is None or a finite ``(n,)`` array. With
    ``factory``, a model built with *another* seed and then given ``model``'s state
    (``nnx.state`` -> pure dict -> ``nnx.update``, what the host's save/load does)
    must give identical outputs: every random quantity is an ``nnx.Variable``.

    Args:
        model: the network to check.
        d: its input dimension.
        factory: the architecture factory, for the save/restore check.
        params: the factory's own parameters (besides ``d``, ``seed``, ``dtype``).
        n: number of random inputs.
        seed: seed of the random inputs; the rebuild uses ``seed + 1``.
        dtype: the working dtype (``"float32"`` or ``"float64"``).

    Raises:
        AssertionError: naming the first violated rule.
    """
    if not isinstance(model, nnx.Module):
        _fail(f"expected a flax.nnx.Module, got {type(model).__name__}")
    dt = jnp.dtype(dtype)
    g = jax.random.normal(jax.random.PRNGKey(seed), (n, d), dtype=dt)
    # inputs on the sphere of radius sqrt(d): the scale every tlkit target uses
    X = g / jnp.linalg.norm(g, axis=1, keepdims=True) * jnp.sqrt(jnp.asarray(d, dtype=dt))
    out = model(X)
    if out.shape != (n,):
        _fail(f"model(X) has shape {out.shape}, expected ({n},)")
    if out.dtype != dt:
        _fail(f"model(X) has dtype {out.dtype}, expected {dt}")
    if not bool(jnp.all(jnp.isfinite(out))):
        _fail("model(X) is not finite at initialization")
    jitted = nnx.jit(lambda m, x: m(x))(model, X)
    tol = 1e-5 if dt == jnp.float32 else 1e-12
    np.testing.assert_allclose(
        np.asarray(jitted),
        np.asarray(out),
        rtol=tol,
        atol=tol,
        err_msg="check_architecture: nnx.jit(model)(X) differs from model(X)",
    )
    reps = model.representations(X)
    if not isinstance(reps, dict) or not reps:
        _fail("representations(X) must be a non-empty dict {layer: (n, width)}")
    for name, h in reps.items():
        if not isinstance(name, str):
            _fail(f"layer names must be strings, got {name!r}")
        if h.ndim != 2 or h.shape[0] != n:
            _fail(f"representations(X)[{name!r}] has shape {h.shape}, expected ({n}, width)")
        if not bool(jnp.all(jnp.isfinite(h))):
            _fail(f"representations(X)[{name!r}] is not finite")
    if hasattr(model, "learned_feature"):
        phi = model.learned_feature(X)
        if phi is not None and (phi.shape != (n,) or not bool(jnp.all(jnp.isfinite(phi)))):
            _fail(f"learned_feature(X) must be None or finite of shape ({n},), got {phi.shape}")
    if factory is not None:
        # the same round trip as tlkit.pipeline's save and load_run
        pure = nnx.to_pure_dict(nnx.state(model))
        other = factory(d=d, seed=seed + 1, dtype=dtype, **dict(params or {}))
        restored_state = nnx.state(other)
        nnx.replace_by_pure_dict(restored_state, pure)
        nnx.update(other, restored_state)
        np.testing.assert_array_equal(
            np.asarray(other(X)),
            np.asarray(out),
            err_msg="check_architecture: a rebuilt model with the saved state differs; "
            "is every random quantity an nnx.Variable?",
        )
