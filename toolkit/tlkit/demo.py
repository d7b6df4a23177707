"""``tlkit demo``: depth comparison on the quadratic-feature target.

Two-layer (one gradient step + ridge) vs three-layer (Algorithm 1) networks on
f* = g*(xᵀAx) at d = 16, 3 seeds, n on a log2 grid up to 2¹⁴. Each run ("cell")
is written atomically to ``OUT/cells/`` as soon as it finishes, so an interrupted
demo resumes where it stopped; the combined dataset goes to ``OUT/results.nc`` and
the figure to ``OUT/demo.png``.
"""

from __future__ import annotations

import json
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tlkit import results
from tlkit.atomic import ensure_writable_dir
from tlkit.plugins import PluginHost

#: The embedded default config of the demo (the README's main job).
DEMO_CONFIG: dict[str, Any] = {
    "target": {"name": "quadratic-feature", "params": {"d": 16}},
    "networks": [
        {
            "arch": {"name": "two-layer", "params": {}},
            "trainer": {"name": "one-step", "params": {}},
        },
        {
            "arch": {"name": "three-layer", "params": {}},
            "trainer": {"name": "layer-wise", "params": {}},
        },
    ],
    "n_train": [2**k for k in range(8, 15)],
    "seeds": [0, 1, 2],
    "n_val": 2**12,
    "n_test": 2**13,
    "probes": ["test", "feature"],
}

SMALL_OVERRIDES: dict[str, Any] = {
    "n_train": [2**8, 2**10],
    "seeds": [0, 1],
    "n_val": 2**10,
    "n_test": 2**10,
}

METRICS = ("test_normalized_mse", "feature_corr")


def demo_cells(config: dict[str, Any]) -> list[dict[str, Any]]:
    """The demo's runs, in the order they are trained (cheap ones first)."""
    cells = []
    for n in config["n_train"]:
        for net in config["networks"]:
            for seed in config["seeds"]:
                cells.append(
                    {
                        "id": f"{net['arch']['name']}__n{n}__s{seed}",
                        "config": {
                            "target": config["target"],
                            "arch": net["arch"],
                            "trainer": net["trainer"],
                            "n_train": n,
                            "n_val": config["n_val"],
                            "n_test": config["n_test"],
                            "seed": seed,
                            "probes": config["probes"],
                        },
                    }
                )
    return cells


def run_demo(
    out: Path,
    *,
    small: bool = False,
    host: PluginHost | None = None,
    quiet: bool = False,
    echo: Callable[[str], None] = print,
) -> Any:
    """Run the demo; return the combined dataset.

    Args:
        out: output directory (created; finished cells inside are reused).
        small: a tiny grid for smoke tests.
        host: plugin host.
        quiet: no progress bar.
        echo: where to print the table and messages.
    """
    from tlkit.pipeline import build, make_config, train
    from tlkit.plotting import plot_metrics, save_figure
    from tlkit.plugins import get_host

    host = host or get_host()
    config = {**DEMO_CONFIG, **(SMALL_OVERRIDES if small else {})}
    cells_dir = out / "cells"
    ensure_writable_dir(cells_dir)
    cells = demo_cells(config)
    # Validate every component name and parameter before any training.
    for net in config["networks"]:
        build(make_config(demo_cells({**config, "networks": [net]})[0]["config"]), host)

    datasets = []
    failures: dict[str, str] = {}
    start = time.perf_counter()
    with _progress(quiet, len(cells)) as advance:
        for cell in cells:
            path = cells_dir / f"{cell['id']}.nc"
            if path.exists():
                datasets.append(results.open_results(path))
                advance(cell["id"], reused=True)
                continue
            try:
                with warnings.catch_warnings():
                    # the feature probe does not apply to two-layer nets; that is expected
                    warnings.simplefilter("ignore", UserWarning)
                    run = train(cell["config"], host=host)
            except Exception as exc:  # one failing cell must not lose the others
                failures[cell["id"]] = f"{type(exc).__name__}: {exc}"
                advance(cell["id"], failed=True)
                continue
            results.save_dataset(run.results, path)
            datasets.append(run.results)
            advance(cell["id"])
    elapsed = time.perf_counter() - start
    if not datasets:
        raise RuntimeError(f"every demo cell failed: {failures}")
    # each architecture has its own trainer: keep one "arch" axis for table and plot
    combined = results.combine(datasets).tlkit.collapse("trainer")
    combined.attrs["demo_config"] = json.dumps(config)
    results.save_dataset(combined, out / "results.nc")
    fig = plot_metrics(
        combined,
        METRICS,
        title=f"quadratic feature, d = {config['target']['params']['d']}: "
        "median and min–max over seeds",
    )
    save_figure(fig, out / "demo.png")
    _print_table(combined, echo)
    echo(f"\n{len(datasets)} runs ({len(failures)} failed) in {elapsed:.0f} s")
    for cell_id, why in failures.items():
        echo(f"  failed: {cell_id}: {why}")
    echo(f"results: {out / 'results.nc'}\nfigure:  {out / 'demo.png'}")
    return combined


def _print_table(ds: Any, echo: Callable[[str], None]) -> None:
    table = ds.squeeze([d for d in ("trainer", "d") if d in ds.dims and ds.sizes[d] == 1])
    frame = table.tlkit.table([m for m in METRICS if m in table])
    echo("\nmedian over seeds (rows: n_train; columns: metric / architecture)")
    echo(frame.to_string(float_format=lambda v: f"{v:.4f}"))


class _progress:
    """A rich progress bar over cells (or nothing when quiet)."""

    def __init__(self, quiet: bool, total: int) -> None:
        self.quiet = quiet
        self.total = total
        self.failed = 0

    def __enter__(self) -> Callable[..., None]:
        if self.quiet:
            return lambda *a, **k: None
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self._bar = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("failed: {task.fields[failed]}"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
        )
        self._bar.__enter__()
        self._task = self._bar.add_task("demo", total=self.total, failed=0)

        def advance(cell_id: str, failed: bool = False, reused: bool = False) -> None:
            self.failed += int(failed)
            self._bar.update(self._task, advance=1, description=cell_id, failed=self.failed)

        return advance

    def __exit__(self, *exc: Any) -> None:
        if not self.quiet:
            self._bar.__exit__(*exc)
