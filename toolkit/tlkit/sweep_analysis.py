"""Probing a sweep's saved runs again (``tlkit analyze SWEEP_DIR``).

A sweep run with ``--save-runs`` keeps every seed's trained network under
``DIR/runs/CELL/seed-S``. :func:`analyze_sweep` runs probes on all of them and
combines the results the way the sweep combined its own (same dimensions and
coordinates), so a probe added after the sweep lines up with ``results.nc`` without
training anything again.
"""

from __future__ import annotations

import json
import sys
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import xarray as xr

from tlkit.config import ComponentConfig, parse_probes
from tlkit.errors import ConfigError, TlkitError
from tlkit.interrupts import raise_if_interrupted
from tlkit.plugins import PluginHost, get_host

#: where ``tlkit analyze SWEEP_DIR`` writes by default (the sweep owns results.nc)
ANALYSIS_FILE = "analysis.nc"


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
    from tlkit.sweeps import expand_cells, run_paths, runs_saved

    root = Path(sweep_dir)
    rows = []
    for cell in expand_cells(_load_recorded_spec(root)):
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


def _load_recorded_spec(root: Path) -> Any:
    from tlkit.sweeps import SPEC_FILE, SweepSpec

    try:
        recorded = json.loads((root / SPEC_FILE).read_text(encoding="utf-8"))["spec"]
        return SweepSpec.from_dict(recorded)
    except FileNotFoundError:
        raise TlkitError(f"not a sweep directory (no {SPEC_FILE}): {root}") from None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise TlkitError(f"cannot read {root / SPEC_FILE}: {exc}") from None


def analyze_sweep(
    sweep_dir: str | Path,
    probes: Sequence[str | ComponentConfig] | None = None,
    *,
    out: str | Path | None = None,
    host: PluginHost | None = None,
    progress: str = "bar",
    echo: Callable[[str], None] | None = None,
) -> SweepAnalysis:
    """Run probes on every saved run of a sweep and combine them like the sweep does.

    Args:
        sweep_dir: a sweep directory run with ``save_runs=True`` (``--save-runs``).
        probes: probe names or configs; ``None`` runs each run's configured (or the
            default) probes.
        out: the netCDF file to write; default ``SWEEP_DIR/analysis.nc``.
        host: plugin host.
        progress: ``"bar"``, ``"log"`` (one line per cell) or ``"none"``.
        echo: where log lines go (default: stderr).

    Returns:
        A :class:`SweepAnalysis`.

    Raises:
        TlkitError: not a sweep directory, no saved runs, an output the sweep owns
            or that is not a results file, a bad probe - all before any probe runs;
            a damaged run directory (naming it) before anything is written.
    """
    from tlkit.atomic import ensure_writable_dir
    from tlkit.pipeline import analyze, build_probes, check_replaceable_results
    from tlkit.results import combine, merge_probe_results, open_results, save_dataset
    from tlkit.sweeps import (
        CELLS,
        RESULTS_FILE,
        SPEC_FILE,
        cell_dataset,
        expand_cells,
        run_paths,
        runs_saved,
    )

    if progress not in ("bar", "log", "none"):
        raise ConfigError(f"progress must be one of bar, log, none, got {progress!r}")
    root = Path(sweep_dir)
    spec = _load_recorded_spec(root)
    cells = expand_cells(spec)
    with_runs = [c for c in cells if runs_saved(root, c)]
    if not with_runs:
        raise TlkitError(
            f"{root} holds no saved runs; rerun the sweep with --save-runs (it trains only "
            "the cells whose runs are missing)"
        )
    host = host or get_host()
    chosen = None if probes is None else parse_probes(probes)
    if chosen is not None:
        build_probes(chosen, host)  # a bad probe is one line before any work
    path = Path(out) if out is not None else root / ANALYSIS_FILE
    owned = {(root / RESULTS_FILE).resolve(), (root / SPEC_FILE).resolve()}
    if path.resolve() in owned or path.resolve().parent == (root / CELLS).resolve():
        raise TlkitError(f"{path} belongs to the sweep (it rewrites it); choose another --out")
    ensure_writable_dir(path.parent)
    check_replaceable_results(path)

    datasets = []
    runs = 0
    skipped: dict[str, tuple[int, str]] = {}
    ran: set[str] = set()
    with _Progress(sum(len(c.configs) for c in with_runs), progress, echo) as bar:
        for cell in with_runs:
            per_seed = []
            for run_dir in run_paths(root, cell):
                raise_if_interrupted()
                with warnings.catch_warnings():  # counted below, not one warning per run
                    warnings.filterwarnings("ignore", message=r"probe '.*' skipped: ")
                    ds = analyze(run_dir, probes=chosen, host=host, write=False)
                for probe, why in json.loads(ds.attrs.get("skipped_probes", "{}")).items():
                    count, first = skipped.get(probe, (0, why))
                    skipped[probe] = (count + 1, first)
                ran.update(
                    str(v.attrs["probe"]) for v in ds.data_vars.values() if "probe" in v.attrs
                )
                per_seed.append(ds)
                runs += 1
                bar.advance(cell.label)
            datasets.append(cell_dataset(cell, per_seed))
            bar.cell_done(cell.label)
    raise_if_interrupted()
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


class _Progress:
    """A rich bar over runs, one log line per cell, or nothing."""

    def __init__(self, total: int, mode: str, echo: Callable[[str], None] | None) -> None:
        self.total, self.mode, self.done = total, mode, 0
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
            self._task = self._bar.add_task("", total=self.total)
        return self

    def advance(self, label: str) -> None:
        self.done += 1
        if self.mode == "bar":
            self._bar.update(self._task, advance=1, description=label[:60])

    def cell_done(self, label: str) -> None:
        if self.mode == "log":
            self.echo(f"[{self.done}/{self.total} runs] {label}: analyzed")

    def __exit__(self, *exc: Any) -> None:
        if self.mode == "bar":
            self._bar.__exit__(*exc)
