"""Sweeps: a Cartesian grid of run configs, seeds trained together per cell, resumable.

A sweep config (TOML) has a ``[base]`` run config, a ``[grid]`` of dotted config
paths and their values, a top-level ``seeds`` list and optional ``[[variants]]``
(partial configs merged into ``base``, crossed with the grid)::

    seeds = [0, 1, 2]

    [base]
    target = {name = "quadratic-feature", params = {d = 8}}
    arch = "three-layer"
    n_val = 1024

    [grid]
    "target.d" = [8, 16]
    n_train = [256, 512, 1024]

A *cell* is one grid point with all its seeds; its seeds are trained together
(vmapped when the trainer has ``fit_many``) and its labelled dataset is written
atomically to ``DIR/cells/<cell-id>.nc`` by whoever ran it (this process or a Dask
worker). ``DIR/sweep.json`` records the sweep config; a rerun skips finished cells;
``DIR/results.nc`` combines every cell (see :func:`tlkit.results.combine`). See docs/sweeps.md.
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import json
import re
import time
import tomllib
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import xarray as xr

from tlkit import dims, results
from tlkit.atomic import check_creatable_dir
from tlkit.config import ComponentConfig, RunConfig, is_seed, parse_probes
from tlkit.errors import ComponentError, ConfigError, TlkitError
from tlkit.interrupts import raise_if_interrupted
from tlkit.params import resolve_parameters
from tlkit.plugins import PluginHost, get_host
from tlkit.results import combine
from tlkit.run import Run
from tlkit.sweep_files import (  # noqa: F401  (re-exported: the directory layout)
    CELLS,
    RESULTS_FILE,
    RUNS,
    SPEC_FILE,
    SWEEP_SCHEMA,
    cell_path,
    check_directory,
    error_path,
    prepare_directory,
    recorded_spec,
    run_paths,
    runs_saved,
    write_error,
)
from tlkit.sweep_progress import SweepProgress, print_stderr
from tlkit.types import FitReport, StageReport

if TYPE_CHECKING:
    from tlkit.executors import Executor

SWEEP_FIELDS = ("base", "grid", "seeds", "variants")
#: Run-config fields a grid may set directly.
RUN_FIELDS = ("n_train", "n_val", "n_test", "dtype", "train_block_size")
COMPONENTS = ("target", "arch", "trainer")
#: Grid keys that are already run-level dimensions of every run's dataset.
_RUN_DIM_KEYS = {
    "arch": dims.ARCH,
    "trainer": dims.TRAINER,
    "n_train": dims.N_TRAIN,
    "target.d": dims.D,
    "target.params.d": dims.D,
}
VARIANT = dims.VARIANT
_VALID_GRID = (
    "n_train, n_val, n_test, dtype, train_block_size, target, arch, trainer, "
    "or <target|arch|trainer>.<parameter>"
)


# -- the sweep config ---------------------------------------------------------------
@dataclasses.dataclass
class SweepSpec:
    """A parsed sweep config (not yet validated against the installed plugins).

    Attributes:
        base: a run config as a dict (``seed``/``seeds`` come from ``seeds``).
        grid: dotted config path -> list of values, in the order given.
        seeds: master seeds; every cell runs all of them.
        variants: partial configs merged into ``base``, crossed with the grid; a
            variant's own ``grid`` table adds axes to that variant's cells only.
        dims: results-dimension names given to grid axes (``{values=[...],
            dim="width"}`` in the config); other axes are named by :func:`axis_dims`.
    """

    base: dict[str, Any]
    grid: dict[str, list[Any]]
    seeds: list[int]
    variants: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    dims: dict[str, str] = dataclasses.field(default_factory=dict)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SweepSpec:
        """Parse and check the shape of a sweep config (one-line ConfigError)."""
        # "dims" is what to_dict records for axes given as {values, dim}
        unknown = sorted(set(data) - {*SWEEP_FIELDS, "dims"})
        if unknown:
            raise ConfigError(
                f"unknown sweep field {unknown[0]!r}; valid: {', '.join(SWEEP_FIELDS)}"
            )
        base = data.get("base", {})
        if not isinstance(base, Mapping):
            raise ConfigError(f"[base] must be a table, got {base!r}")
        for key in ("seed", "seeds"):
            if key in base:
                raise ConfigError(f"base.{key} is set per cell; use the top-level seeds list")
        grid, grid_dims = parse_grid(data.get("grid", {}), "grid")
        recorded = data.get("dims", {})
        if not isinstance(recorded, Mapping) or not set(recorded) <= set(grid):
            raise ConfigError(f"dims must map [grid] axes to dimension names, got {recorded!r}")
        for key, dim in recorded.items():
            grid_dims[key] = _check_dim_name(dim, f"grid.{key}", key)
        seeds = data.get("seeds", [0])
        if not isinstance(seeds, list) or not all(is_seed(s) for s in seeds):
            raise ConfigError(f"seeds must be a list of integers in [0, 2**63), got {seeds!r}")
        if not seeds:
            raise ConfigError("seeds is an empty list: the sweep would have 0 cells")
        if len(set(seeds)) != len(seeds):
            raise ConfigError(f"seeds must be distinct, got {seeds!r}")
        variants = data.get("variants", [])
        if not isinstance(variants, list) or not all(isinstance(v, Mapping) for v in variants):
            raise ConfigError(f"variants must be a list of tables ([[variants]]), got {variants!r}")
        names = [v["name"] for v in variants if "name" in v]
        for index, variant in enumerate(variants):
            if "name" in variant and not isinstance(variant["name"], str):
                raise ConfigError(f"variants.name must be a string, got {variant['name']!r}")
            if "name" in variant and names.count(variant["name"]) > 1:
                raise ConfigError(f"variant name {variant['name']!r} is used twice")
            own, _ = parse_grid(variant.get("grid", {}), f"variants[{index}].grid")
            for key in own:
                if key in grid:
                    raise ConfigError(
                        f"variants[{index}].grid.{key} is also an axis of [grid]; "
                        "give it in one place"
                    )
        return cls(
            copy.deepcopy(dict(base)),
            {k: list(v) for k, v in grid.items()},
            list(seeds),
            [copy.deepcopy(dict(v)) for v in variants],
            grid_dims,
        )

    @classmethod
    def load(cls, config: SweepSpec | Mapping[str, Any] | str | Path) -> SweepSpec:
        """A spec from a spec, a dict or a TOML file path."""
        if isinstance(config, SweepSpec):
            return config
        if isinstance(config, Mapping):
            return cls.from_dict(config)
        try:
            with open(config, "rb") as fh:
                data = tomllib.load(fh)
        except FileNotFoundError:
            raise ConfigError(f"sweep config file not found: {config}") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"sweep config {config} is not valid TOML: {exc}") from None
        except UnicodeDecodeError:
            raise ConfigError(f"sweep config {config} is not UTF-8 text (TOML must be)") from None
        return cls.from_dict(data)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (what ``sweep.json`` records)."""
        data = dataclasses.asdict(self)
        if not data["dims"]:
            # a config without named dims records what earlier versions recorded, so
            # their sweep directories still resume
            del data["dims"]
        # not sorted: the order of the grid's axes makes the cells' ids (their slugs),
        # and tlkit analyze SWEEP_DIR expands the cells again from this record
        return json.loads(json.dumps(data))


