"""Joint training of every trainable weight with optax (Adam or SGD), both depths.

Loss ``½ mean (f - y)²`` over minibatches drawn with replacement from the training
set with ``data.key``. Trained: W and a (b too with ``train_bias``); V stays fixed.

Parametrizations [recon] (the output already carries the mean-field factor 1/m, i.e.
µP's output scaling, and random W is N(0, 1/fan_in)):

* ``standard``: one learning rate for every weight.
* ``mup`` (Yang & Hu, Tensor Programs V, tables for Adam and SGD): Adam scales the
  learning rate of hidden matrices by 1/fan_in (the three-layer W, fan_in = m2);
  SGD multiplies the learning rate of the output weights by their width (m1 or m)
  and of the two-layer input weights by m, so each step moves f by O(lr) at any width.

Learning rate: ``lr`` is one value or a grid. Every value of a grid is trained from the
same initialization on the same minibatches, and the one with the lowest final
validation MSE is kept (diverged values never win); the curves of all values are
recorded over ``(lr, step)``, and the chosen value is in the stage report. The grid
runs inside the compiled call, one value after another, so memory does not grow with it.

The Wang et al. protocol (m1 = d², m2 = 1000, σ1 = z³, σ2 = ReLU, µP, Adam) is the
architecture ``three-layer-wang`` trained by this trainer with its defaults.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import jax
import jax.numpy as jnp
import numpy as np
import optax
from tlkit.dims import LEARNING_RATE, STEP
from tlkit.errors import ParameterError
from tlkit.numerics.activations import get_activation
from tlkit.types import FitReport, ProbeOutput, StageReport, TrainData

from tlkit_nets._checks import (
    choice,
    nonnegative_int,
    positive_float,
    positive_grid,
    positive_int,
)
from tlkit_nets.batching import SeedBatchedTrainer, stack_seeds, unstack_seeds
from tlkit_nets.grids import grid_edge
from tlkit_nets.three_layer import ThreeLayer, three_layer
from tlkit_nets.two_layer import TwoLayer

Array = jax.Array


@dataclass(frozen=True)
class _Config:
    depth: int
    width_out: int  # m1 (three-layer) or m (two-layer)
    fan_in_w: int  # m2 (three-layer) or d (two-layer)
    sigma_out: str
    sigma_in: str
    optimizer: str
    lrs: tuple[float, ...]
    steps: int
    batch_size: int
    weight_decay: float
    parametrization: str
    train_bias: bool
    eval_every: int


def _forward(cfg: _Config, params: dict[str, Array], fixed: dict[str, Array], X: Array) -> Array:
    s_out = get_activation(cfg.sigma_out)
    if cfg.depth == 3:
        h0 = get_activation(cfg.sigma_in)(X @ fixed["V"].T)
        h = s_out(h0 @ params["W"].T + params["b"] + fixed["offset"])
    else:
        h = s_out(X @ params["W"].T + params["b"])
    return h @ params["a"] / cfg.width_out


def _lr_multipliers(cfg: _Config) -> dict[str, float]:
    if cfg.parametrization == "standard":
        return {"W": 1.0, "a": 1.0, "b": 1.0}
    if cfg.optimizer == "adam":
        return {"W": 1.0 / cfg.fan_in_w if cfg.depth == 3 else 1.0, "a": 1.0, "b": 1.0}
    # SGD under µP: gradients of 1/m-scaled weights shrink with width; undo it
    return {
        "W": 1.0 if cfg.depth == 3 else float(cfg.width_out),
        "a": float(cfg.width_out),
        "b": 1.0 if cfg.depth == 3 else float(cfg.width_out),
    }


def _optimizer(cfg: _Config, lr: Array) -> optax.GradientTransformation:
    """The optimizer at base learning rate ``lr`` (a traced scalar: one compile per grid)."""
    mult = _lr_multipliers(cfg)

    def one(lr: Array) -> optax.GradientTransformation:
        if cfg.optimizer == "adam":
            return optax.adamw(lr, weight_decay=cfg.weight_decay)
        return optax.chain(optax.add_decayed_weights(cfg.weight_decay), optax.sgd(lr))

    labels = {"W": "W", "a": "a", "b": "b" if cfg.train_bias else "frozen"}
    transforms = {k: one(lr * mult[k]) for k in ("W", "a", "b")}
    transforms["frozen"] = optax.set_to_zero()
    return optax.multi_transform(transforms, labels)


def _core(
    cfg: _Config,
    params: dict[str, Array],
    fixed: dict[str, Array],
    X: Array,
    y: Array,
    X_val: Array,
    y_val: Array,
    key: Array,
) -> tuple[dict[str, Array], Array, Array, Array]:
    """Train every learning rate of the grid; keep the best by final validation MSE.

    Returns the chosen parameters, the training and validation curves ``(L, chunks)``
    of all ``L`` learning rates, and the index of the chosen one.
    """
    n = X.shape[0]
    chunk_keys = jax.random.split(key, cfg.steps // cfg.eval_every)

    def loss(p: dict[str, Array], xb: Array, yb: Array) -> Array:
        return 0.5 * jnp.mean((_forward(cfg, p, fixed, xb) - yb) ** 2)

    def train(lr: Array) -> tuple[dict[str, Array], Array, Array]:
        tx = _optimizer(cfg, lr)

        def step(carry: tuple, k: Array) -> tuple[tuple, Array]:
            p, state = carry
            idx = jax.random.randint(k, (cfg.batch_size,), 0, n)
            value, grads = jax.value_and_grad(loss)(p, X[idx], y[idx])
            updates, state = tx.update(grads, state, p)
            return (optax.apply_updates(p, updates), state), value

        def chunk(carry: tuple, k: Array) -> tuple[tuple, tuple[Array, Array]]:
            carry, values = jax.lax.scan(step, carry, jax.random.split(k, cfg.eval_every))
            val = jnp.mean((_forward(cfg, carry[0], fixed, X_val) - y_val) ** 2)
            return carry, (2 * jnp.mean(values), val)

        (trained, _), (train_curve, val_curve) = jax.lax.scan(
            chunk, (params, tx.init(params)), chunk_keys
        )
        return trained, train_curve, val_curve

    # lax.map, not vmap: one learning rate at a time keeps memory flat in the grid size
    lrs = jnp.asarray(cfg.lrs, dtype=y.dtype)
    trained, train_curves, val_curves = jax.lax.map(train, lrs)
    final = val_curves[:, -1]
    best = jnp.argmin(jnp.where(jnp.isfinite(final), final, jnp.inf))
    chosen = jax.tree.map(lambda p: p[best], trained)
    return chosen, train_curves, val_curves, best


_core_jit = jax.jit(_core, static_argnums=0)
_core_many = jax.jit(jax.vmap(_core, in_axes=(None,) + (0,) * 7), static_argnums=0)


def _split(model: Any) -> tuple[dict[str, Array], dict[str, Array]]:
    params = {"W": model.W[...], "a": model.a[...], "b": model.b[...]}
    fixed = (
        {"V": model.V[...], "offset": model.offset[...]} if isinstance(model, ThreeLayer) else {}
    )
    return params, fixed


def _train(cfg: _Config, splits: Sequence[tuple], datas: Sequence[TrainData]) -> list[tuple]:
    """Every seed trained at every learning rate of ``cfg.lrs``; per-seed host results."""
    if len(splits) == 1:
        (p, f), dt = splits[0], datas[0]
        out = _core_jit(cfg, p, f, dt.X, dt.y, dt.X_val, dt.y_val, dt.key)
        return [jax.tree.map(np.asarray, out)]
    out = _core_many(
        cfg,
        stack_seeds([s[0] for s in splits]),
        stack_seeds([s[1] for s in splits]),
        *(stack_seeds([getattr(d, f) for d in datas]) for f in ("X", "y", "X_val", "y_val")),
        stack_seeds([d.key for d in datas]),
    )
    return list(unstack_seeds(out, len(splits)))


def _edge_of(lrs: Sequence[float], out: tuple) -> str:
    """Which end of the grid a seed's choice sits at ("" inside, or when it diverged)."""
    _, _, val_curves, best = out
    return grid_edge(lrs, int(best)) if np.isfinite(val_curves[int(best), -1]) else ""


