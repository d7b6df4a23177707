"""Probing a sweep's saved runs again (``tlkit analyze SWEEP_DIR``).

A sweep run with ``--save-runs`` keeps every seed's trained network under
``DIR/runs/CELL/seed-S``. :func:`analyze_sweep` runs probes on all of them and
combines the results the way the sweep combined its own (same dimensions and
coordinates), so a probe added after the sweep lines up with ``results.nc`` without
training anything again.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import sys
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import xarray as xr

from tlkit.config import ComponentConfig, parse_probes
from tlkit.errors import (
    ConfigError,
    NewerSchemaError,
    PluginMismatchError,
    RunDirectoryError,
    TlkitError,
)
from tlkit.interrupts import raise_if_interrupted
from tlkit.plugins import PluginHost, get_host
from tlkit.sweep_files import ANALYSIS_CELLS, ANALYSIS_FILE, RUNS


@dataclass
class SweepAnalysis:
    """What :func:`analyze_sweep` did.

    Attributes:
        results: the combined dataset (also written to ``path``).
        path: the file written.
        cells: cells analyzed (all their seeds had saved runs).
        runs: run directories analyzed.
        cells_without_runs: cells skipped because their runs were not saved.
    """

    results: xr.Dataset
    path: Path
    cells: int
    runs: int
    cells_without_runs: int
    #: probe -> (runs it was skipped for, the first reason)
    skipped: dict[str, tuple[int, str]] = field(default_factory=dict)

    def summary(self) -> str:
        """The CLI's report: one line, plus one per probe that was skipped somewhere."""
        text = f"analyzed {self.runs} runs of {self.cells} cells"
        if self.cells_without_runs:
            text += (
                f"; {self.cells_without_runs} cells have no saved runs (rerun the sweep "
                "with --save-runs to train and save them)"
            )
        for probe, (count, why) in self.skipped.items():
            text += f"\n  probe {probe!r} skipped for {count} of {self.runs} runs: {why}"
        return text


def is_sweep_directory(path: str | Path) -> bool:
    """Whether ``path`` is a sweep directory (it holds ``sweep.json``)."""
    from tlkit.sweeps import SPEC_FILE

    return (Path(path) / SPEC_FILE).is_file()


def saved_runs(sweep_dir: str | Path) -> list[dict[str, Any]]:
    """Every saved run of a sweep (``--save-runs``), with its coordinates.

    For picking runs in a notebook, e.g. ``pandas.DataFrame(saved_runs(DIR))`` and
    then :func:`tlkit.load_run` on a row's ``path``.

    Returns:
        One dict per saved run: ``arch``, ``trainer``, ``n_train``, ``seed``, the
        cell's own sweep coordinates (grid axes, ``variant``) and ``path``.

    Raises:
        TlkitError: not a sweep directory.
    """
    from tlkit.checkpoint import read_manifest
    from tlkit.sweeps import run_paths, runs_saved

    root = Path(sweep_dir)
    rows = []
    for cell in recorded_cells(root):
        if not runs_saved(root, cell):
            continue
        for path in run_paths(root, cell):
            config = read_manifest(path)["config"]
            trainer = config.get("trainer") or {}
            rows.append(
                {
                    "arch": config["arch"]["name"],
                    "trainer": trainer.get("name") if isinstance(trainer, dict) else trainer,
                    "n_train": int(config["n_train"]),
                    "seed": int(config["seed"]),
                    **cell.coords,
                    "path": path,
                }
            )
    return rows


def recorded_cells(root: Path) -> list[Any]:
    """The cells of the sweep recorded in ``root``, with the ids its files have.

    A cell id is a slug of the grid values in the grid's order plus a hash of the
    configs. Records written before tlkit kept that order (sorted keys) expand to
    other slugs, so each cell takes the recorded id with the same hash.
    """
    from tlkit.sweep_files import read_record
    from tlkit.sweeps import expand_cells

    cells = expand_cells(_load_recorded_spec(root))
    recorded = read_record(root).get("cells")
    if isinstance(recorded, list):
        by_hash = {str(r).rsplit("-", 1)[-1]: str(r) for r in recorded}
        for cell in cells:
            cell.id = by_hash.get(cell.id.rsplit("-", 1)[-1], cell.id)
    return cells


def _load_recorded_spec(root: Path) -> Any:
    from tlkit.sweep_files import read_record
    from tlkit.sweeps import SPEC_FILE, SweepSpec

    if not (root / SPEC_FILE).is_file():
        raise TlkitError(f"not a sweep directory (no {SPEC_FILE}): {root}")
    recorded = read_record(root)["spec"]
    try:
        return SweepSpec.from_dict(recorded)
    except (ValueError, KeyError, TypeError) as exc:
        raise TlkitError(f"cannot read {root / SPEC_FILE}: {exc}") from None


