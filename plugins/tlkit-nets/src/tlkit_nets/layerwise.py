"""Algorithm 1 ("layer-wise training") of SCIENCE.md §2 for the three-layer network.

Stage 1: one gradient step on W from W(0) = 0 on D1, loss ``(1/(2 n1)) Σ (f - y)²``
[recon: the ½ and the mean]. The gradient is rank one, ``-∇_W L = outer(u, ĝ)`` with
``u_i = a_i σ1'(b_i) / m1`` and ``ĝ = (1/n1) Σ_j (y_j - c0) h0(x_j)``, so each middle
neuron's pre-activation becomes ``b_i + slope_i φ̂(x)``, ``φ̂ = <ĝ, h0>/m2``.

Step sizes are stated as ``η = η1 m2 / m1`` (then ``slope_i = η a_i σ1'(b_i)``), and with
``step_size_units="feature-std"`` (default) the grid is further divided by the standard
deviation of φ̂ on D2, so a grid of O(1) values works at any d, n and target [recon].
The raw step applied to W is ``η1 = η m1 / m2``; both are reported.

``feature_form="standardized"`` [recon, SCIENCE.md: practical form] uses instead
``slope_i = s a_i / std(φ̂)`` and offset ``-s a_i mean(φ̂)/std(φ̂)``: every neuron sees
the standardized feature with slope ``s·a_i`` (no dead ReLU neurons).

Stage 2: ridge (or GD with weight decay) on a, on an independent D2. The pair
(η or s, λ) is chosen on the validation set; one eigendecomposition per step size
serves the whole λ grid.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx
from tlkit.dims import RIDGE, STEP_SIZE
from tlkit.errors import ParameterError
from tlkit.numerics.activations import get_activation
from tlkit.numerics.kernels import random_feature_kernel
from tlkit.sampling import BlockSource
from tlkit.types import FitReport, ProbeOutput, StageReport, TrainData

from tlkit_nets import init
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
from tlkit_nets.features import (
    direction_sum,
    feature_direction,
    feature_values,
    kernel_feature_values,
)
from tlkit_nets.grids import grid_batch, grid_edge, map_grid
from tlkit_nets.stage2 import Stage2Spec, fit_output_weights, validation_mse
from tlkit_nets.three_layer import ThreeLayer

Array = jax.Array

DEFAULT_STEP_SIZES = (0.0625, 0.125, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0)
DEFAULT_RIDGES = tuple(float(10.0**k) for k in range(-8, 2))


@functools.cache
def _kernel(sigma2: str) -> Callable[[Array, Array], Array]:
    # cached so that jit sees the same function object and does not recompile
    return random_feature_kernel(sigma2)


@dataclass(frozen=True)
class _Config:
    """Everything static about one layer-wise fit (hashable: a jit static argument)."""

    n1: int
    n2: int
    m1: int
    m2: int | None
    sigma1: str
    sigma2: str
    feature_form: str
    step_size_units: str
    step_sizes: tuple[float, ...]
    stage2: Stage2Spec
    redraw_bias: bool
    bias_init: str
    bias_scale: float
    batch_size: int
    step_batch: int
    given_direction: bool


def json_numbers(info: dict[str, Any]) -> dict[str, Any]:
    """Replace NaN/inf by None: manifests are strict JSON."""
    return {
        k: (v if not isinstance(v, float) or math.isfinite(v) else None) for k, v in info.items()
    }


def split_sizes(n: int, n1: int | None, n2: int | None, split: float) -> tuple[int, int]:
    """Sizes of D1 and D2 from the training-set size and the trainer's options.

    Raises:
        ParameterError: when ``n1 + n2`` exceeds ``n`` or a part would be empty.
    """
    if n1 is None and n2 is None:
        n1 = int(math.floor(split * n))
    if n1 is None:
        assert n2 is not None
        n1 = n - n2
    if n2 is None:
        n2 = n - n1
    if n1 < 1 or n2 < 1 or n1 + n2 > n:
        raise ParameterError(
            f"n1 + n2 must be at most n_train = {n} with both >= 1; got n1={n1}, n2={n2}"
        )
    return n1, n2


def _stage1_feature(
    cfg: _Config, V: Array, X1: Array, r: Array, X: Array, g: Array | None
) -> Array:
    sigma2 = get_activation(cfg.sigma2)
    if cfg.m2 is None:
        return kernel_feature_values(X, X1, r, _kernel(cfg.sigma2), cfg.batch_size)
    assert g is not None
    return feature_values(X, g, V, sigma2, cfg.batch_size)


def _slopes(
    cfg: _Config, step: Array, a: Array, deriv: Array, mu: Array, sd: Array
) -> tuple[Array, Array]:
    """Per-neuron slope on φ̂ and offset for one step size (η or s)."""
    if cfg.feature_form == "standardized":
        slope = step * a / sd
        return slope, -slope * mu
    eta = step / sd if cfg.step_size_units == "feature-std" else step
    return eta * a * deriv, jnp.zeros_like(a)


def _initial_output(cfg: _Config, a: Array, b: Array) -> Array:
    """c0: with W(0) = 0 the network outputs this constant on every input."""
    return jnp.mean(a * get_activation(cfg.sigma1)(b))


def _block_direction_sum(
    cfg: _Config, V: Array, b: Array, a: Array, X: Array, y: Array, valid: Array
) -> Array:
    """Σ r_j σ2(V x_j) over one block of D1; rows with ``valid`` False count zero."""
    r = jnp.where(valid, y - _initial_output(cfg, a, b), 0)
    return direction_sum(X, r, V, get_activation(cfg.sigma2), cfg.batch_size)


_block_sums_many = jax.jit(
    jax.vmap(_block_direction_sum, in_axes=(None, 0, 0, 0, 0, 0, None)), static_argnums=0
)


def streamed_directions(
    cfg: _Config, V: Array, b: Array, a: Array, sources: Sequence[BlockSource]
) -> Array:
    """ĝ of several seeds (stacked ``V``, ``b``, ``a``), D1 drawn block by block.

    Only one block of every seed's D1 is in memory at a time; the last, partial
    block is padded with zero-weight rows so that every block has one shape (one
    compile).

    Returns:
        ``(seeds, m2)``.
    """
    size = sources[0].block_size
    if any(src.block_size != size or src.n != sources[0].n for src in sources):
        raise ValueError("seeds of one vmapped fit need training splits of one block size")
    total = None
    for parts in zip(*(src.chunks(0, cfg.n1) for src in sources), strict=True):
        rows = int(parts[0][0].shape[0])
        pad = size - rows
        X = stack_seeds([np.pad(np.asarray(p[0]), ((0, pad), (0, 0))) for p in parts])
        y = stack_seeds([np.pad(np.asarray(p[1]), (0, pad)) for p in parts])
        valid = jax.device_put(np.arange(size) < rows)
        part = _block_sums_many(cfg, V, b, a, X, y, valid)
        total = part if total is None else total + part
    assert total is not None
    return total / cfg.n1


def _core(
    cfg: _Config,
    V: Array,
    b: Array,
    a: Array,
    X1: Array,
    y1: Array,
    X2: Array,
    y2: Array,
    X_val: Array,
    y_val: Array,
    key: Array,
    g_given: Array,
) -> dict[str, Array]:
    """Algorithm 1 on arrays: pure, jittable and vmappable over seeds.

    ``X1``/``y1`` may be empty when ĝ is given (stage 1 done elsewhere) and the
    inner width is finite.
    """
    sigma1 = get_activation(cfg.sigma1)
    sigma2 = get_activation(cfg.sigma2)
    dtype = a.dtype
    # Stage 1: W(0) = 0, so f = c0 on every input and the gradient is rank one.
    c0 = _initial_output(cfg, a, b)
    r = y1 - c0
    deriv = init.elementwise_derivative(sigma1)(b)
    if cfg.m2 is None:
        g = jnp.zeros((0,), dtype=dtype)
    elif cfg.given_direction:
        g = g_given
    else:
        g = feature_direction(X1, r, V, sigma2, cfg.batch_size)
    phi2 = _stage1_feature(cfg, V, X1, r, X2, g)
    phiv = _stage1_feature(cfg, V, X1, r, X_val, g)
    mu, sd = jnp.mean(phi2), jnp.std(phi2)
    sd = jnp.where(sd > 0, sd, 1)
    # [recon] option: fresh biases for stage 2 (the slopes keep σ1'(old b))
    b2 = init.biases(key, cfg.m1, cfg.bias_init, cfg.bias_scale, dtype) if cfg.redraw_bias else b

    def features(phi: Array, slope: Array, offset: Array) -> Array:
        return sigma1(phi[:, None] * slope + b2 + offset) / cfg.m1

    def evaluate(step: Array) -> tuple[Array, Array, Array]:
        slope, offset = _slopes(cfg, step, a, deriv, mu, sd)
        A, lam = fit_output_weights(features(phi2, slope, offset), y2, a, cfg.stage2)
        return validation_mse(features(phiv, slope, offset), y_val, A), A, lam

    steps = jnp.asarray(cfg.step_sizes, dtype=dtype)
    # step_batch step sizes at a time: 1 keeps memory flat in the grid size; more
    # batches their eigendecompositions (faster on a GPU, not on a CPU's LAPACK).
    # Every grid point's weights are kept ((E, L, m1), small next to the features) so
    # that the chosen pair needs no second eigendecomposition.
    val, A_grid, lam_grid = map_grid(evaluate, steps, cfg.step_batch)  # (E, L), ...
    flat = jnp.where(jnp.isfinite(val), val, jnp.inf).reshape(-1)
    best = jnp.argmin(flat)
    i_step, i_ridge = best // val.shape[1], best % val.shape[1]
    slope, offset = _slopes(cfg, steps[i_step], a, deriv, mu, sd)
    Phi2 = features(phi2, slope, offset)
    a_new = A_grid[i_step, i_ridge]
    return {
        "val_mse": val,
        "i_step": i_step,
        "i_ridge": i_ridge,
        "ridge_abs": lam_grid[i_step, i_ridge],
        "c0": c0,
        "g": g,
        "r_over_n1": r / cfg.n1,
        "slope": slope,
        "offset": offset,
        "b": b2,
        "a": a_new,
        "phi_mean": mu,
        "phi_std": sd,
        "train_mse": jnp.mean((Phi2 @ a_new - y2) ** 2),
        "eta_scale": 1 / sd if cfg.step_size_units == "feature-std" else jnp.ones_like(sd),
    }


_core_jit = jax.jit(_core, static_argnums=0)
_core_many = jax.jit(jax.vmap(_core, in_axes=(None,) + (0,) * 11), static_argnums=0)


def stacked_core_args(
    models: Sequence[ThreeLayer],
    datas: Sequence[TrainData],
    splits: Sequence[tuple[Array, Array, Array, Array]],
    keys: Sequence[Array],
    g_streamed: Array | None,
) -> tuple[Array, ...]:
    """The per-seed arguments of ``_core`` (after ``cfg``), stacked for ``_core_many``."""
    no_direction = jax.device_put(np.zeros((len(models), 0), dtype=models[0].dtype))
    return (
        stack_seeds([m.V[...] for m in models]),
        stack_seeds([m.b[...] for m in models]),
        stack_seeds([m.a[...] for m in models]),
        *(stack_seeds([split[k] for split in splits]) for k in range(4)),
        stack_seeds([d.X_val for d in datas]),
        stack_seeds([d.y_val for d in datas]),
        stack_seeds(keys),
        g_streamed if g_streamed is not None else no_direction,
    )


def autodiff_step(model: ThreeLayer, X1: Array, y1: Array, eta1: float) -> Array:
    """The literal stage-1 step on the flax module: ``W - η1 ∇_W (1/(2n1)) Σ (f - y)²``.

    Materializes h0 on all of D1 (reference implementation; the trainer's default
    is the streamed closed form). Returns the new W without modifying ``model``.
    """

    def loss(m: ThreeLayer) -> Array:
        return 0.5 * jnp.mean((m(X1) - y1) ** 2)

    grads = nnx.grad(loss, argnums=nnx.DiffState(0, nnx.Param))(model)
    return model.W[...] - eta1 * grads["W"][...]


def _split_rows(data: TrainData, cfg: _Config, with_d1: bool) -> tuple[Array, Array, Array, Array]:
    """(X1, y1, X2, y2); D1 empty when ``with_d1`` is False (stage 1 streamed).

    A block-drawn split materializes only the rows asked for.
    """
    n1, n2 = cfg.n1, cfg.n2
    if data.blocks is None:
        X, y = data.X, data.y
        return X[:n1], y[:n1], X[n1 : n1 + n2], y[n1 : n1 + n2]
    X2, y2 = data.blocks.rows(n1, n1 + n2)
    if with_d1:
        X1, y1 = data.blocks.rows(0, n1)
    else:
        X1, y1 = X2[:0], y2[:0]
    return X1, y1, X2, y2


class LayerWise(SeedBatchedTrainer):
    """Algorithm 1: one gradient step on W (stage 1), ridge on a (stage 2)."""

    stages: Sequence[str] = ("stage1", "stage2")

    def __init__(self, **options: Any) -> None:
        self.options = options

    def check_sample_size(self, n_train: int) -> None:
        """Raise ParameterError when D1 and D2 do not fit in ``n_train`` points."""
        o = self.options
        split_sizes(n_train, o["n1"], o["n2"], o["split"])

    def _config(
        self, model: ThreeLayer, n: int, given_direction: bool, seeds: int = 1, n_val: int = 0
    ) -> _Config:
        o = self.options
        n1, n2 = split_sizes(n, o["n1"], o["n2"], o["split"])
        # one grid value holds the features of D2 and of the validation set, and the
        # m1 x m1 Gram matrix, its eigenvectors and the solver's workspace
        step_batch = grid_batch(
            o["step_batch"],
            len(o["step_sizes"]),
            seeds=seeds,
            floats_per_value=(n2 + n_val + 3 * model.m1) * model.m1,
            itemsize=np.dtype(model.dtype).itemsize,
        )
        spec = Stage2Spec(o["ridges"], o["ridge_units"], o["stage2"], o["gd_steps"], o["gd_lr"])
        return _Config(
            n1=n1,
            n2=n2,
            m1=model.m1,
            m2=model.m2,
            sigma1=model.sigma1_name,
            sigma2=model.sigma2_name,
            feature_form=o["feature_form"],
            step_size_units=o["step_size_units"],
            step_sizes=o["step_sizes"],
            stage2=spec,
            redraw_bias=o["redraw_bias"],
            bias_init=o["bias_init"],
            bias_scale=o["bias_scale"],
            batch_size=o["batch_size"],
            step_batch=step_batch,
            given_direction=given_direction,
        )

    def _check_model(self, model: Any) -> ThreeLayer:
        if not isinstance(model, ThreeLayer):
            raise ParameterError(
                f"trainer 'layer-wise' needs architecture 'three-layer', got {type(model).__name__}"
            )
        if model.W[...].size and float(jnp.max(jnp.abs(model.W[...]))) > 0:
            raise ParameterError("w_init must be 'zero' for trainer 'layer-wise' (W(0) = 0)")
        if self.options["stage1"] == "autodiff" and model.infinite:
            raise ParameterError("stage1='autodiff' needs a finite m2; use stage1='streamed'")
        return model

    def _direction_by_autodiff(self, model: ThreeLayer, X1: Array, y1: Array) -> Array:
        # One literal step with η1 = 1 gives W(1) = outer(u, ĝ); read ĝ back with the
        # known factor u_i = a_i σ1'(b_i) / m1.
        W1 = autodiff_step(model, X1, y1, 1.0)
        u = model.a[...] * init.elementwise_derivative(model.sigma1)(model.b[...]) / model.m1
        return W1.T @ u / jnp.sum(u * u)

    def fit_many(
        self,
        models: Sequence[Any],
        datas: Sequence[TrainData],
        on_stage: Callable[[StageReport], None],
    ) -> list[FitReport]:
        """Train several seeds of one configuration in one compiled, vmapped call.

        Falls back to a loop when ``stage1='autodiff'`` (the literal reference path).
        ``on_stage`` is called for every model's stages, model by model.
        """
        models = [self._check_model(m) for m in models]
        n = datas[0].n_train
        autodiff = self.options["stage1"] == "autodiff"
        # D1 drawn in blocks and a finite inner width: stage 1 streams the blocks
        streamed = (
            not autodiff and not models[0].infinite and all(dt.blocks is not None for dt in datas)
        )
        cfg = self._config(
            models[0],
            n,
            given_direction=autodiff or streamed,
            seeds=1 if autodiff else len(models),
            n_val=int(datas[0].X_val.shape[0]),
        )
        keys = [jax.random.fold_in(dt.key, 1) for dt in datas]
        splits = [_split_rows(dt, cfg, with_d1=not streamed) for dt in datas]
        g_streamed = (
            streamed_directions(
                cfg,
                stack_seeds([m.V[...] for m in models]),
                stack_seeds([m.b[...] for m in models]),
                stack_seeds([m.a[...] for m in models]),
                [dt.blocks for dt in datas],  # type: ignore[misc]
            )
            if streamed
            else None
        )
        outs: list[dict[str, np.ndarray]] = []
        if autodiff or len(models) == 1:
            for i, (model, dt, key, split) in enumerate(
                zip(models, datas, keys, splits, strict=True)
            ):
                if autodiff:
                    g = self._direction_by_autodiff(model, split[0], split[1])
                elif g_streamed is not None:
                    g = g_streamed[i]
                else:
                    g = jnp.zeros((0,), dtype=model.dtype)
                out = _core_jit(
                    cfg,
                    model.V[...],
                    model.b[...],
                    model.a[...],
                    *split,
                    dt.X_val,
                    dt.y_val,
                    key,
                    g,
                )
                outs.append(jax.tree.map(np.asarray, out))
        else:
            out = _core_many(cfg, *stacked_core_args(models, datas, splits, keys, g_streamed))
            outs = unstack_seeds(out, len(models))
        # D1 is the support of an infinite-width network; nothing else is kept
        supports = [split[0] for split in splits]
        del splits
        reports = []
        for model, out, support in zip(models, outs, supports, strict=True):
            reports.append(self._finish(model, out, cfg, on_stage, streamed, support))
        return reports

    def _finish(
        self,
        model: ThreeLayer,
        out: dict[str, np.ndarray],
        cfg: _Config,
        on_stage: Callable[[StageReport], None],
        streamed: bool,
        support: Array,
    ) -> FitReport:
        o = self.options
        choices = {
            "stage1": o["stage1"],
            "feature_form": o["feature_form"],
            "step_size_units": o["step_size_units"],
            "stage2": o["stage2"],
            "ridge_units": o["ridge_units"],
            "redraw_bias": o["redraw_bias"],
            "n1": cfg.n1,
            "n2": cfg.n2,
            "split": "D1 = first n1 training points, D2 = next n2",
            "stage1_data": "streamed block by block" if streamed else "in memory",
            "inner_width": "infinite (closed-form kernel)" if model.infinite else model.m2,
            "loss": "(1/(2 n1)) sum (f - y)^2",
            "step_batch": cfg.step_batch,
        }
        val = out["val_mse"]
        step = float(cfg.step_sizes[int(out["i_step"])])
        eta_scale = float(out["eta_scale"])
        info1: dict[str, Any] = {
            "c0": float(out["c0"]),
            "phi_mean": float(out["phi_mean"]),
            "phi_std": float(out["phi_std"]),
            "step_size": step,
            "step_size_at_grid_edge": grid_edge(cfg.step_sizes, int(out["i_step"])),
        }
        if o["feature_form"] == "literal":
            # η (slope units) and the raw step η1 = η m1 / m2 actually applied to W
            info1["eta"] = step * eta_scale
            if model.m2 is not None:
                info1["eta1_raw"] = step * eta_scale * model.m1 / model.m2
        curve = ProbeOutput(
            values=val,
            dims=(STEP_SIZE, RIDGE),
            coords={STEP_SIZE: list(cfg.step_sizes), RIDGE: list(o["ridges"])},
            units="1",
            long_name="validation MSE of Algorithm 1 over (step size, ridge)",
        )
        stage1 = StageReport("stage1", info=json_numbers(info1), curves={"val_mse": curve})
        finite = np.isfinite(val)
        if not finite.any() or not np.all(np.isfinite(out["a"])):
            reason = "validation MSE is NaN/inf on the whole (step size, ridge) grid"
            on_stage(stage1)
            return FitReport(status="failed", reason=reason, stages=[stage1], choices=choices)
        info2 = {
            "ridge": float(o["ridges"][int(out["i_ridge"])]),
            "ridge_at_grid_edge": grid_edge(o["ridges"], int(out["i_ridge"])),
            "ridge_abs": float(out["ridge_abs"]),
            "val_mse": float(val[int(out["i_step"]), int(out["i_ridge"])]),
            "train_mse_d2": float(out["train_mse"]),
            "val_grid_nonfinite": int((~finite).sum()),
        }
        self._write(model, out, cfg, support)
        stage2 = StageReport("stage2", info=json_numbers(info2))
        on_stage(stage1)
        on_stage(stage2)
        return FitReport(status="ok", stages=[stage1, stage2], choices=choices)

    def _write(
        self, model: ThreeLayer, out: dict[str, np.ndarray], cfg: _Config, support: Array
    ) -> None:
        dtype = model.dtype
        slope = jnp.asarray(out["slope"], dtype=dtype)
        model.slope[...] = slope
        model.offset[...] = jnp.asarray(out["offset"], dtype=dtype)
        model.b[...] = jnp.asarray(out["b"], dtype=dtype)
        model.a[...] = jnp.asarray(out["a"], dtype=dtype)
        if model.infinite:
            model.support_X.set_value(jnp.asarray(support, dtype=dtype))
            model.support_coef.set_value(jnp.asarray(out["r_over_n1"], dtype=dtype))
        else:
            assert model.m2 is not None
            g = jnp.asarray(out["g"], dtype=dtype)
            model.W[...] = jnp.outer(slope / model.m2, g)


def layer_wise(
    *,
    feature_form: Literal["literal", "standardized"] = "standardized",
    step_sizes: tuple[float, ...] = DEFAULT_STEP_SIZES,
    step_size_units: Literal["feature-std", "absolute"] = "feature-std",
    ridges: tuple[float, ...] = DEFAULT_RIDGES,
    ridge_units: Literal["relative", "absolute"] = "relative",
    stage1: Literal["streamed", "autodiff"] = "streamed",
    stage2: Literal["ridge", "gd"] = "ridge",
    gd_steps: int = 1000,
    gd_lr: float = 1.0,
    split: float = 0.5,
    n1: int | None = None,
    n2: int | None = None,
    redraw_bias: bool = False,
    bias_init: Literal["uniform", "gaussian", "zero"] = "uniform",
    bias_scale: float = 1.0,
    batch_size: int = 4096,
    step_batch: int | Literal["auto"] = "auto",
) -> LayerWise:
    """Algorithm 1 (layer-wise training) of the three-layer network.

    Args:
        feature_form: ``literal`` (the paper's step: slopes η a_i σ1'(b_i)) or
            ``standardized`` (slopes s a_i on the standardized φ̂) [recon].
        step_sizes: grid of η (literal) or s (standardized).
        step_size_units: literal form only: ``feature-std`` divides η by std(φ̂).
        ridges: grid of λ.
        ridge_units: ``relative`` multiplies λ by the mean eigenvalue of ΦᵀΦ/n.
        stage1: ``streamed`` closed form (default) or ``autodiff`` (literal flax step).
        stage2: ``ridge`` (closed form) or ``gd`` (GD with weight decay).
        gd_steps, gd_lr: GD iterations and step (in units of 1/(μ_max + λ)).
        split: fraction of the training set in D1 when n1, n2 are not given.
        n1, n2: explicit sizes of D1 and D2 (n1 + n2 <= n_train).
        redraw_bias: draw b afresh after stage 1 [recon].
        bias_init, bias_scale: the distribution of re-drawn biases.
        batch_size: rows per block when streaming.
        step_batch: step sizes evaluated together (vmapped) in the grid search. 1
            evaluates one at a time, so memory does not grow with the grid; larger
            values batch the grid's eigendecompositions, which a GPU runs in about the
            time of one (memory for features grows by this factor; capped at the grid
            size). ``"auto"`` (default): 1 on a CPU, where batching is not faster; on a
            GPU the whole grid, within a memory budget (``tlkit_nets.grids``).
    """
    choice("feature_form", feature_form, ("literal", "standardized"))
    choice("step_size_units", step_size_units, ("feature-std", "absolute"))
    choice("ridge_units", ridge_units, ("relative", "absolute"))
    choice("stage1", stage1, ("streamed", "autodiff"))
    choice("stage2", stage2, ("ridge", "gd"))
    choice("bias_init", bias_init, init.BIAS_INITS)
    nonnegative_int("gd_steps", gd_steps)
    positive_float("gd_lr", gd_lr)
    if gd_lr > 1:
        raise ParameterError(f"gd_lr must be in (0, 1] (units of 1/(mu_max + lambda)), got {gd_lr}")
    fraction("split", split)
    if n1 is not None:
        positive_int("n1", n1)
    if n2 is not None:
        positive_int("n2", n2)
    positive_float("bias_scale", bias_scale, allow_zero=True)
    positive_int("batch_size", batch_size)
    positive_int_or_auto("step_batch", step_batch)
    return LayerWise(
        feature_form=feature_form,
        step_sizes=positive_grid("step_sizes", step_sizes),
        step_size_units=step_size_units,
        ridges=positive_grid("ridges", ridges),
        ridge_units=ridge_units,
        stage1=stage1,
        stage2=stage2,
        gd_steps=gd_steps,
        gd_lr=gd_lr,
        split=split,
        n1=n1,
        n2=n2,
        redraw_bias=redraw_bias,
        bias_init=bias_init,
        bias_scale=bias_scale,
        batch_size=batch_size,
        step_batch=step_batch,
    )
