"""``tlkit demo``: depth comparison on the quadratic-feature target.

Two-layer (one gradient step + ridge) vs three-layer (Algorithm 1) networks on
f* = g*(xᵀAx) at d = 16, 3 seeds, n on a log2 grid up to 2¹⁴. The demo is a
small sweep (:mod:`tlkit.sweeps`): every cell is written atomically to
``OUT/cells/`` as soon as it finishes, so an interrupted demo resumes where it
stopped; the combined dataset goes to ``OUT/results.nc`` and the figure to
``OUT/demo.png``.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tlkit.errors import TlkitError
from tlkit.plugins import PluginHost

#: The embedded default config of the demo (the README's main job), a sweep spec.
DEMO_SWEEP: dict[str, Any] = {
    "seeds": [0, 1, 2],
    "base": {
        "target": {"name": "quadratic-feature", "params": {"d": 16}},
        "n_val": 2**12,
        "n_test": 2**13,
        "probes": ["test", "feature"],
    },
    "grid": {"n_train": [2**k for k in range(8, 15)]},
    "variants": [
        {"arch": "two-layer", "trainer": "one-step"},
        {"arch": "three-layer", "trainer": "layer-wise"},
    ],
}

METRICS = ("test_normalized_mse", "feature_corr")


def demo_spec(small: bool = False) -> dict[str, Any]:
    """The demo's sweep spec; ``small`` is a seconds-long version for smoke tests."""
    spec = copy.deepcopy(DEMO_SWEEP)
    if small:
        spec["seeds"] = [0, 1]
        spec["grid"]["n_train"] = [2**8, 2**10]
        spec["base"].update(n_val=2**10, n_test=2**10)
    return spec


def run_demo(
    out: Path,
    *,
    small: bool = False,
    host: PluginHost | None = None,
    quiet: bool = False,
    echo: Callable[[str], None] = print,
    force: bool = False,
) -> Any:
    """Run the demo; return the combined dataset (``arch`` x ``n_train`` x ``seed``).

    Args:
        out: output directory (finished cells inside are reused).
        small: a tiny grid for smoke tests.
        host: plugin host.
        quiet: a log line per cell (stderr) instead of a progress bar.
        echo: where to print the table and messages.
        force: run even if ``out`` holds a sweep of another config (for example the
            full demo when ``small`` is asked for); its results are discarded, as
            with ``tlkit sweep --force``.
    """
    from tlkit.plotting import plot_metrics, save_figure
    from tlkit.sweeps import sweep

    spec = demo_spec(small)
    if (Path(out) / "demo.png").is_dir():  # found before the work, not after it
        raise TlkitError(
            f"{Path(out) / 'demo.png'} is a directory; the demo draws its figure there"
        )
    # quiet: a line per cell instead of a bar (as tlkit sweep --quiet); minutes of
    # silence would look like a hang
    result = sweep(spec, out, host=host, progress="log" if quiet else "bar", force=force)
    if result.results is None:
        raise RuntimeError(f"every demo cell failed: {result.errors}")
    # each architecture has its own trainer: keep one "arch" axis for table and plot
    combined = result.results.tlkit.collapse("trainer")
    d = spec["base"]["target"]["params"]["d"]
    fig = plot_metrics(combined, METRICS, title=f"quadratic feature, d = {d}")
    save_figure(fig, out / "demo.png")
    _print_table(combined, echo)
    echo("")
    echo(result.summary())
    for cell_id, why in result.errors.items():
        echo(f"  failed: {cell_id}: {why}")
    echo(f"results: {out / 'results.nc'}\nfigure:  {out / 'demo.png'}")
    return combined


def _print_table(ds: Any, echo: Callable[[str], None]) -> None:
    table = ds.squeeze([d for d in ("d",) if d in ds.dims and ds.sizes[d] == 1])
    frame = table.tlkit.table([m for m in METRICS if m in table])
    echo("\nmedian over seeds (rows: n_train; columns: metric / architecture)")
    echo(frame.to_string(float_format=lambda v: f"{v:.4f}"))
    if frame.isna().all().any():
        echo(
            "(NaN: not defined for that architecture: a two-layer network has no scalar "
            "learned feature, so no feature_corr)"
        )