def analyze_sweep(
    sweep_dir: str | Path,
    probes: Sequence[str | ComponentConfig] | None = None,
    *,
    out: str | Path | None = None,
    host: PluginHost | None = None,
    progress: str = "bar",
    echo: Callable[[str], None] | None = None,
    executor: str = "local",
    workers: int | None = None,
    scheduler: str | None = None,
    plugins: Sequence[str] = (),
    connect_timeout: float = 10.0,
) -> SweepAnalysis:
    """Run probes on every saved run of a sweep and combine them like the sweep does.

    Each cell's analysis is written to ``SWEEP_DIR/analysis-cells/<probes>/<cell>.nc``
    as it finishes, so an interrupted analysis resumes where it stopped, and cells
    can be analyzed by Dask workers (as a sweep's cells are trained).

    Args:
        sweep_dir: a sweep directory run with ``save_runs=True`` (``--save-runs``).
        probes: probe names or configs; ``None`` runs each run's configured (or the
            default) probes.
        out: the netCDF file to write; default ``SWEEP_DIR/analysis.nc``, which gains
            probes on later calls.
        host: plugin host (this process's cells and the checks).
        progress: ``"bar"``, ``"log"`` (one line per cell) or ``"none"``.
        echo: where log lines go (default: stderr).
        executor: ``"local"`` or ``"dask"`` (with ``workers`` or ``scheduler``, as in
            :func:`tlkit.sweeps.sweep`; the workers must see ``sweep_dir``).
        workers: dask: start a local cluster with this many worker processes.
        scheduler: dask: address of an existing scheduler.
        plugins: ``"module:attribute"`` plugin objects for Dask workers.
        connect_timeout: seconds to wait for a scheduler.

    Returns:
        A :class:`SweepAnalysis`.

    Raises:
        TlkitError: not a sweep directory, no saved runs, an output the sweep owns
            or that is not a results file, a bad probe or executor option - all
            before any probe runs; a damaged run directory (naming it), with the
            cells analyzed before it kept for the next call.
    """
    from tlkit.atomic import ensure_writable_dir
    from tlkit.checkpoint import MANIFEST
    from tlkit.executors import HostSpec, check_executor_options
    from tlkit.pipeline import (
        ELSEWHERE,
        build_probes,
        check_replaceable_results,
        ensure_results_dir,
    )
    from tlkit.results import combine, merge_probe_results, open_results, save_dataset
    from tlkit.sweeps import CELLS, RESULTS_FILE, SPEC_FILE, run_paths, runs_saved

    if progress not in ("bar", "log", "none"):
        raise ConfigError(f"progress must be one of bar, log, none, got {progress!r}")
    check_executor_options(executor, workers=workers, scheduler=scheduler)
    root = Path(sweep_dir)
    spec = _load_recorded_spec(root)
    cells = recorded_cells(root)
    with_runs = [c for c in cells if runs_saved(root, c)]
    if not with_runs:
        # a cell counts only with every seed's run (its results are one grid point);
        # say so where some seeds' runs are there, e.g. after an interrupted sweep
        partial = sum(1 for c in cells if any((p / MANIFEST).is_file() for p in run_paths(root, c)))
        what = (
            f"no cell with every seed's run saved ({partial} of {len(cells)} cells have only some)"
            if partial
            else "no saved runs"
        )
        raise TlkitError(
            f"{root} holds {what}; rerun the sweep with --save-runs (it trains only "
            "the cells whose runs are missing)"
        )
    host = host or get_host()
    chosen = None if probes is None else parse_probes(probes)
    if chosen is not None:
        build_probes(chosen, host)  # a bad probe is one line before any work
    host_spec = HostSpec(load_entry_points=True, plugins=tuple(plugins))
    host_spec.check(import_here=scheduler is None)
    path = Path(out) if out is not None else root / ANALYSIS_FILE
    owned = {(root / RESULTS_FILE).resolve(), (root / SPEC_FILE).resolve()}
    # the sweep rewrites its cells and saved runs (and --force deletes them): a file
    # inside them would be lost
    owned_dirs = [(root / name).resolve() for name in (CELLS, RUNS, ANALYSIS_CELLS)]
    target = path.resolve()
    if target in owned or any(d == target or d in target.parents for d in owned_dirs):
        raise TlkitError(f"{path} belongs to the sweep (it rewrites it); choose another --out")
    ensure_results_dir(path.parent, out_given=out is not None)
    check_replaceable_results(path, sweep_config=json.dumps(spec.to_dict(), sort_keys=True))
    cell_dir = root / ANALYSIS_CELLS / _probes_key(chosen)
    try:
        ensure_writable_dir(cell_dir)
    except TlkitError as exc:
        if out is None:
            raise TlkitError(f"{exc}; {ELSEWHERE}") from None
        # a shared, read-only sweep analyzed into a file of one's own: the per-cell
        # files (for resuming) go next to that file instead
        cell_dir = path.parent / f".{path.name}.cells" / _probes_key(chosen)
        ensure_writable_dir(cell_dir)

    todo = [c for c in with_runs if not (cell_dir / f"{c.id}.nc").is_file()]
    probe_json = None if chosen is None else [dataclasses.asdict(pc) for pc in chosen]
    with _Progress(len(with_runs), len(with_runs) - len(todo), progress, echo) as bar:
        if executor == "local":
            for cell in todo:
                raise_if_interrupted()
                analyze_cell(root, cell, probe_json, host, cell_dir)
                bar.advance(cell.label)
        else:
            _analyze_on_dask(
                root,
                todo,
                probe_json,
                cell_dir,
                host_spec,
                bar,
                workers=workers,
                scheduler=scheduler,
                connect_timeout=connect_timeout,
            )
    raise_if_interrupted()

    datasets: list[xr.Dataset] = []
    skipped: dict[str, tuple[int, str]] = {}
    ran: set[str] = set()
    runs = 0
    for cell in with_runs:
        ds = open_results(cell_dir / f"{cell.id}.nc")
        for probe, (count, why) in json.loads(ds.attrs.pop("analysis_skipped", "{}")).items():
            before = skipped.get(probe, (0, why))
            skipped[probe] = (before[0] + count, before[1])
        ran.update(json.loads(ds.attrs.pop("analysis_ran", "[]")))
        runs += len(cell.configs)
        datasets.append(ds)
    if chosen is not None and not any(pc.name in ran for pc in chosen):
        probe, (_, why) = next(iter(skipped.items()))
        raise TlkitError(f"no probe applied to any run, nothing written: probe {probe!r}: {why}")
    combined = combine(datasets)
    if out is None and path.is_file():
        # like a run's results.nc, the sweep's analysis file gains probes
        try:
            earlier = open_results(path)
            names = [pc.name for pc in chosen] if chosen is not None else sorted(ran | set(skipped))
            combined = merge_probe_results(earlier, combined, names)
        except TlkitError as exc:
            raise TlkitError(
                f"cannot add to {path}: {exc}; write these results elsewhere with --out "
                "(or delete it)"
            ) from None
    combined.attrs["sweep_config"] = json.dumps(spec.to_dict(), sort_keys=True)
    combined.attrs["sweep_cells"] = len(cells)
    combined.attrs["sweep_cells_analyzed"] = len(with_runs)
    save_dataset(combined, path)
    return SweepAnalysis(combined, path, len(with_runs), runs, len(cells) - len(with_runs), skipped)