def _beyond_edges(lrs: Sequence[float], outs: Sequence[tuple]) -> dict[str, float]:
    """One learning rate past each end of the grid that some seed chose.

    The step past an end is the grid's own ratio there, kept within [2, 10].
    """
    ordered = sorted(lrs)
    edges = {_edge_of(lrs, out) for out in outs}
    beyond = {}
    if "lowest" in edges:
        beyond["lowest"] = ordered[0] / float(np.clip(ordered[1] / ordered[0], 2, 10))
    if "highest" in edges:
        beyond["highest"] = ordered[-1] * float(np.clip(ordered[-1] / ordered[-2], 2, 10))
    return beyond


def _merge_grids(
    cfg: _Config, outs: Sequence[tuple], edge: str, value: float, extra: Sequence[tuple]
) -> tuple[_Config, list[tuple]]:
    """Add ``value``, trained for every seed, to the grid (kept sorted).

    A seed takes it only if its own choice sat at ``edge`` and the new value's final
    validation MSE is finite and strictly lower: a seed trained alone (no vmapped
    neighbours whose choices extend the grid) then makes the same choice.
    """
    lrs = (*cfg.lrs, value)
    order = np.argsort(lrs, kind="stable")
    position = np.empty_like(order)
    position[order] = np.arange(len(order))  # where each value lands in the sorted grid
    merged = []
    for out, (params2, train2, val2, _) in zip(outs, extra, strict=True):
        params, train, val, best = out
        first, second = val[int(best), -1], val2[0, -1]
        take = bool(
            _edge_of(cfg.lrs, out) == edge
            and np.isfinite(second)
            and not (np.isfinite(first) and first <= second)
        )
        chosen = int(position[len(cfg.lrs)] if take else position[int(best)])
        merged.append(
            (
                params2 if take else params,
                np.concatenate([train, train2])[order],
                np.concatenate([val, val2])[order],
                chosen,
            )
        )
    return dataclasses.replace(cfg, lrs=tuple(float(lrs[i]) for i in order)), merged


