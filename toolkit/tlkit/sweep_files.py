"""The files of a sweep directory: where each cell's results, errors and runs go.

```
DIR/sweep.json                   the sweep config and cell ids (written first)
DIR/cells/<cell-id>.nc           a finished cell, all seeds (atomic)
DIR/cells/<cell-id>.error.json   a cell that raised
DIR/runs/<cell-id>/seed-<S>/     with --save-runs: each seed's run directory
DIR/results.nc                   every cell combined
DIR/analysis.nc                  tlkit analyze DIR (probes run again on the saved runs)
DIR/analysis-cells/<probes>/     its per-cell files
```
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tlkit.atomic import atomic_file, ensure_writable_dir, remove_stale_temporaries
from tlkit.errors import TlkitError

if TYPE_CHECKING:
    from tlkit.sweeps import Cell, SweepSpec

SWEEP_SCHEMA = 1
CELLS = "cells"
RUNS = "runs"
SPEC_FILE = "sweep.json"
RESULTS_FILE = "results.nc"
#: where ``tlkit analyze SWEEP_DIR`` writes by default (the sweep owns results.nc)
ANALYSIS_FILE = "analysis.nc"
#: where each cell's analysis is kept (one folder per set of probes), for resuming
ANALYSIS_CELLS = "analysis-cells"


def cell_path(out: Path, cell: Cell) -> Path:
    """The results file of a finished cell."""
    return out / CELLS / f"{cell.id}.nc"


def error_path(out: Path, cell: Cell) -> Path:
    """The error record of a cell that raised."""
    return out / CELLS / f"{cell.id}.error.json"


def run_paths(out: str | Path, cell: Cell) -> list[Path]:
    """The run directories of a cell's seeds (``--save-runs``): ``DIR/runs/CELL/seed-S``."""
    return [Path(out) / RUNS / cell.id / f"seed-{int(c['seed'])}" for c in cell.configs]


def runs_saved(out: str | Path, cell: Cell, *, complete: bool = False) -> bool:
    """Whether every seed of ``cell`` has a saved run directory (one with a manifest).

    Args:
        complete: also require a readable manifest and every state file it lists
            (a resumed ``--save-runs`` sweep trains such cells again; an analysis
            reports a damaged run instead of skipping its cell).
    """
    from tlkit.checkpoint import MANIFEST, looks_complete

    check = looks_complete if complete else (lambda path: (path / MANIFEST).is_file())
    return all(check(path) for path in run_paths(out, cell))


def write_error(out: Path, cell: Cell, reason: str, detail: str = "") -> None:
    """Record a cell that raised (atomically), replacing any older record."""
    record = {
        "cell": cell.id,
        "label": cell.label,
        "error": reason,
        "traceback": detail,
        "time": time.strftime("%Y-%m-%dT%H:%M:%S"),
    }
    with atomic_file(error_path(out, cell), clean_stale=False) as tmp:
        tmp.write_text(json.dumps(record, indent=2))


def check_directory(out: Path, spec: SweepSpec, force: bool) -> None:
    """Refuse a directory that holds another sweep (unless ``force``) or other files.

    Raises:
        TlkitError: one line saying what is there and what to do.
    """
    if not out.exists():
        return
    if not out.is_dir():
        raise TlkitError(f"{out} exists and is not a directory")
    if (out / RESULTS_FILE).is_dir():
        raise TlkitError(f"{out / RESULTS_FILE} is a directory; the sweep writes its results there")
    spec_file = out / SPEC_FILE
    if spec_file.is_file():
        recorded = read_record(out)["spec"]
        if recorded != spec.to_dict() and not force:
            raise TlkitError(
                f"{out} holds a sweep with a different config; use another --out, or "
                "--force to discard its results"
            )
    elif any(out.iterdir()) and not only_sweep_files(out):
        # not even with --force: it would replace the results.nc of whatever is there
        raise TlkitError(
            f"{out} exists, is not empty and is not a sweep directory (no {SPEC_FILE}); "
            "choose another --out"
        )