def _probes_key(chosen: Sequence[ComponentConfig] | None) -> str:
    """A folder name for one set of probes (names and parameters)."""
    text = json.dumps(
        None if chosen is None else [dataclasses.asdict(pc) for pc in chosen],
        sort_keys=True,
        default=str,
    )
    names = "configured" if chosen is None else "+".join(pc.name for pc in chosen)
    return f"{names[:48]}-{hashlib.sha256(text.encode()).hexdigest()[:10]}"


def analyze_cell(
    root: Path,
    cell: Any,
    probes: list[dict[str, Any]] | None,
    host: PluginHost,
    cell_dir: Path,
) -> None:
    """Probe one cell's saved runs and write its labelled dataset into ``cell_dir``.

    The dataset carries which probes ran and which were skipped (with counts) in its
    ``analysis_ran`` / ``analysis_skipped`` attributes, read back by
    :func:`analyze_sweep`.
    """
    from tlkit.pipeline import analyze
    from tlkit.results import save_dataset
    from tlkit.sweeps import cell_dataset, run_paths

    chosen = None if probes is None else parse_probes(probes)
    per_seed = []
    skipped: dict[str, list[Any]] = {}
    ran: set[str] = set()
    for run_dir in run_paths(root, cell):
        raise_if_interrupted()
        with warnings.catch_warnings():  # counted, not one warning per run
            warnings.filterwarnings("ignore", message=r"probe '.*' skipped: ")
            try:
                ds = analyze(run_dir, probes=chosen, host=host, write=False)
            except (PluginMismatchError, NewerSchemaError):
                raise  # the run is intact: install/enable the plugin, upgrade tlkit
            except RunDirectoryError as exc:
                raise RunDirectoryError(
                    f"{exc}; delete {run_dir} and rerun the sweep with --save-runs to train "
                    "that cell's runs again"
                ) from None
        for probe, why in json.loads(ds.attrs.get("skipped_probes", "{}")).items():
            skipped.setdefault(probe, [0, why])[0] += 1
        ran.update(str(v.attrs["probe"]) for v in ds.data_vars.values() if "probe" in v.attrs)
        per_seed.append(ds)
    combined = cell_dataset(cell, per_seed)
    combined.attrs["analysis_skipped"] = json.dumps(skipped, sort_keys=True)
    combined.attrs["analysis_ran"] = json.dumps(sorted(ran))
    save_dataset(combined, cell_dir / f"{cell.id}.nc")