def parse_grid(table: Any, where: str) -> tuple[dict[str, list[Any]], dict[str, str]]:
    """Check a grid table; return its axes' values and the dims named for some axes.

    An axis is a list of values, or a table ``{values = [...], dim = "name"}`` that
    names its results dimension (so that axes of different variants, such as the
    two-layer ``arch.m`` and the three-layer ``arch.m1``, share one dimension).

    Raises:
        ConfigError: one line naming the axis and what is wrong.
    """
    if not isinstance(table, Mapping):
        raise ConfigError(f"[{where}] must be a table, got {table!r}")
    values: dict[str, list[Any]] = {}
    named: dict[str, str] = {}
    for key, axis in table.items():
        if isinstance(axis, Mapping):
            unknown = sorted(set(axis) - {"values", "dim"})
            if unknown or "values" not in axis:
                raise ConfigError(
                    f"{where}.{key} must be a list of values or a table with 'values' "
                    f"and optionally 'dim', got {dict(axis)!r}"
                )
            if "dim" in axis:
                named[key] = _check_dim_name(axis["dim"], f"{where}.{key}", key)
            axis = axis["values"]
        if not isinstance(axis, list):
            raise ConfigError(f"{where}.{key} must be a list of values, got {axis!r}")
        if not axis:
            raise ConfigError(f"{where}.{key} is an empty list: the sweep would have 0 cells")
        _check_grid_key(key)
        seen_values: set[str] = set()
        for value in axis:
            text = json.dumps(value, sort_keys=True, default=str)
            if text in seen_values:
                raise ConfigError(f"{where}.{key} has the value {value!r} twice")
            seen_values.add(text)
        head, _, rest = key.partition(".")
        same = f"{head}.{rest.removeprefix('params.')}" if rest else key
        for other in values:
            o_head, _, o_rest = other.partition(".")
            if o_rest and f"{o_head}.{o_rest.removeprefix('params.')}" == same:
                raise ConfigError(f"{where}: {other} and {key} set the same parameter")
        values[key] = list(axis)
    taken = [d for d in named.values() if list(named.values()).count(d) > 1]
    if taken:
        raise ConfigError(f"{where}: two axes are named dim {taken[0]!r}; give each its own")
    return values, named


def _check_dim_name(dim: Any, where: str, key: str) -> str:
    reserved = {*dims.RUN_DIMS, *dims.PROBE_DIMS, VARIANT}
    if key in _RUN_DIM_KEYS:
        raise ConfigError(
            f"{where}: {key} is always the results dimension {_RUN_DIM_KEYS[key]!r}; "
            "it cannot be renamed"
        )
    if not isinstance(dim, str) or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", dim):
        raise ConfigError(f"{where}.dim must be a name of letters, digits and '_', got {dim!r}")
    if dim in reserved:
        raise ConfigError(
            f"{where}.dim {dim!r} is a dimension tlkit already uses "
            f"({', '.join(sorted(reserved))}); choose another"
        )
    return dim