#: what a sweep writes into its directory (a directory of only these is a sweep's,
#: also when its sweep.json was deleted to be written again)
_SWEEP_ENTRIES = {CELLS, RUNS, SPEC_FILE, RESULTS_FILE, ANALYSIS_FILE, ANALYSIS_CELLS}


def only_sweep_files(out: Path) -> bool:
    """Whether ``out`` is a sweep's directory without its ``sweep.json``: a ``cells/``
    folder and nothing but what a sweep writes (hidden temporaries aside)."""
    return (out / CELLS).is_dir() and all(
        p.name in _SWEEP_ENTRIES or p.name.startswith(".") for p in out.iterdir()
    )


def read_record(out: Path) -> dict[str, Any]:
    """The record in ``out/sweep.json``: ``{"spec": ..., "cells": [...], ...}``.

    Raises:
        TlkitError: unreadable or damaged (saying how to recover without losing the
            finished cells), or written by a newer tlkit.
    """
    spec_file = out / SPEC_FILE
    try:
        record = json.loads(spec_file.read_text(encoding="utf-8"))
        if not isinstance(record, dict) or not isinstance(record.get("spec"), dict):
            raise ValueError("not a sweep record")
    except (OSError, ValueError) as exc:
        raise TlkitError(
            f"{spec_file} is unreadable ({type(exc).__name__}: {exc}); delete it and rerun "
            "the same sweep command to write it again: finished cells of that config are "
            "reused (their files are named by a hash of their configs)"
        ) from None
    schema = record.get("tlkit_sweep_schema", 1)
    if not isinstance(schema, int) or schema > SWEEP_SCHEMA:
        raise TlkitError(
            f"{out} was written by a newer tlkit (sweep schema {schema!r}; this tlkit reads "
            f"up to {SWEEP_SCHEMA}); upgrade tlkit to use it"
        )
    return record


def prepare_directory(out: Path, spec: SweepSpec, cells: Sequence[Cell], force: bool) -> None:
    """Create ``out``; with ``force`` and a different recorded config, drop old results."""
    spec_file = out / SPEC_FILE
    if force and out.is_dir():
        recorded = read_record(out)["spec"] if spec_file.is_file() else None
        # no record (deleted because it was damaged): the cell files are named by a
        # hash of their configs, so this sweep's are reused and others never collected
        if recorded is not None and recorded != spec.to_dict():
            # Only what a sweep writes is removed; anything else the user put there stays.
            for path in (out / CELLS).glob("*.nc"):
                path.unlink()
            for path in (out / CELLS).glob("*.error.json"):
                path.unlink()
            for name in (RESULTS_FILE, SPEC_FILE):
                (out / name).unlink(missing_ok=True)
            shutil.rmtree(out / RUNS, ignore_errors=True)
            shutil.rmtree(out / ANALYSIS_CELLS, ignore_errors=True)
            (out / ANALYSIS_FILE).unlink(missing_ok=True)
    ensure_writable_dir(out / CELLS)
    # Leftovers of writers killed mid-write (hidden temporary names, never a cell's
    # name); those of writers still running, e.g. another machine's, stay.
    remove_stale_temporaries(out / CELLS)
    record = {
        "tlkit_sweep_schema": SWEEP_SCHEMA,
        "spec": spec.to_dict(),
        "cells": [c.id for c in cells],
    }
    with atomic_file(spec_file) as tmp:
        tmp.write_text(json.dumps(record, indent=2))  # in order: see SweepSpec.to_dict


def recorded_spec(out: Path) -> Any:
    """The sweep config recorded in ``out/sweep.json`` (None if there is none).

    Raises:
        TlkitError: see :func:`read_record`.
    """
    if not (out / SPEC_FILE).is_file():
        return None
    return read_record(out)["spec"]
