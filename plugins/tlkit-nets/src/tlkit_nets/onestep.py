"""Two-layer trainers: "one-step" (k gradient steps on W, then ridge on a) and
"random-features" (ridge on a only).

Stage 1 (one-step) runs ``steps`` full-batch gradient steps on W from its random
initialization on D1, loss ``(1/(2 n1)) Σ (f - y)²``, a and b fixed (Damian–Lee–
Soltanolkotabi 2022; Ba et al. 2022). With ``step_size_units="relative"`` (default,
[recon]) a step size η moves W by ``η ||W0||_F / ||G||_F`` times the first gradient
``G``'s direction scale, i.e. the first step has Frobenius norm ``η ||W0||_F``;
``"absolute"`` applies ``W ← W - η m ∇_W L`` (mean-field scaling). Stage 2 is ridge
(or GD with weight decay) on a over D2; (η, λ) are chosen on the validation set.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import jax
import jax.numpy as jnp
import numpy as np
from tlkit.dims import RIDGE, STEP_SIZE
from tlkit.errors import ParameterError
from tlkit.numerics.activations import get_activation
from tlkit.types import FitReport, ProbeOutput, StageReport, TrainData

from tlkit_nets._checks import (
    choice,
    fraction,
    nonnegative_int,
    positive_float,
    positive_grid,
    positive_int,
    positive_int_or_auto,
)
from tlkit_nets.batching import SeedBatchedTrainer, stack_seeds, unstack_seeds
from tlkit_nets.grids import grid_batch, grid_edge, map_grid
from tlkit_nets.layerwise import DEFAULT_RIDGES, json_numbers, split_sizes
from tlkit_nets.stage2 import Stage2Spec, fit_output_weights, validation_mse
from tlkit_nets.two_layer import TwoLayer

Array = jax.Array

DEFAULT_STEP_SIZES = (0.125, 0.25, 0.5, 1.0, 2.0, 4.0)


@dataclass(frozen=True)
class _Config:
    n1: int
    n2: int
    m: int
    sigma: str
    steps: int
    step_sizes: tuple[float, ...]
    step_size_units: str
    stage2: Stage2Spec
    step_batch: int


def _stage1_loss(W: Array, b: Array, a: Array, X: Array, y: Array, sigma: Any, m: int) -> Array:
    return 0.5 * jnp.mean((sigma(X @ W.T + b) @ a / m - y) ** 2)


def _core(
    cfg: _Config, W0: Array, b: Array, a: Array, X: Array, y: Array, X_val: Array, y_val: Array
) -> dict[str, Array]:
    sigma = get_activation(cfg.sigma)
    X1, y1 = X[: cfg.n1], y[: cfg.n1]
    X2, y2 = X[cfg.n1 : cfg.n1 + cfg.n2], y[cfg.n1 : cfg.n1 + cfg.n2]
    grad = jax.grad(_stage1_loss)
    if cfg.steps == 0:  # random features: no stage 1, D1 is empty
        unit = jnp.ones((), dtype=W0.dtype)
    elif cfg.step_size_units == "relative":
        G0 = grad(W0, b, a, X1, y1, sigma, cfg.m)
        unit = jnp.linalg.norm(W0) / jnp.maximum(jnp.linalg.norm(G0), jnp.finfo(W0.dtype).tiny)
    else:
        unit = jnp.asarray(cfg.m, dtype=W0.dtype)

    def stage1(step: Array) -> Array:
        def one(W: Array, _: None) -> tuple[Array, None]:
            return W - step * unit * grad(W, b, a, X1, y1, sigma, cfg.m), None

        W, _ = jax.lax.scan(one, W0, None, length=cfg.steps)
        return W

    def features(W: Array, Xs: Array) -> Array:
        return sigma(Xs @ W.T + b) / cfg.m

    def evaluate(step: Array) -> tuple[Array, Array, Array]:
        W = stage1(step)
        A, lam = fit_output_weights(features(W, X2), y2, a, cfg.stage2)
        return validation_mse(features(W, X_val), y_val, A), A, lam

    steps = jnp.asarray(cfg.step_sizes, dtype=W0.dtype)
    # as in layer-wise: step_batch step sizes at a time (memory vs batched eigh), and
    # every grid point's weights kept so the chosen pair needs no second eigh
    val, A_grid, lam_grid = map_grid(evaluate, steps, cfg.step_batch)
    flat = jnp.where(jnp.isfinite(val), val, jnp.inf).reshape(-1)
    best = jnp.argmin(flat)
    i_step, i_ridge = best // val.shape[1], best % val.shape[1]
    W = stage1(steps[i_step])  # k gradient steps again: cheap next to an eigh
    Phi2 = features(W, X2)
    a_new = A_grid[i_step, i_ridge]
    return {
        "val_mse": val,
        "i_step": i_step,
        "i_ridge": i_ridge,
        "ridge_abs": lam_grid[i_step, i_ridge],
        "W": W,
        "a": a_new,
        "unit": unit,
        "train_mse": jnp.mean((Phi2 @ a_new - y2) ** 2),
    }


_core_jit = jax.jit(_core, static_argnums=0)
_core_many = jax.jit(jax.vmap(_core, in_axes=(None,) + (0,) * 7), static_argnums=0)


class OneStep(SeedBatchedTrainer):
    """k gradient steps on W (k = 0: random features), then ridge on a."""

    def __init__(self, name: str, **options: Any) -> None:
        self.name = name
        self.options = options
        self.stages: Sequence[str] = ("stage1", "stage2") if options["steps"] > 0 else ("stage2",)

    def check_sample_size(self, n_train: int) -> None:
        """Raise ParameterError when D1 and D2 do not fit in ``n_train`` points."""
        self._split(n_train)

    def _split(self, n: int) -> tuple[int, int]:
        o = self.options
        if o["steps"] > 0:
            return split_sizes(n, o["n1"], o["n2"], o["split"])
        # no stage 1: D2 is the whole training set (or n2 of it)
        n2 = o["n2"] if o["n2"] is not None else n
        if n2 > n:
            raise ParameterError(f"n2 must be at most n_train = {n}, got {n2}")
        return 0, n2

    def _config(self, model: TwoLayer, n: int, seeds: int = 1, n_val: int = 0) -> _Config:
        o = self.options
        n1, n2 = self._split(n)
        # one grid value holds the features of D2 and of the validation set, the
        # hidden layer on D1 for its gradient steps, and the m x m Gram matrix, its
        # eigenvectors and the solver's workspace
        step_batch = grid_batch(
            o["step_batch"],
            len(o["step_sizes"]),
            seeds=seeds,
            floats_per_value=(n1 + n2 + n_val + 3 * model.m) * model.m,
            itemsize=np.dtype(model.dtype).itemsize,
        )
        spec = Stage2Spec(o["ridges"], o["ridge_units"], o["stage2"], o["gd_steps"], o["gd_lr"])
        return _Config(
            n1,
            n2,
            model.m,
            model.sigma_name,
            o["steps"],
            o["step_sizes"],
            o["step_size_units"],
            spec,
            step_batch,
        )

    def fit_many(
        self,
        models: Sequence[Any],
        datas: Sequence[TrainData],
        on_stage: Callable[[StageReport], None],
    ) -> list[FitReport]:
        """Train several seeds of one configuration in one compiled, vmapped call."""
        for m in models:
            if not isinstance(m, TwoLayer):
                raise ParameterError(
                    f"trainer {self.name!r} needs architecture 'two-layer', got {type(m).__name__}"
                )
        cfg = self._config(
            models[0],
            int(datas[0].X.shape[0]),
            seeds=len(models),
            n_val=int(datas[0].X_val.shape[0]),
        )
        if len(models) == 1:
            m, dt = models[0], datas[0]
            out = _core_jit(cfg, m.W[...], m.b[...], m.a[...], dt.X, dt.y, dt.X_val, dt.y_val)
            outs = [jax.tree.map(np.asarray, out)]
        else:
            out = _core_many(
                cfg,
                stack_seeds([m.W[...] for m in models]),
                stack_seeds([m.b[...] for m in models]),
                stack_seeds([m.a[...] for m in models]),
                stack_seeds([d.X for d in datas]),
                stack_seeds([d.y for d in datas]),
                stack_seeds([d.X_val for d in datas]),
                stack_seeds([d.y_val for d in datas]),
            )
            outs = unstack_seeds(out, len(models))
        return [self._finish(m, o, cfg, on_stage) for m, o in zip(models, outs, strict=True)]

    def _finish(
        self,
        model: TwoLayer,
        out: dict[str, np.ndarray],
        cfg: _Config,
        on_stage: Callable[[StageReport], None],
    ) -> FitReport:
        o = self.options
        choices = {
            "steps": cfg.steps,
            "step_size_units": o["step_size_units"],
            "stage2": o["stage2"],
            "ridge_units": o["ridge_units"],
            "n1": cfg.n1,
            "n2": cfg.n2,
            "split": "D1 = first n1 training points, D2 = next n2",
            "loss": "(1/(2 n1)) sum (f - y)^2",
            "step_batch": cfg.step_batch,
        }
        val = out["val_mse"]
        curve = ProbeOutput(
            values=val,
            dims=(STEP_SIZE, RIDGE),
            coords={STEP_SIZE: list(cfg.step_sizes), RIDGE: list(o["ridges"])},
            long_name=f"validation MSE of {self.name} over (step size, ridge)",
        )
        step = float(cfg.step_sizes[int(out["i_step"])])
        reports = []
        if cfg.steps > 0:
            reports.append(
                StageReport(
                    "stage1",
                    info=json_numbers(
                        {
                            "step_size": step,
                            "step_abs": step * float(out["unit"]),
                            "step_size_at_grid_edge": grid_edge(cfg.step_sizes, int(out["i_step"])),
                        }
                    ),
                    curves={"val_mse": curve},
                )
            )
        finite = np.isfinite(val)
        ok = finite.any() and np.all(np.isfinite(out["a"])) and np.all(np.isfinite(out["W"]))
        info2: dict[str, Any] = {}
        if ok:
            info2 = {
                "ridge": float(o["ridges"][int(out["i_ridge"])]),
                "ridge_at_grid_edge": grid_edge(o["ridges"], int(out["i_ridge"])),
                "ridge_abs": float(out["ridge_abs"]),
                "val_mse": float(val[int(out["i_step"]), int(out["i_ridge"])]),
                "train_mse_d2": float(out["train_mse"]),
                "val_grid_nonfinite": int((~finite).sum()),
            }
        stage2 = StageReport(
            "stage2", info=json_numbers(info2), curves={} if cfg.steps > 0 else {"val_mse": curve}
        )
        reports.append(stage2)
        for r in reports:
            on_stage(r)
        if not ok:
            reason = "validation MSE or weights are NaN/inf on the whole (step size, ridge) grid"
            return FitReport(status="failed", reason=reason, stages=reports, choices=choices)
        model.W[...] = jnp.asarray(out["W"], dtype=model.dtype)
        model.a[...] = jnp.asarray(out["a"], dtype=model.dtype)
        return FitReport(status="ok", stages=reports, choices=choices)


def _common_checks(
    ridges: Sequence[float],
    ridge_units: str,
    stage2: str,
    gd_steps: int,
    gd_lr: float,
    n2: int | None,
) -> tuple[float, ...]:
    choice("ridge_units", ridge_units, ("relative", "absolute"))
    choice("stage2", stage2, ("ridge", "gd"))
    nonnegative_int("gd_steps", gd_steps)
    positive_float("gd_lr", gd_lr)
    if gd_lr > 1:
        raise ParameterError(f"gd_lr must be in (0, 1] (units of 1/(mu_max + lambda)), got {gd_lr}")
    if n2 is not None:
        positive_int("n2", n2)
    return positive_grid("ridges", ridges)


def one_step(
    *,
    steps: int = 1,
    step_sizes: tuple[float, ...] = DEFAULT_STEP_SIZES,
    step_size_units: Literal["relative", "absolute"] = "relative",
    ridges: tuple[float, ...] = DEFAULT_RIDGES,
    ridge_units: Literal["relative", "absolute"] = "relative",
    stage2: Literal["ridge", "gd"] = "ridge",
    gd_steps: int = 1000,
    gd_lr: float = 1.0,
    split: float = 0.5,
    n1: int | None = None,
    n2: int | None = None,
    step_batch: int | Literal["auto"] = "auto",
) -> OneStep:
    """k gradient steps on W from random init, then ridge on a (two-layer).

    Args:
        steps: number k >= 1 of full-batch gradient steps on W.
        step_sizes: grid of η.
        step_size_units: ``relative`` (first step's norm = η ||W0||_F) or
            ``absolute`` (W ← W - η m ∇_W L).
        ridges, ridge_units, stage2, gd_steps, gd_lr: stage 2, as for layer-wise.
        split, n1, n2: sizes of D1 and D2 (n1 + n2 <= n_train).
        step_batch: step sizes evaluated together (vmapped) in the grid search, as
            for layer-wise (1: one at a time; more batches the eigendecompositions;
            ``"auto"``, the default: 1 on a CPU, the whole grid on a GPU within a
            memory budget).
    """
    positive_int("steps", steps)
    positive_int_or_auto("step_batch", step_batch)
    choice("step_size_units", step_size_units, ("relative", "absolute"))
    fraction("split", split)
    if n1 is not None:
        positive_int("n1", n1)
    grid = _common_checks(ridges, ridge_units, stage2, gd_steps, gd_lr, n2)
    return OneStep(
        "one-step",
        steps=steps,
        step_sizes=positive_grid("step_sizes", step_sizes),
        step_size_units=step_size_units,
        ridges=grid,
        ridge_units=ridge_units,
        stage2=stage2,
        gd_steps=gd_steps,
        gd_lr=gd_lr,
        split=split,
        n1=n1,
        n2=n2,
        step_batch=step_batch,
    )


def random_features(
    *,
    ridges: tuple[float, ...] = DEFAULT_RIDGES,
    ridge_units: Literal["relative", "absolute"] = "relative",
    stage2: Literal["ridge", "gd"] = "ridge",
    gd_steps: int = 1000,
    gd_lr: float = 1.0,
    n2: int | None = None,
) -> OneStep:
    """Random features: W stays at its random init; ridge on a over the training set.

    Args:
        ridges, ridge_units, stage2, gd_steps, gd_lr: stage 2, as for layer-wise.
        n2: use only the first n2 training points (default: all).
    """
    grid = _common_checks(ridges, ridge_units, stage2, gd_steps, gd_lr, n2)
    return OneStep(
        "random-features",
        steps=0,
        step_sizes=(0.0,),
        step_size_units="absolute",
        ridges=grid,
        ridge_units=ridge_units,
        stage2=stage2,
        gd_steps=gd_steps,
        gd_lr=gd_lr,
        split=0.5,
        n1=None,
        n2=n2,
        step_batch=1,
    )