def _check_grid_key(key: str) -> None:
    if key in RUN_FIELDS or key in COMPONENTS:
        return
    head, _, rest = key.partition(".")
    param = rest.removeprefix("params.")
    if head in COMPONENTS and param and "." not in param:
        return
    if key in ("seed", "seeds"):
        raise ConfigError("grid.seed: seeds are not a grid axis; use the top-level seeds list")
    raise ConfigError(f"unknown grid field {key!r}; valid: {_VALID_GRID}")


def _set_component(cfg: dict[str, Any], kind: str, value: Any) -> None:
    """Set a component by name (or table); keep the old params if the name is unchanged."""
    if isinstance(value, str):
        new = ComponentConfig(value, {})
    elif isinstance(value, Mapping) and isinstance(value.get("name"), str):
        new = ComponentConfig.parse(value, kind)
    else:
        raise ConfigError(f"{kind} must be a component name or a table with 'name', got {value!r}")
    old = ComponentConfig.parse(cfg[kind], kind) if cfg.get(kind) is not None else None
    params = (
        {**old.params, **new.params} if old is not None and old.name == new.name else new.params
    )
    cfg[kind] = {"name": new.name, "params": dict(params)}


def set_path(cfg: dict[str, Any], key: str, value: Any) -> None:
    """Set the dotted grid path ``key`` of the run-config dict ``cfg`` in place."""
    if key in RUN_FIELDS:
        cfg[key] = value
        return
    if key in COMPONENTS:
        _set_component(cfg, key, value)
        return
    head, _, rest = key.partition(".")
    param = rest.removeprefix("params.")
    if cfg.get(head) is None:
        raise ConfigError(f"grid.{key} needs a {head!r} in [base] or in every variant")
    comp = ComponentConfig.parse(cfg[head], head)
    cfg[head] = {"name": comp.name, "params": {**comp.params, param: value}}


def _merge_variant(base: dict[str, Any], variant: Mapping[str, Any]) -> dict[str, Any]:
    cfg = copy.deepcopy(base)
    for key, value in variant.items():
        if key in ("name", "grid"):
            continue
        if key in ("seed", "seeds"):
            raise ConfigError(f"variants.{key} is set per cell; use the top-level seeds list")
        if key in COMPONENTS:
            _set_component(cfg, key, value)
        else:
            cfg[key] = copy.deepcopy(value)
    return cfg


def axis_dims(grid_keys: Sequence[str]) -> dict[str, str | None]:
    """The results dimension of each grid key (``None``: already a run-level dim).

    ``target.d``, ``arch``, ``trainer`` and ``n_train`` are run-level dims; other
    component parameters are named after the parameter (``arch.m2`` -> ``m2``),
    prefixed with the component (``arch_m2``) when that name is taken.
    """
    reserved = set(dims.RUN_DIMS) | set(dims.PROBE_DIMS) | {VARIANT}
    params = [k.split(".")[-1] for k in grid_keys if "." in k]
    out: dict[str, str | None] = {}
    for key in grid_keys:
        if key in _RUN_DIM_KEYS:
            out[key] = None
        elif "." in key:
            head, param = key.split(".")[0], key.split(".")[-1]
            taken = param in reserved or params.count(param) > 1 or param in grid_keys
            out[key] = f"{head}_{param}" if taken else param
        else:
            out[key] = key
    return out


def _coord_value(value: Any) -> Any:
    """A netCDF-friendly coordinate label for a grid value."""
    if isinstance(value, Mapping):
        return str(value.get("name"))
    if isinstance(value, bool):
        return str(value).lower()
    return value


# -- cells --------------------------------------------------------------------------
@dataclasses.dataclass
class Cell:
    """One grid point with all its seeds.

    Attributes:
        id: file-name-safe id; a readable slug plus a hash of the configs, so a
            cell's file always belongs to exactly this config.
        label: human-readable ``dim=value`` list (progress and errors).
        configs: one run-config dict per seed.
        coords: values of the dimensions this cell adds beyond the run-level ones.
        run_coords: ``arch``/``trainer``/``d``/``n_train`` (filled by validation;
            labels a failed cell that has no results).
        variant: the label of the cell's variant (its name, else its component
            names), or ``""`` in a sweep without variants; selects cells to run.
    """

    id: str
    label: str
    configs: list[dict[str, Any]]
    coords: dict[str, Any]
    run_coords: dict[str, Any] = dataclasses.field(default_factory=dict)
    variant: str = ""

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Cell:
        # fields a newer tlkit added are ignored, so a worker of another version still runs
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._=-]+", "_", text)[:72].strip("_")


