"""Labelled results: one place turns probe outputs into an ``xarray.Dataset``.

Schema (documented in docs/results-schema.md):

* Every run's dataset has the run-level dimensions :data:`tlkit.dims.RUN_DIMS`
  (``arch``, ``trainer``, ``d``, ``n_train``, ``seed``), each of length 1, so that
  many runs combine into a grid with :func:`combine`.
* Probe quantities are variables ``<probe>_<quantity>`` (``-`` in probe names
  becomes ``_``) with ``units``, ``long_name`` and ``probe`` attributes.
* Training curves are ``fit_<trainer>_<name>``; scalar stage info (e.g. the chosen
  learning rate) is ``fit_<trainer>_<stage>_<key>``; ``fit_status``
  (``"ok"``/``"failed"``) and ``fit_reason`` say whether training succeeded.
* Dataset attributes are strings or numbers only: versions, the config and the
  resolved component parameters are stored as JSON strings.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import xarray as xr

from tlkit import dims
from tlkit.atomic import atomic_file
from tlkit.errors import TlkitError
from tlkit.types import ProbeOutput

if TYPE_CHECKING:
    import pandas as pd

    from tlkit.run import Run

RESULTS_SCHEMA = 1


def variable_name(probe: str, quantity: str) -> str:
    """``<probe>_<quantity>`` with ``-`` replaced by ``_`` (valid Python identifiers)."""
    return f"{probe}_{quantity}".replace("-", "_")


def to_dataarray(output: ProbeOutput, probe: str) -> xr.DataArray:
    """Label one probe output.

    Raises:
        TlkitError: when the declared dims do not match the values' shape.
    """
    values = np.asarray(output.values)
    if values.ndim != len(output.dims):
        raise TlkitError(
            f"probe {probe!r} returned values of shape {values.shape} but declared dims "
            f"{output.dims}"
        )
    coords = {k: list(v) for k, v in output.coords.items() if k in output.dims}
    da = xr.DataArray(values, dims=output.dims, coords=coords)
    da.attrs.update(units=output.units, long_name=output.long_name or probe, probe=probe)
    return da


def run_coords(run: Run) -> dict[str, Any]:
    """The run-level coordinate values of a run."""
    trainer = run.config.trainer.name if run.config.trainer else ""
    return {
        dims.ARCH: run.config.arch.name,
        dims.TRAINER: trainer,
        dims.D: int(run.target.d),
        dims.N_TRAIN: int(run.config.n_train),
        dims.SEED: int(run.config.seed),
    }


#: variable attribute: the JSON parameters of the probe that computed the variable
PROBE_PARAMS = "probe_params"

#: what a combined variable's ``probe_params`` says when its datasets do not all record
#: the same parameters
PROBE_PARAMS_DIFFER = "not the same in every combined dataset"


def label_run(
    run: Run,
    outputs: Mapping[str, Mapping[str, ProbeOutput]],
    *,
    skipped: Mapping[str, str] | None = None,
    versions: Mapping[str, str] | None = None,
    probe_params: Mapping[str, Mapping[str, Any]] | None = None,
) -> xr.Dataset:
    """Build the labelled dataset of one run.

    Args:
        run: the run (its config, target and fit report label the data).
        outputs: ``{probe name: {quantity: ProbeOutput}}``.
        skipped: probes that did not apply or failed, with the reason.
        versions: distribution versions to record.
        probe_params: each probe's parameters (defaults included), recorded on its
            variables as the JSON attribute ``probe_params``: a run analyzed again with
            other parameters says which ones each variable came from.

    Returns:
        A dataset following the tlkit results schema.
    """
    variables: dict[str, xr.DataArray] = {}
    failed = run.fit.status != "ok"
    for probe, quantities in outputs.items():
        for quantity, output in quantities.items():
            da = to_dataarray(output, probe)
            if failed:
                # a network that did not train measures nothing: whatever a probe made
                # of it (a trainer may report failure and leave finite weights) must not
                # enter a sweep's medians
                da = xr.full_like(da, np.nan, dtype=np.float64)
            if probe_params is not None and probe in probe_params:
                da.attrs[PROBE_PARAMS] = json.dumps(probe_params[probe], sort_keys=True)
            variables[variable_name(probe, quantity)] = da
    # Curves are named after the trainer: two trainers may report a curve of the same
    # name over different axes (layer-wise: step_size x ridge; joint: step), and runs
    # of both must still combine into one dataset.
    trainer = run.config.trainer.name if run.config.trainer else "trainer"
    curve_stage: dict[str, str] = {}
    for stage in run.fit.stages:
        for name, curve in stage.curves.items():
            key = variable_name(f"fit_{trainer}", name)
            if curve_stage.setdefault(key, stage.stage) != stage.stage:
                # two stages report a curve of one name: keep both, the later one
                # under its stage's name (and "_curve", which no stage info gets)
                key = variable_name(f"fit_{trainer}_{stage.stage}", f"{name}_curve")
            variables[key] = to_dataarray(curve, f"fit:{trainer}:{stage.stage}")
    # Scalar stage info (chosen hyperparameters, grid-edge flags) is kept per run, so a
    # sweep's results say what each run chose without its manifest.
    for stage in run.fit.stages:
        for key, value in stage.info.items():
            if isinstance(value, bool):
                value = int(value)
            if not isinstance(value, int | float | str):
                continue  # None (nothing to report) and nested values stay in the manifest
            info = xr.DataArray(np.array(value, dtype=object if isinstance(value, str) else float))
            info.attrs.update(
                long_name=f"{key} reported by the {stage.stage} stage of {trainer}",
                probe=f"fit:{trainer}:{stage.stage}",
            )
            name = variable_name(f"fit_{trainer}_{stage.stage}", key)
            if name in variables:  # a curve's name already: never overwrite it
                name = f"{name}_info"
            variables[name] = info
    variables["fit_status"] = xr.DataArray(np.array(run.fit.status, dtype=object))
    variables["fit_status"].attrs.update(long_name="training status (ok or failed)")
    variables["fit_reason"] = xr.DataArray(np.array(run.fit.reason or "", dtype=object))
    variables["fit_reason"].attrs.update(long_name="why training failed (empty if ok)")
    ds = xr.Dataset(variables)
    coords = run_coords(run)
    ds = ds.expand_dims({name: [value] for name, value in coords.items()})
    # expand_dims puts new dims first in the order given; keep RUN_DIMS order.
    ds = ds.transpose(*dims.RUN_DIMS, ...)
    ds.attrs.update(
        tlkit_results_schema=RESULTS_SCHEMA,
        target=run.config.target.name,
        config=run.config.to_json(),
        components=json.dumps(run.component_params, sort_keys=True, default=str),
        fit_choices=json.dumps(run.fit.choices, sort_keys=True, default=str),
        skipped_probes=json.dumps(dict(skipped or {}), sort_keys=True),
        versions=json.dumps(dict(versions or {}), sort_keys=True),
    )
    return ds


def merge_probe_results(old: xr.Dataset, new: xr.Dataset, rerun: Iterable[str]) -> xr.Dataset:
    """``new`` plus what ``old`` holds from probes that were not run again.

    Used when a saved run is analyzed again: its ``results.nc`` keeps the results of
    the probes not named this time. The variables of the probes in ``rerun`` (and the
    training record, rewritten from the manifest) come from ``new`` only, so a probe
    run with other parameters leaves no stale quantities behind.

    Args:
        old: the run's earlier results.
        new: the results of the probes just run (same run).
        rerun: names of the probes just run (including those skipped now).
    """
    rerun = set(rerun)

    def stale(name: str, var: xr.DataArray) -> bool:
        probe = str(var.attrs.get("probe", ""))
        return (
            name in new.data_vars
            or probe in rerun
            or probe.startswith("fit:")
            or name in ("fit_status", "fit_reason")
        )

    keep = [str(name) for name, var in old.data_vars.items() if not stale(str(name), var)]
    # A probe's own axis (degree, layer, ...) given other values now would leave the
    # other's variables padded with NaN that reads as measured: refuse instead. The
    # run's and the sweep's axes (those of fit_status) may grow, as cells are added.
    shared_axes = set(new["fit_status"].dims) if "fit_status" in new else set()
    for name in keep:
        for dim in old[name].dims:
            if dim in shared_axes or dim not in new.dims:
                continue
            before, now = old[dim].values.tolist(), new[dim].values.tolist()
            if before != now:
                raise TlkitError(
                    f"{name!r} is kept over {dim} = {before}, but the new results have "
                    f"{dim} = {now}"
                )
    merged = xr.merge([new, old[keep]], compat="override", join="outer", combine_attrs="override")
    skipped = {
        k: v for k, v in json.loads(old.attrs.get("skipped_probes", "{}")).items() if k not in rerun
    }
    skipped.update(json.loads(new.attrs.get("skipped_probes", "{}")))
    merged.attrs["skipped_probes"] = json.dumps(skipped, sort_keys=True)
    return merged


def _raise_overlap(
    name: str,
    dim_names: tuple[str, ...],
    axes: dict[str, list[Any]],
    already: np.ndarray,
    index: Any,
    number: int,
) -> None:
    at = tuple(int(i) for i in np.argwhere(already)[0])
    where = ", ".join(
        f"{d}={axes[d][int(np.asarray(ix).ravel()[k])]}"
        for d, ix, k in zip(dim_names, index, at, strict=True)
    )
    raise TlkitError(
        f"dataset {number} overlaps an earlier one: both hold {name!r} at {where}; "
        "runs that differ in something that is not a dimension (e.g. the target) need "
        "one, e.g. ds.expand_dims(target=[...])"
    )


def _union_values(datasets: Sequence[xr.Dataset]) -> dict[str, list[Any]]:
    """Per dimension, the union of its coordinate values (numbers sorted; labels in
    order of first appearance, so that e.g. architectures keep the config's order)."""
    found: dict[str, dict[Any, None]] = {}
    for ds in datasets:
        for dim in ds.dims:
            values = ds.indexes[dim].tolist() if dim in ds.indexes else range(ds.sizes[dim])
            found.setdefault(str(dim), {}).update(dict.fromkeys(values))
    out = {}
    for dim, values in found.items():
        keys = list(values)
        numeric = all(
            isinstance(v, int | float | np.number) and not isinstance(v, bool) for v in keys
        )
        out[dim] = sorted(keys) if numeric else keys
    return out


def combine(datasets: Sequence[xr.Dataset | str | Path]) -> xr.Dataset:
    """Combine labelled datasets (runs, sweep cells) into one grid.

    Entries may be datasets or paths of results files (opened with
    :func:`open_results`).

    An outer join over every dimension, variable by variable: a variable only
    spans the dimensions it has (no broadcasting over another variable's axes),
    and coordinates that differ between runs (e.g. two trainers' step-size grids)
    are united rather than concatenated. Unlike ``xr.combine_by_coords`` this
    accepts sparse grids (variants that pair
    one architecture with one trainer, failed cells that carry only ``fit_status``):
    missing entries are NaN for numbers and ``""`` for text. Integer and boolean
    variables that end up with holes become float. Dataset attributes are kept when
    every dataset agrees on them; ``versions`` is merged key by key (``a | b`` where
    the runs differ, e.g. ``jax_device``).

    Raises:
        TlkitError: when there is nothing to combine, or when two datasets hold the
            same variable at the same coordinates (e.g. runs that differ only in
            something that is not a dimension, such as the target): one would
            silently overwrite the other.
    """
    if not datasets:
        raise TlkitError("no results to combine")
    loaded = [d if isinstance(d, xr.Dataset) else open_results(d) for d in datasets]
    axes = _union_values(loaded)
    position = {dim: {v: i for i, v in enumerate(vals)} for dim, vals in axes.items()}
    arrays: dict[str, tuple[tuple[str, ...], np.ndarray, np.ndarray, dict[str, Any]]] = {}
    for number, ds in enumerate(loaded, 1):
        for name, da in ds.data_vars.items():
            name = str(name)
            if name not in arrays:
                shape = tuple(len(axes[str(d)]) for d in da.dims)
                kind = da.dtype.kind
                if kind in "OUS":
                    data = np.full(shape, "", dtype=object)
                elif kind in "fc":
                    data = np.full(shape, np.nan, dtype=da.dtype)
                else:
                    data = np.full(shape, np.nan, dtype=np.float64)
                arrays[name] = (
                    tuple(map(str, da.dims)),
                    data,
                    np.zeros(shape, bool),
                    dict(da.attrs),
                )
            dim_names, data, filled, _ = arrays[name]
            if set(map(str, da.dims)) != set(dim_names):
                raise TlkitError(
                    f"cannot combine variable {name!r}: dims {tuple(map(str, da.dims))} in one "
                    f"dataset, {dim_names} in another"
                )
            da = da.transpose(*dim_names)
            index = (
                np.ix_(
                    *[
                        [
                            position[d][v]
                            for v in (
                                ds.indexes[d].tolist() if d in ds.indexes else range(ds.sizes[d])
                            )
                        ]
                        for d in dim_names
                    ]
                )
                if dim_names
                else ()
            )
            if dim_names and filled[index].any():
                _raise_overlap(name, dim_names, axes, filled[index], index, number)
            data[index] = da.values
            filled[index] = True
    first_dtype = {str(n): ds[n].dtype for ds in reversed(loaded) for n in ds.data_vars}
    variables = {}
    for name, (dim_names, data, filled, attrs) in arrays.items():
        if first_dtype[name].kind in "iub" and filled.all():
            data = data.astype(first_dtype[name])
        # the first dataset's attributes describe the variable; its probe's parameters
        # must not, unless every dataset holding the variable records the same ones
        recorded = {ds[name].attrs.get(PROBE_PARAMS) for ds in loaded if name in ds.data_vars}
        attrs.pop(PROBE_PARAMS, None)
        if recorded != {None}:
            attrs[PROBE_PARAMS] = recorded.pop() if len(recorded) == 1 else PROBE_PARAMS_DIFFER
        variables[name] = xr.Variable(dim_names, data, attrs)
    used = {d for dim_names, *_ in arrays.values() for d in dim_names}
    coords = {
        d: np.asarray(axes[d], dtype=object if not _numeric(axes[d]) else None)
        for d in axes
        if d in used and any(d in ds.indexes for ds in loaded)
    }
    combined = xr.Dataset(variables, coords=coords)
    attrs = dict(loaded[0].attrs)
    for ds in loaded[1:]:
        attrs = {k: v for k, v in attrs.items() if k in ds.attrs and _same(ds.attrs[k], v)}
    if "versions" not in attrs:
        attrs.update(_merged_versions(loaded))
    combined.attrs.update(attrs)
    return combined


def _merged_versions(datasets: Sequence[xr.Dataset]) -> dict[str, str]:
    """``versions`` of runs that differ (e.g. cells run on a GPU and on CPUs), key by key.

    Each key keeps its value where the runs agree and lists the values ``a | b`` where
    they do not, so a combined sweep still says which devices and versions made it.
    """
    values: dict[str, set[str]] = {}
    for ds in datasets:
        if "versions" not in ds.attrs:
            continue  # e.g. a failed cell's placeholder
        for key, value in json.loads(ds.attrs["versions"]).items():
            values.setdefault(key, set()).add(str(value))
    if not values:
        return {}
    merged = {key: " | ".join(sorted(found)) for key, found in values.items()}
    return {"versions": json.dumps(merged, sort_keys=True)}


def _numeric(values: Sequence[Any]) -> bool:
    return all(isinstance(v, int | float | np.number) and not isinstance(v, bool) for v in values)


def _same(a: Any, b: Any) -> bool:
    try:
        return bool(np.all(np.asarray(a) == np.asarray(b)))
    except Exception:
        return False


def save_dataset(ds: xr.Dataset, path: str | Path, *, clean_stale: bool = True) -> Path:
    """Write ``ds`` as netCDF (h5netcdf engine) atomically.

    Args:
        ds: the dataset.
        path: the file to (re)place.
        clean_stale: see :func:`tlkit.atomic.atomic_file`.
    """
    path = Path(path)
    with atomic_file(path, clean_stale=clean_stale) as tmp, _local_write_lock():
        ds.to_netcdf(tmp, engine="h5netcdf")
    return path


def _local_write_lock() -> Any:
    """Make xarray lock the file write in this process, not cluster-wide.

    Inside a Dask worker, xarray takes a ``distributed.Lock`` (a semaphore on the
    scheduler) for every netCDF write; tlkit's datasets are in memory and each file
    has one writer, so that only costs a round trip per file, and a cluster shutting
    down mid-write made the worker log a failed lease release with a traceback.
    """
    import contextlib

    try:
        import dask
    except ImportError:
        return contextlib.nullcontext()
    return dask.config.set(scheduler="synchronous")


def open_results(path: str | Path) -> xr.Dataset:
    """Load a results file fully into memory (and close it).

    Raises:
        TlkitError: when the file is missing or is not a netCDF results file.
    """
    path = Path(path)
    if not path.is_file():
        raise TlkitError(f"results file not found: {path}")
    try:
        with xr.open_dataset(path, engine="h5netcdf") as ds:
            loaded = ds.load()
    except (OSError, ValueError) as exc:
        raise TlkitError(f"cannot read results file {path}: {exc}") from None
    schema = loaded.attrs.get("tlkit_results_schema", RESULTS_SCHEMA)
    if isinstance(schema, np.integer | int) and int(schema) > RESULTS_SCHEMA:
        # merged into and rewritten, it would be silently downgraded
        raise TlkitError(
            f"{path} was written by a newer tlkit (results schema {int(schema)}; this tlkit "
            f"reads up to {RESULTS_SCHEMA}); upgrade tlkit to use it"
        )
    return loaded


@xr.register_dataset_accessor("tlkit")
class TlkitAccessor:
    """``ds.tlkit``: what is specific to tlkit results (never re-implements xarray)."""

    def __init__(self, ds: xr.Dataset) -> None:
        self._ds = ds

    @property
    def config(self) -> dict[str, Any]:
        """The run configuration (single-run datasets)."""
        raw = self._ds.attrs.get("config")
        if raw is None:
            raise TlkitError("this dataset has no single config (combined from several runs?)")
        return json.loads(raw)

    @property
    def versions(self) -> dict[str, str]:
        """Versions of tlkit, jax, flax and the plugins that produced the data."""
        return json.loads(self._ds.attrs.get("versions", "{}"))

    def metrics(self) -> list[str]:
        """Names of probe variables (everything but ``fit_*``)."""
        return [str(v) for v in self._ds.data_vars if not str(v).startswith("fit_")]

    def collapse(self, dim: str) -> xr.Dataset:
        """Remove a dimension along which each entry has at most one present value.

        Combining runs where each architecture has its own trainer gives an
        ``arch`` x ``trainer`` grid that is mostly missing; ``collapse("trainer")``
        keeps the one present value per architecture.

        Raises:
            TlkitError: when some entry has several present values along ``dim``.
        """
        if dim not in self._ds.dims:
            return self._ds
        import pandas as pd

        out = {}
        for name, da in self._ds.data_vars.items():
            if dim not in da.dims:
                out[name] = da
                continue
            # missing = NaN/None, or "" (how string variables mark holes in a grid)
            present = xr.apply_ufunc(lambda v: ~pd.isnull(v) & (v != ""), da, dask="allowed")
            if int(present.sum(dim).max()) > 1:
                raise TlkitError(f"cannot collapse {dim!r}: {name!r} has several values along it")
            axis = da.get_axis_num(dim)
            values = np.moveaxis(da.values, axis, -1)
            mask = np.moveaxis(present.values, axis, -1)
            index = np.argmax(mask, axis=-1)[..., None]
            picked = np.take_along_axis(values, index, axis=-1)[..., 0]
            out[name] = xr.DataArray(
                picked,
                dims=[d for d in da.dims if d != dim],
                coords={k: v for k, v in da.coords.items() if dim not in v.dims and k != dim},
                attrs=da.attrs,
            )
        return xr.Dataset(out, attrs=self._ds.attrs)

    def _variable(self, name: str) -> xr.DataArray:
        """The data variable ``name``; an unknown name is an error listing the metrics."""
        if name not in self._ds.data_vars:
            available = ", ".join(self.metrics()) or "none"
            raise TlkitError(f"unknown variable {name!r}; metrics here: {available}")
        return self._ds[name]

    def seed_summary(self, variable: str) -> xr.Dataset:
        """Median, min and max of a variable over seeds (the paper's plot style).

        Raises:
            TlkitError: an unknown or non-numeric variable, or one without ``seed``.
        """
        da = self._variable(variable)
        if da.dtype.kind not in "iufb":
            available = ", ".join(self.metrics()) or "none"
            raise TlkitError(f"{variable!r} is not numeric; metrics here: {available}")
        if dims.SEED not in da.dims:
            raise TlkitError(f"{variable!r} has no {dims.SEED!r} dimension")
        return xr.Dataset(
            {
                "median": da.median(dims.SEED),
                "min": da.min(dims.SEED),
                "max": da.max(dims.SEED),
            }
        )

    def table(
        self, variables: Iterable[str], index: str = dims.N_TRAIN, columns: str = dims.ARCH
    ) -> pd.DataFrame:
        """Median over seeds of each variable, as a table ``index`` x (variable, column).

        Dimensions other than ``index``, ``columns`` and ``seed`` must have length 1.

        Raises:
            TlkitError: an unknown variable, an ``index`` or ``columns`` that is not one
                of its dimensions, or another dimension with several values.
        """
        import pandas as pd

        frames = {}
        for var in variables:
            da = self._variable(var)
            for role, dim in (("index", index), ("columns", columns)):
                # a misspelled axis would otherwise leave the table without it, with no
                # error; one selected away (ds.sel(arch=...)) stays a scalar coordinate
                if dim not in da.dims and dim not in self._ds.coords:
                    raise TlkitError(
                        f"{role} {dim!r} is not a dimension of {var!r}; its dimensions: "
                        f"{', '.join(map(str, da.dims))}"
                    )
            if dims.SEED in da.dims:
                da = da.median(dims.SEED, skipna=True)
            extra = [d for d in da.dims if d not in (index, columns)]
            for d in extra:
                if da.sizes[d] != 1:
                    hint = (
                        " (one trainer per architecture: .tlkit.collapse('trainer') first)"
                        if d == dims.TRAINER
                        else f" (select one value of {d!r} first, e.g. .sel({d}=...))"
                    )
                    raise TlkitError(
                        f"cannot tabulate {var!r}: dimension {d!r} has length > 1{hint}"
                    )
            da = da.squeeze(extra, drop=True) if extra else da
            order = [d for d in (index, columns) if d in da.dims]
            frames[var] = da.transpose(*order).to_pandas()
        return pd.concat(frames, axis=1) if frames else pd.DataFrame()