class Joint(SeedBatchedTrainer):
    """Train all weights jointly with Adam or SGD (see the module docstring)."""

    stages: Sequence[str] = ("joint",)

    def __init__(self, **options: Any) -> None:
        self.options = options

    def _config(self, model: Any) -> _Config:
        o = self.options
        if isinstance(model, ThreeLayer):
            if model.m2 is None:
                raise ParameterError("trainer 'joint' needs a finite m2 (m2=None has no W)")
            depth, width, fan, s_out, s_in = (
                3,
                model.m1,
                model.m2,
                model.sigma1_name,
                (model.sigma2_name),
            )
        elif isinstance(model, TwoLayer):
            depth, width, fan, s_out, s_in = 2, model.m, model.d, model.sigma_name, "identity"
        else:
            raise ParameterError(
                f"trainer 'joint' needs a two- or three-layer network, got {type(model).__name__}"
            )
        eval_every = min(o["eval_every"], o["steps"])
        return _Config(
            depth,
            width,
            fan,
            s_out,
            s_in,
            o["optimizer"],
            o["lr"],
            (o["steps"] // eval_every) * eval_every,
            o["batch_size"],
            o["weight_decay"],
            o["parametrization"],
            o["train_bias"],
            eval_every,
        )

    def fit_many(
        self,
        models: Sequence[Any],
        datas: Sequence[TrainData],
        on_stage: Callable[[StageReport], None],
    ) -> list[FitReport]:
        """Train several seeds of one configuration in one compiled, vmapped call.

        With ``lr_extend`` > 0, a grid whose chosen value sits at an end for some seed
        is extended by one value past that end, trained for all seeds (same
        initialization and minibatches), up to ``lr_extend`` times; a seed takes the new
        value only if its own choice was at that end, so it chooses as it would alone.
        """
        cfg = self._config(models[0])
        splits = [_split(m) for m in models]
        outs = _train(cfg, splits, datas)
        for _ in range(self.options["lr_extend"] if len(cfg.lrs) > 1 else 0):
            beyond = _beyond_edges(cfg.lrs, outs)
            for edge, value in beyond.items():
                extra = _train(dataclasses.replace(cfg, lrs=(value,)), splits, datas)
                cfg, outs = _merge_grids(cfg, outs, edge, value, extra)
            if not beyond:
                break
        return [self._finish(m, o, cfg, on_stage) for m, o in zip(models, outs, strict=True)]

    def _finish(
        self, model: Any, out: tuple, cfg: _Config, on_stage: Callable[[StageReport], None]
    ) -> FitReport:
        params, train_curves, val_curves, best = out
        best = int(best)
        val, train = val_curves[best], train_curves[best]
        steps = [cfg.eval_every * (i + 1) for i in range(val_curves.shape[1])]
        coords: dict[str, list[Any]] = {LEARNING_RATE: list(cfg.lrs), STEP: steps}
        curves = {
            "train_mse": ProbeOutput(
                train_curves,
                (LEARNING_RATE, STEP),
                coords,
                long_name="minibatch training MSE (mean over the interval)",
            ),
            "val_mse": ProbeOutput(
                val_curves, (LEARNING_RATE, STEP), coords, long_name="validation MSE"
            ),
        }
        choices = {
            k: self.options[k]
            for k in ("optimizer", "parametrization", "train_bias", "weight_decay", "batch_size")
        }
        choices["lr_grid"] = list(cfg.lrs)
        choices["lr_extend"] = self.options["lr_extend"]
        choices["lr_selection"] = "lowest final validation MSE"
        choices["steps"] = cfg.steps
        choices["lr_multipliers"] = _lr_multipliers(cfg)
        finite = bool(np.all(np.isfinite(val))) and all(
            np.all(np.isfinite(v)) for v in params.values()
        )
        info: dict[str, Any] = {}
        if finite:
            info = {
                "lr": cfg.lrs[best],
                "lr_at_grid_edge": grid_edge(cfg.lrs, best),
                "val_mse": float(val[-1]),
                "train_mse": float(train[-1]),
                "lr_grid_diverged": int((~np.isfinite(val_curves[:, -1])).sum()),
            }
        report = StageReport("joint", info=info, curves=curves)
        on_stage(report)
        if not finite:
            bad = int(np.argmax(~np.isfinite(val))) if not np.all(np.isfinite(val)) else -1
            where = f" (first at step {steps[bad]})" if bad >= 0 else ""
            grid = " at every learning rate of the grid" if len(cfg.lrs) > 1 else ""
            reason = f"training diverged{grid}: NaN/inf loss{where}"
            return FitReport("failed", reason, [report], choices)
        model.W[...] = jnp.asarray(params["W"], dtype=model.dtype)
        model.a[...] = jnp.asarray(params["a"], dtype=model.dtype)
        model.b[...] = jnp.asarray(params["b"], dtype=model.dtype)
        return FitReport("ok", None, [report], choices)


def joint(
    *,
    optimizer: Literal["adam", "sgd"] = "adam",
    lr: float | tuple[float, ...] = 1e-3,
    steps: int = 2000,
    batch_size: int = 256,
    weight_decay: float = 0.0,
    parametrization: Literal["mup", "standard"] = "mup",
    train_bias: bool = False,
    eval_every: int = 100,
    lr_extend: int = 0,
) -> Joint:
    """Joint training with optax.

    Args:
        optimizer: ``adam`` (AdamW when ``weight_decay > 0``) or ``sgd``.
        lr: base learning rate, or a grid of them: each is trained and the one with
            the lowest final validation MSE is kept.
        steps: optimization steps (rounded down to a multiple of ``eval_every``).
        batch_size: minibatch size (sampled with replacement).
        weight_decay: decoupled weight decay.
        parametrization: ``mup`` or ``standard`` per-layer learning rates [recon].
        train_bias: also train b.
        eval_every: steps between the recorded losses.
        lr_extend: when the chosen learning rate is at an end of the grid, train one
            more value past that end (the grid's ratio there, within [2, 10]) and keep
            the better; repeat up to this many times. The recorded grid and curves
            include the added values.
    """
    choice("optimizer", optimizer, ("adam", "sgd"))
    choice("parametrization", parametrization, ("mup", "standard"))
    lrs = positive_grid("lr", lr if isinstance(lr, list | tuple) else (lr,))
    positive_int("steps", steps)
    positive_int("batch_size", batch_size)
    positive_float("weight_decay", weight_decay, allow_zero=True)
    positive_int("eval_every", eval_every)
    nonnegative_int("lr_extend", lr_extend)
    return Joint(
        optimizer=optimizer,
        lr=lrs,
        steps=steps,
        batch_size=batch_size,
        weight_decay=weight_decay,
        parametrization=parametrization,
        train_bias=train_bias,
        eval_every=eval_every,
        lr_extend=lr_extend,
    )


def three_layer_wang(
    *,
    d: int,
    seed: int,
    dtype: str = "float32",
    m2: int = 1000,
    bias_scale: float = 1.0,
    sigma2: str = "relu",
) -> ThreeLayer:
    """The Wang et al. (ICLR 2024) protocol network: m1 = d², σ1 = z³, σ2 = ReLU.

    W is drawn N(0, 1/m2) for joint training (µP). Train it with ``joint``.

    With no bias inside σ2, ReLU features σ2(Vx) carry no Hermite component of odd
    degree >= 3, so a degree-3 feature p is orthogonal to all of them (see
    docs/reproductions/wang-hierarchical.md); ``sigma2`` lets a study swap in an
    activation with a cubic component (``tanh``, ``cube``).

    Args:
        d: input dimension (from the target).
        seed: initialization seed.
        dtype: ``"float32"`` or ``"float64"``.
        m2: inner width (1000 in the protocol).
        bias_scale: scale of the uniform biases [recon].
        sigma2: inner activation (``relu`` in the protocol).
    """
    return three_layer(
        d=d,
        seed=seed,
        dtype=dtype,
        m1=d * d,
        m2=m2,
        sigma1="cube",
        sigma2=sigma2,
        w_init="gaussian",
        bias_scale=bias_scale,
    )