def expand_cells(spec: SweepSpec) -> list[Cell]:
    """Every cell of the sweep, variants outermost, grid axes in the order given.

    A variant's own grid axes come after ``[grid]``'s. Every variant must give its cells
    the same results dimensions (so that they combine into one dataset).

    Raises:
        ConfigError: variants whose grids give different dimensions.
    """
    variants = spec.variants or [{}]
    named = any("name" in v for v in spec.variants)
    cells = []
    dims_seen: dict[tuple[str, ...], str] = {}
    for v_index, variant in enumerate(variants):
        own, own_dims = parse_grid(variant.get("grid", {}), f"variants[{v_index}].grid")
        grid = {**spec.grid, **own}
        keys = list(grid)
        # Component names first, so that `arch = [...]` and `arch.m2 = [...]` compose.
        apply_order = sorted(keys, key=lambda k: k not in COMPONENTS)
        # only axes without a dim of their own are named automatically (and only they
        # compete for names), so an axis of [grid] is named alike in every variant
        explicit = {**spec.dims, **own_dims}
        dim_of = {**axis_dims([k for k in keys if k not in explicit]), **explicit}
        dim_of = {k: dim_of[k] for k in keys}
        extra = tuple(sorted(d for d in dim_of.values() if d is not None))
        _check_variant_dims(
            extra, dims_seen, _variant_label(variant, v_index) if spec.variants else ""
        )
        base = _merge_variant(spec.base, variant)
        for combo in _product([grid[k] for k in keys]):
            cfg = copy.deepcopy(base)
            values = dict(zip(keys, combo, strict=True))
            for key in apply_order:
                set_path(cfg, key, copy.deepcopy(values[key]))
            coords: dict[str, Any] = {
                dim: _coord_value(values[k]) for k in keys if (dim := dim_of[k]) is not None
            }
            if named:
                coords[VARIANT] = str(variant.get("name", f"v{v_index}"))
            configs = [{**cfg, "seed": seed} for seed in spec.seeds]
            digest = hashlib.sha256(
                json.dumps(configs, sort_keys=True, default=str).encode()
            ).hexdigest()[:10]
            # an axis with a dim of its own is labelled by it, as results.nc names it
            label_parts = [f"{explicit.get(k, k)}={_coord_value(values[k])}" for k in keys]
            if spec.variants:
                label_parts.insert(0, _variant_label(variant, v_index))
            label = ", ".join(label_parts) or "base"
            cells.append(
                Cell(
                    f"{_slug('-'.join(label_parts) or 'base')}-{digest}",
                    label,
                    configs,
                    coords,
                    variant=_variant_label(variant, v_index) if spec.variants else "",
                )
            )
    return cells


def _check_variant_dims(
    extra: tuple[str, ...], seen: dict[tuple[str, ...], str], label: str
) -> None:
    """Refuse variants whose grids give their cells different results dimensions."""
    if len(set(extra)) != len(extra):
        twice = next(d for d in extra if extra.count(d) > 1)
        where = f"variant {label}" if label else "[grid]"
        raise ConfigError(f"{where}: two grid axes get the results dimension {twice!r}")
    if seen and extra not in seen:
        other_dims, other = next(iter(seen.items()))
        raise ConfigError(
            f"variants {other} and {label} give their cells different grid dimensions "
            f"({', '.join(other_dims) or 'none'} vs {', '.join(extra) or 'none'}); every "
            'variant needs the same ones: name axes with {values = [...], dim = "..."}'
        )
    seen.setdefault(extra, label)


def _variant_label(variant: Mapping[str, Any], index: int) -> str:
    """A variant's name, else its component names (``three-layer/layer-wise``)."""
    if "name" in variant:
        return str(variant["name"])
    names = [_coord_value(variant[k]) for k in COMPONENTS if k in variant]
    return "/".join(map(str, names)) or f"variant {index}"


def _product(lists: Sequence[Sequence[Any]]) -> Iterator[tuple[Any, ...]]:
    if not lists:
        yield ()
        return
    for head in lists[0]:
        for tail in _product(lists[1:]):
            yield (head, *tail)