def analyze_cell_json(task: str) -> str:
    """The Dask task: JSON in (sweep dir, cell, probes, host spec), JSON out (status)."""
    from tlkit.executors import HostSpec, _host_for
    from tlkit.sweeps import Cell

    data = json.loads(task)
    spec = HostSpec(data["host"]["load_entry_points"], tuple(data["host"]["plugins"]))
    cell = Cell.from_dict(data["cell"])
    try:
        analyze_cell(
            Path(data["root"]), cell, data["probes"], _host_for(spec), Path(data["cell_dir"])
        )
    except Exception as exc:  # reported by the driver in one line
        return json.dumps({"cell": cell.id, "label": cell.label, "error": _one_line(exc)})
    return json.dumps({"cell": cell.id, "label": cell.label, "error": ""})


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def _analyze_on_dask(
    root: Path,
    todo: Sequence[Any],
    probes: list[dict[str, Any]] | None,
    cell_dir: Path,
    host_spec: Any,
    bar: _Progress,
    *,
    workers: int | None,
    scheduler: str | None,
    connect_timeout: float,
) -> None:
    from tlkit.executors import DaskExecutor

    if not todo:
        return
    runner = DaskExecutor(
        host_spec=host_spec, workers=workers, scheduler=scheduler, connect_timeout=connect_timeout
    )
    errors = []
    try:
        from distributed import as_completed

        host = dataclasses.asdict(host_spec)
        futures = [
            runner.client.submit(
                analyze_cell_json,
                json.dumps(
                    {
                        "root": str(root.resolve()),
                        "cell": cell.to_dict(),
                        "probes": probes,
                        "cell_dir": str(cell_dir.resolve()),
                        "host": {**host, "plugins": list(host["plugins"])},
                    }
                ),
                pure=False,
            )
            for cell in todo
        ]
        for future in as_completed(futures):
            outcome = json.loads(future.result())
            if outcome["error"]:
                errors.append(outcome)
            bar.advance(outcome["label"])
    finally:
        runner.close()
    if errors:
        first = errors[0]
        raise TlkitError(
            f"{len(errors)} cell(s) could not be analyzed (the others are kept; rerun to "
            f"retry): [{first['label']}]: {first['error']}"
        )


class _Progress:
    """A rich bar over cells, one log line per cell, or nothing."""

    def __init__(
        self, total: int, done: int, mode: str, echo: Callable[[str], None] | None
    ) -> None:
        self.total, self.done, self.mode = total, done, mode
        self.echo = echo or (lambda line: print(line, file=sys.stderr, flush=True))

    def __enter__(self) -> _Progress:
        if self.mode == "bar":
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeRemainingColumn,
            )

            self._bar = Progress(
                TextColumn("[bold]analyze"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("ETA"),
                TimeRemainingColumn(),
                TextColumn("{task.description}"),
            )
            self._bar.__enter__()
            self._task = self._bar.add_task("", total=self.total, completed=self.done)
        elif self.mode == "log" and self.done:
            self.echo(f"[{self.done}/{self.total}] {self.done} analyzed cells reused")
        return self

    def advance(self, label: str) -> None:
        self.done += 1
        if self.mode == "bar":
            self._bar.update(self._task, advance=1, description=label[:60])
        elif self.mode == "log":
            self.echo(f"[{self.done}/{self.total}] {label}: analyzed")

    def __exit__(self, *exc: Any) -> None:
        if self.mode == "bar":
            self._bar.__exit__(*exc)