def validate_cells(cells: Sequence[Cell], spec: SweepSpec, host: PluginHost) -> list[Cell]:
    """Build every cell's first-seed config; fill ``run_coords``; check labels are unique.

    Raises:
        ConfigError: one line naming the cell and what is wrong, before anything
            is trained or written.
    """
    from tlkit.pipeline import _call_factory, build, check_sample_size, make_config

    if not cells:
        raise ConfigError("the sweep has 0 cells")
    registry = host.ensure_registered()
    checked_probes: set[str] = set()
    seen: dict[tuple[Any, ...], Cell] = {}
    # Sample sizes do not enter any factory: build each component set once (building
    # can be costly, e.g. a target that estimates its variance by Monte Carlo).
    built: dict[str, tuple[str, str, int, Any]] = {}
    for cell in cells:
        try:
            config = make_config(cell.configs[0])
            shape = {k: v for k, v in config.to_dict().items() if k not in RUN_FIELDS[:3]}
            build_key = json.dumps(shape, sort_keys=True, default=str)
            if build_key in built:
                arch, trainer, d, trainer_obj = built[build_key]
                # the one check that depends on n_train: the trainer's data splits
                check_sample_size(trainer_obj, trainer, int(config.n_train))
                cell.run_coords = {
                    dims.ARCH: arch,
                    dims.TRAINER: trainer,
                    dims.D: d,
                    dims.N_TRAIN: int(config.n_train),
                }
                _check_unique(cell, seen)
                continue
            components = build(config, host)
            for probe in components.config.probes:
                key = json.dumps(dataclasses.asdict(probe), sort_keys=True, default=str)
                if key in checked_probes:
                    continue
                comp = registry.get("probe", probe.name)
                label = f"probe {probe.name!r}"
                _call_factory(
                    comp.factory, label, **resolve_parameters(comp.factory, probe.params, label)
                )
                checked_probes.add(key)
        except ConfigError as exc:
            raise ConfigError(f"sweep cell [{cell.label}]: {exc}") from None
        cfg = components.config
        assert cfg.trainer is not None
        cell.run_coords = {
            dims.ARCH: cfg.arch.name,
            dims.TRAINER: cfg.trainer.name,
            dims.D: int(components.target.d),
            dims.N_TRAIN: int(cfg.n_train),
        }
        built[build_key] = (
            cfg.arch.name,
            cfg.trainer.name,
            int(components.target.d),
            components.trainer,
        )
        _check_unique(cell, seen)
    return list(cells)


def _check_unique(cell: Cell, seen: dict[tuple[Any, ...], Cell]) -> None:
    key = (*cell.run_coords.values(), *sorted(cell.coords.items()))
    if key in seen:
        raise ConfigError(
            f"sweep cells [{seen[key].label}] and [{cell.label}] get the same result "
            "coordinates; give each [[variants]] a name"
        )
    seen[key] = cell


# -- training the seeds of a cell together --------------------------------------------
class _StageRouter:
    """Sends each stage report to the hooks with the config of the model it belongs to.

    ``fit_many`` reports stages model by model; a stage that does not come later in
    the trainer's stage list than the previous one starts the next model.
    """

    def __init__(self, host: PluginHost, configs: Sequence[RunConfig], stages: Sequence[str]):
        self.host, self.configs, self.stages = host, list(configs), list(stages)
        self.index, self.last = 0, -1
        self.collected: list[list[StageReport]] = [[] for _ in configs]

    def begin(self, index: int) -> None:
        self.index, self.last = index, -1

    def __call__(self, report: StageReport) -> None:
        from tlkit.pipeline import check_stage_report

        raise_if_interrupted()
        check_stage_report(f"trainer {self.configs[0].trainer.name!r}", report)  # type: ignore[union-attr]
        pos = self.stages.index(report.stage) if report.stage in self.stages else len(self.stages)
        if pos <= self.last and self.index + 1 < len(self.configs):
            self.index += 1
        self.last = pos
        self.collected[self.index].append(report)
        self.host.emit(
            "tlkit_stage_finished", config=self.configs[self.index], stage=report, stage_index=pos
        )


def train_many(
    configs: Sequence[RunConfig | Mapping[str, Any]],
    host: PluginHost | None = None,
    *,
    probes: Sequence[str | ComponentConfig] | None = None,
) -> list[Run]:
    """Train several seeds of one configuration together and probe each.

    Uses the trainer's optional ``fit_many(models, datas, on_stage)`` (one compiled,
    vmapped call) when there is more than one config, and loops over ``fit``
    otherwise. The configs must differ only in their seeds.

    Args:
        configs: run configs (or dicts), typically one per master seed.
        host: plugin host (default: the installed plugins).
        probes: probes to run; ``None`` uses the config's probes or the defaults.

    Returns:
        One :class:`Run` per config, in order, with ``run.results`` set.

    Raises:
        ConfigError: invalid configs, or configs that differ in more than seeds.
    """
    from tlkit.pipeline import analyze, build, default_probes, make_config

    host = host or get_host()
    if not configs:
        raise ConfigError("train_many needs at least one config")
    built = [build(make_config(c), host) for c in configs]
    shape = [_without_seeds(b.config) for b in built]
    if any(s != shape[0] for s in shape[1:]):
        raise ConfigError("train_many needs configs that differ only in their seeds")
    first = built[0].config
    probe_list = (
        parse_probes(probes) if probes is not None else (first.probes or default_probes(host))
    )
    runs = [Run(b.config, b.target, b.model, FitReport(), component_params=b.params) for b in built]
    for run in runs:
        host.emit("tlkit_run_started", config=run.config, run_dir=None)
    datas = [run.train_data() for run in runs]
    trainer = built[0].trainer
    router = _StageRouter(host, [r.config for r in runs], list(trainer.stages))
    fit_many = getattr(trainer, "fit_many", None)
    if len(runs) > 1 and callable(fit_many):
        reports = list(fit_many([r.model for r in runs], datas, router))
    else:
        reports = []
        for i, (b, data) in enumerate(zip(built, datas, strict=True)):
            router.begin(i)
            reports.append(b.trainer.fit(b.model, data, router))
    label = f"trainer {first.trainer.name!r}"  # type: ignore[union-attr]
    if len(reports) != len(runs):
        raise ComponentError(f"{label}: returned {len(reports)} reports for {len(runs)} models")
    for run, report, collected in zip(runs, reports, router.collected, strict=True):
        if not isinstance(report, FitReport):
            raise ComponentError(
                f"{label}: fit() must return a tlkit.types.FitReport, got {type(report).__name__}"
            )
        if not report.stages:  # trainers may rely on the host to keep their stage reports
            report.stages = collected
        run.fit = report
        with warnings.catch_warnings():
            # a probe that does not apply is recorded in the skipped_probes attribute
            warnings.filterwarnings("ignore", message="probe .* skipped", category=UserWarning)
            run.results = analyze(run, probes=probe_list, host=host, write=False)
        host.emit("tlkit_run_finished", run=run, results=run.results)
    return runs


def _without_seeds(config: RunConfig) -> dict[str, Any]:
    data = config.to_dict()
    data.pop("seed", None)
    data.pop("seeds", None)
    return data


# -- labelled cell datasets and the combined grid --------------------------------------
def _order_dims(ds: xr.Dataset, extra: Sequence[str]) -> xr.Dataset:
    lead = [d for d in (*dims.RUN_DIMS, *extra) if d in ds.dims]
    return ds.transpose(*lead, ...)


def cell_dataset(cell: Cell, datasets: Sequence[xr.Dataset]) -> xr.Dataset:
    """The labelled dataset of one cell: its seeds' datasets plus the cell's extra dims."""
    extra = list(cell.coords)
    labelled = [
        _order_dims(ds.expand_dims({k: [v] for k, v in cell.coords.items()}), extra)
        for ds in datasets
    ]
    combined = combine(labelled)
    combined.attrs["tlkit_sweep_cell"] = cell.id
    return combined


def error_dataset(cell: Cell, reason: str) -> xr.Dataset:
    """The record of a cell that raised: ``fit_status="error"`` and the error text."""
    seeds = [int(c["seed"]) for c in cell.configs]
    coords = {
        **{k: [v] for k, v in cell.run_coords.items()},
        dims.SEED: seeds,
        **{k: [v] for k, v in cell.coords.items()},
    }
    shape = tuple(len(v) for v in coords.values())
    status = xr.DataArray(np.full(shape, "error", dtype=object), coords=coords, dims=list(coords))
    why = xr.DataArray(np.full(shape, reason, dtype=object), coords=coords, dims=list(coords))
    status.attrs.update(long_name="training status (ok, failed, or error: the cell raised)")
    why.attrs.update(long_name="why training failed (empty if ok)")
    ds = xr.Dataset({"fit_status": status, "fit_reason": why})
    return _order_dims(ds, list(cell.coords))


def collect(
    out: Path, cells: Sequence[Cell], in_memory: Mapping[str, xr.Dataset] | None = None
) -> tuple[xr.Dataset | None, dict[str, str]]:
    """Combine the cells' results (in grid order); return the dataset and the errors.

    Args:
        out: the sweep directory.
        cells: every cell of the sweep.
        in_memory: datasets of cells run in this process (just written to their
            files), used instead of reading those files back.
    """
    datasets, errors = [], {}
    in_memory = in_memory or {}
    for cell in cells:
        path, err = cell_path(out, cell), error_path(out, cell)
        if cell.id in in_memory and path.is_file():
            datasets.append(in_memory[cell.id])
        elif path.is_file():
            try:
                datasets.append(results.open_results(path))
            except TlkitError as exc:
                # damaged outside tlkit (cells are written atomically), e.g. a copy
                # between machines that stopped halfway
                raise TlkitError(f"{exc}; delete it and rerun to run that cell again") from None
        elif err.is_file():
            reason = json.loads(err.read_text()).get("error", "unknown error")
            errors[cell.id] = reason
            datasets.append(error_dataset(cell, reason))
    return (combine(datasets) if datasets else None), errors


# -- the sweep ---------------------------------------------------------------------------
@dataclasses.dataclass
class SweepResult:
    """What a sweep did.

    Attributes:
        path: the sweep directory.
        results: the combined dataset (also in ``path/results.nc``).
        cells: number of cells in the grid.
        ran: cells run now; reused: cells found finished and skipped.
        errors: cell id -> error text for cells that raised.
        failed_runs: runs (seeds) whose training reported ``fit_status="failed"``.
        wall_s: wall time of this call; compute_s: summed time inside cells.
        unselected: cells of variants not asked for (``variants=``), not run.
        selected_errors: the part of ``errors`` among the cells asked for (all of
            them without ``variants=``): what a rerun of the same call would retry.
    """

    path: Path
    results: xr.Dataset | None
    cells: int
    ran: int
    reused: int
    errors: dict[str, str]
    failed_runs: int
    wall_s: float
    compute_s: float
    unselected: int = 0
    selected_errors: dict[str, str] = dataclasses.field(default_factory=dict)

    def summary(self) -> str:
        others = f", {self.unselected} of other variants not run" if self.unselected else ""
        return (
            f"{self.cells} cells: {self.ran} run, {self.reused} reused{others}, "
            f"{len(self.errors)} failed (raised), {self.failed_runs} runs diverged; "
            f"{self.wall_s:.1f} s wall, {self.compute_s:.1f} s in cells"
        )


@dataclasses.dataclass
class SweepPlan:
    """What a sweep would do (``tlkit sweep --dry-run``), after every check.

    Attributes:
        spec: the parsed config.
        cells: every cell of the sweep.
        selected: the cells of the asked-for variants.
        todo: the selected cells that would run (not finished, or without saved runs
            when ``save_runs``; all of them when ``force`` discards another config).
    """

    spec: SweepSpec
    cells: list[Cell]
    selected: list[Cell]
    todo: list[Cell]

    def summary(self) -> str:
        """One line: how many cells would run and how many are reused."""
        others = len(self.cells) - len(self.selected)
        text = (
            f"{len(self.cells)} cells: {len(self.todo)} to run, "
            f"{len(self.selected) - len(self.todo)} finished"
        )
        return text + (f", {others} of other variants not selected" if others else "")


def plan_sweep(
    config: SweepSpec | Mapping[str, Any] | str | Path,
    out: str | Path,
    *,
    host: PluginHost | None = None,
    force: bool = False,
    variants: Sequence[str] | None = None,
    save_runs: bool = False,
) -> SweepPlan:
    """Check a sweep and say which cells it would run, writing nothing.

    Raises:
        ConfigError / TlkitError: whatever :func:`sweep` would refuse before running.
    """
    spec = SweepSpec.load(config)
    host = host or get_host()
    cells = validate_cells(expand_cells(spec), spec, host)
    selected = select_variants(cells, variants)
    out = Path(out)
    check_directory(out, spec, force)
    check_creatable_dir(out / CELLS)
    # --force discards results only when the recorded config differs.
    recorded = recorded_spec(out) if out.is_dir() else None
    discard = force and recorded is not None and recorded != spec.to_dict()
    todo = (
        list(selected)
        if discard
        else [
            c
            for c in selected
            if not cell_path(out, c).is_file()
            or (save_runs and not runs_saved(out, c, complete=True))
        ]
    )
    return SweepPlan(spec, cells, selected, todo)


def sweep(
    config: SweepSpec | Mapping[str, Any] | str | Path,
    out: str | Path,
    *,
    executor: str | Executor = "local",
    workers: int | None = None,
    scheduler: str | None = None,
    force: bool = False,
    host: PluginHost | None = None,
    plugins: Sequence[str] = (),
    progress: str = "bar",
    echo: Callable[[str], None] | None = None,
    gpus: Sequence[str] | None = None,
    connect_timeout: float = 10.0,
    variants: Sequence[str] | None = None,
    save_runs: bool = False,
) -> SweepResult:
    """Run (or resume) a sweep; see the module docstring and docs/sweeps.md.

    Args:
        config: a sweep config: TOML path, dict or :class:`SweepSpec`.
        out: the sweep directory.
        executor: ``"local"`` (cells one after another in this process), ``"dask"``,
            or an executor object (e.g. a :class:`tlkit.executors.DaskExecutor` you
            built, which this call closes).
        workers: dask: start a local cluster with this many worker processes.
        scheduler: dask: address of an existing scheduler instead.
        force: run even if ``out`` holds a sweep with another config (its results
            are discarded).
        host: plugin host used here (validation, and cells of the local executor).
        plugins: ``"module:attribute"`` plugin objects that Dask workers add to their
            installed plugins (workers cannot receive ``host`` itself).
        progress: ``"bar"`` (rich), ``"log"`` (one line per cell) or ``"none"``.
        echo: where log lines go (default: stderr).
        gpus: dask local cluster: GPU ids, worker i sees ``gpus[i % len(gpus)]``.
        connect_timeout: seconds to wait for a scheduler.
        variants: run only the cells of these variants (names, or component labels
            such as ``two-layer/one-step`` for unnamed ones); the directory still
            belongs to the whole sweep, so other machines can run the rest into a
            copy of it, and ``results.nc`` holds every finished cell.
        save_runs: also save every seed's trained run (``DIR/runs/CELL/seed-S``, see
            :func:`run_paths`) for ``tlkit analyze`` / :func:`tlkit.load_run` later;
            finished cells whose runs are missing are trained again.

    Returns:
        A :class:`SweepResult`.

    Raises:
        ConfigError / TlkitError: bad config, bad directory or unreachable
            scheduler, always before anything is written.
    """
    from tlkit.executors import HostSpec, make_executor

    start = time.perf_counter()
    plan = plan_sweep(config, out, host=host, force=force, variants=variants, save_runs=save_runs)
    spec, cells, selected, todo = plan.spec, plan.cells, plan.selected, plan.todo
    host = host or get_host()
    out = Path(out)
    host_spec = HostSpec(load_entry_points=True, plugins=tuple(plugins))
    host_spec.check(import_here=scheduler is None)
    runner = (
        executor
        if not isinstance(executor, str)
        else make_executor(
            executor,
            workers=workers,
            scheduler=scheduler,
            host=host,
            host_spec=host_spec,
            gpus=gpus,
            connect_timeout=connect_timeout,
        )
    )
    if save_runs and not _takes_save_runs(runner):
        runner.close()
        raise ConfigError(
            f"executor {type(runner).__name__} cannot save runs (its run() takes no "
            "save_runs keyword)"
        )
    compute = 0.0
    failed_runs = 0
    in_memory: dict[str, xr.Dataset] = {}
    # cells that raised in this call: also those whose earlier file stands (a finished
    # cell trained again for --save-runs), which collect() alone would count as fine
    raised: dict[str, str] = {}
    try:
        prepare_directory(out, spec, cells, force)
        with SweepProgress(len(selected), len(selected) - len(todo), progress, echo) as bar:
            # only executors that save runs are asked to (a user's executor may not)
            outcomes = (
                runner.run(todo, out, save_runs=True)  # type: ignore[call-arg]
                if save_runs
                else runner.run(todo, out)
            )
            for outcome in outcomes:
                if outcome.dataset is not None:
                    in_memory[outcome.cell] = outcome.dataset
                compute += outcome.seconds
                failed_runs += outcome.failed_runs
                if outcome.status == "error":
                    raised[outcome.cell] = outcome.error
                bar.advance(outcome)
            raise_if_interrupted()  # one dropped inside the last cell
    except KeyboardInterrupt:
        runner.close()
        # Ctrl-C: what finished is combined as usual, so results.nc is current
        say = echo or print_stderr
        try:
            combined, errors = collect(out, cells, in_memory)
            if combined is not None:
                _write_combined(combined, out, spec, cells, errors)
        except Exception as exc:  # the interrupt is what must come out of here
            say(f"interrupted; {out / RESULTS_FILE} not updated: {exc}")
        else:
            where = f" (in {out / RESULTS_FILE})" if combined is not None else ""
            say(
                f"interrupted: {sum(cell_path(out, c).is_file() for c in cells)} of "
                f"{len(cells)} cells are finished{where}; rerun the same command to go on"
            )
        raise
    finally:
        runner.close()  # closing twice is harmless
    combined, errors = collect(out, cells, in_memory)
    errors = {**errors, **raised}
    if combined is not None:
        _write_combined(combined, out, spec, cells, errors)
    return SweepResult(
        out,
        combined,
        len(cells),
        len(todo),
        len(selected) - len(todo),
        errors,
        failed_runs,
        time.perf_counter() - start,
        compute,
        unselected=len(cells) - len(selected),
        selected_errors={c.id: errors[c.id] for c in selected if c.id in errors},
    )


def _takes_save_runs(runner: Any) -> bool:
    import inspect

    try:
        params = inspect.signature(runner.run).parameters.values()
    except (TypeError, ValueError):
        return True  # cannot tell: let it try
    return any(p.name == "save_runs" or p.kind is p.VAR_KEYWORD for p in params)


def _write_combined(
    combined: xr.Dataset,
    out: Path,
    spec: SweepSpec,
    cells: Sequence[Cell],
    errors: Mapping[str, str],
) -> None:
    combined.attrs["sweep_config"] = json.dumps(spec.to_dict(), sort_keys=True)
    combined.attrs["sweep_cells"] = len(cells)
    combined.attrs["sweep_cells_failed"] = len(errors)
    results.save_dataset(combined, out / RESULTS_FILE)


def select_variants(cells: Sequence[Cell], variants: Sequence[str] | None) -> list[Cell]:
    """The cells of the given variants (all cells when ``variants`` is None).

    Raises:
        ConfigError: a name that is not one of the sweep's variants (listing them).
    """
    if variants is None:
        return list(cells)
    if isinstance(variants, str):  # one name, not its characters
        variants = [variants]
    labels = list(dict.fromkeys(c.variant for c in cells if c.variant))
    if not labels:
        raise ConfigError("--variants: this sweep has no variants")
    if not variants:
        raise ConfigError(f"--variants names no variant; this sweep's: {', '.join(labels)}")

    def names(cell: Cell) -> set[str]:
        # a variant's label, and its coordinate in results.nc where that differs (an
        # unnamed variant beside named ones is "v1" there)
        return {cell.variant, str(cell.coords.get(VARIANT, cell.variant))}

    def parts(cell: Cell) -> set[str]:
        # an unnamed variant's label "three-layer/layer-wise" is also selected by one of
        # its parts ("three-layer"), unless that is a whole label itself
        return set(cell.variant.split("/")) if "/" in cell.variant else set()

    whole = set().union(*(names(c) for c in cells))
    known = whole | set().union(*(parts(c) for c in cells))
    unknown = [v for v in variants if v not in known]
    if unknown:
        raise ConfigError(
            f"unknown variant {unknown[0]!r}; this sweep's variants: {', '.join(labels)}"
        )
    exact = {v for v in variants if v in whole}
    partial = set(variants) - exact
    return [c for c in cells if names(c) & exact or parts(c) & partial]
