"""``tlkit sweep``, ``tlkit plot`` and ``tlkit threshold``: thin click commands.

They are plain click commands; the ``tlkit`` group adds them with
``cli.add_command(...)`` (see :data:`COMMANDS`). User errors raise
:class:`tlkit.errors.TlkitError`, which the group prints as one line (exit 2).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import click
import numpy as np

from tlkit.errors import ConfigError, TlkitError

DEFAULT_METRICS = ("test_normalized_mse", "feature_corr")


def executor_options(what: str) -> Any:
    """The ``--executor/--workers/--scheduler/--plugin`` options, for ``what`` (cells).

    Shared by ``tlkit sweep`` (trains cells) and ``tlkit analyze SWEEP_DIR`` (probes
    them), so the two take the same cluster options.
    """

    def apply(command: Any) -> Any:
        for option in reversed(
            [
                click.option(
                    "--executor",
                    type=click.Choice(["local", "dask"]),
                    default="local",
                    show_default=True,
                    help=f"{what} in this process or on a Dask cluster.",
                ),
                click.option(
                    "--workers", type=int, help="dask: start a local cluster of N worker processes."
                ),
                click.option(
                    "--scheduler", help="dask: address of an existing scheduler (tcp://host:port)."
                ),
                click.option(
                    "--plugin",
                    "plugins",
                    multiple=True,
                    metavar="MODULE:ATTR",
                    help="Extra plugin object that Dask workers load (repeatable).",
                ),
            ]
        ):
            command = option(command)
        return command

    return apply


@click.command("sweep")
@click.argument("config", type=click.Path(dir_okay=False))
@click.option("--out", required=True, type=click.Path(file_okay=False), help="Sweep directory.")
@executor_options("Run cells")
@click.option("--gpus", help="dask local cluster: comma-separated GPU ids, one per worker.")
@click.option(
    "--force",
    is_flag=True,
    help="Run even if DIR holds a sweep with another config (its results are discarded).",
)
@click.option("--quiet", is_flag=True, help="Plain log lines instead of a progress bar.")
@click.option(
    "--timeout",
    "connect_timeout",
    type=float,
    default=10.0,
    show_default=True,
    help="Seconds to wait for a Dask scheduler.",
)
@click.option(
    "--variants",
    metavar="NAME[,NAME...]",
    help="Run only the cells of these variants (the directory still holds the whole "
    "sweep: run the others elsewhere, or later).",
)
@click.option(
    "--dry-run",
    is_flag=True,
    help="Check everything and list the cells that would run; write nothing, start nothing.",
)
@click.option(
    "--save-runs",
    is_flag=True,
    help="Also save every seed's trained network (DIR/runs/CELL/seed-S), for "
    "'tlkit analyze' with other probes later; finished cells without runs train again.",
)
@click.option(
    "--compile-cache",
    metavar="DIR",
    help="Keep compiled programs in this directory and reuse them in later runs and "
    "in local Dask workers (a directory only you write to; see docs: Sweeps).",
)
@click.pass_context
def sweep_command(
    ctx: click.Context,
    config: str,
    out: str,
    executor: str,
    workers: int | None,
    scheduler: str | None,
    gpus: str | None,
    plugins: tuple[str, ...],
    force: bool,
    quiet: bool,
    connect_timeout: float,
    variants: str | None,
    dry_run: bool,
    save_runs: bool,
    compile_cache: str | None,
) -> None:
    """Run (or resume) the grid of runs in CONFIG (TOML) into DIR."""
    from tlkit.compile_cache import check_cache_location, check_env_cache_location
    from tlkit.sweeps import plan_sweep, sweep

    if not (math.isfinite(connect_timeout) and connect_timeout > 0):
        raise ConfigError(
            f"--timeout must be a positive number of seconds, got {connect_timeout:g}"
        )
    # before anything is written or compiled, and under --dry-run too
    if compile_cache is not None:
        check_cache_location(compile_cache, out=out)
    else:
        check_env_cache_location(out)
    gpu_ids = [g.strip() for g in gpus.split(",")] if gpus is not None else None
    if dry_run:
        from tlkit.executors import HostSpec, check_executor_options

        check_executor_options(executor, workers=workers, scheduler=scheduler, gpus=gpu_ids)
        HostSpec(load_entry_points=True, plugins=tuple(plugins)).check(
            import_here=scheduler is None
        )
        plan = plan_sweep(
            config,
            out,
            host=ctx.find_root().obj,
            force=force,
            variants=split_names(variants),
            save_runs=save_runs,
        )
        click.echo(plan.summary() + " (dry run: nothing written)")
        for todo in plan.todo:
            click.echo(f"  would run: {todo.label} ({len(todo.configs)} seeds)")
        return

    if compile_cache is not None:
        from tlkit.compile_cache import enable_compile_cache

        enable_compile_cache(compile_cache)

    if gpus and executor == "dask" and scheduler is None:
        import jax

        # The GPUs belong to the workers: this process only plans and combines, and a
        # GPU backend here would take 75 % of a GPU's memory that a worker then lacks.
        jax.config.update("jax_platforms", "cpu")

    result = sweep(
        config,
        out,
        executor=executor,
        workers=workers,
        scheduler=scheduler,
        force=force,
        host=ctx.find_root().obj,
        plugins=plugins,
        progress="log" if quiet else "bar",
        echo=lambda line: click.echo(line, err=True),
        connect_timeout=connect_timeout,
        gpus=gpu_ids,
        variants=split_names(variants),
        save_runs=save_runs,
    )
    click.echo(result.summary())
    for cell, why in result.errors.items():
        click.echo(f"  failed: {cell}: {why}")
    if result.results is not None:
        click.echo(f"results: {Path(out) / 'results.nc'}")
    if result.selected_errors:
        # everything that ran is kept; the status tells scripts that cells are missing
        # (only cells this command was asked for: other variants may run elsewhere)
        click.echo(
            f"error: {len(result.selected_errors)} cell(s) raised (records in "
            f"{Path(out) / 'cells'}); "
            "fix the cause and rerun the same command to run only those",
            err=True,
        )
        ctx.exit(1)


def split_names(text: str | None) -> list[str] | None:
    """``a, b`` -> ``["a", "b"]``; ``None`` stays ``None`` (every variant)."""
    return None if text is None else [v.strip() for v in text.split(",") if v.strip()]


def check_dimension(ds: Any, option: str, name: str, *, numeric: bool = False) -> None:
    """Raise a one-line ConfigError unless ``name`` is a (numeric) dimension of ``ds``."""
    if name not in ds.dims:
        raise ConfigError(
            f"{option} {name!r} is not a dimension; available: {', '.join(map(str, ds.dims))}"
        )
    if numeric and not np.issubdtype(ds[name].dtype, np.number):
        valid = [str(d) for d in ds.dims if np.issubdtype(ds[d].dtype, np.number)]
        raise ConfigError(
            f"{option} {name!r} is not numeric; numeric dimensions: {', '.join(valid)}"
        )


def check_metric(ds: Any, option: str, name: str) -> None:
    """Raise a one-line ConfigError unless ``name`` is a numeric variable of ``ds``.

    Probe metrics and the ``fit_*`` variables (e.g. a chosen step size) both qualify;
    the message lists the metrics only (there are many ``fit_*`` variables).
    """
    metrics = ds.tlkit.metrics()
    if name not in ds.data_vars:
        raise ConfigError(f"unknown metric {name!r}; available: {', '.join(sorted(metrics))}")
    if not np.issubdtype(ds[name].dtype, np.number):
        numeric = [m for m in metrics if np.issubdtype(ds[m].dtype, np.number)]
        raise ConfigError(
            f"{option} {name!r} is not numeric; numeric metrics: {', '.join(numeric)}"
        )


def check_not_seed(x: str) -> None:
    """Refuse ``--x seed``: the seeds are what the median and band are taken over."""
    if x == "seed":
        raise ConfigError("--x 'seed' is the dimension the median is taken over; use n_train")


def check_has_values(ds: Any, option: str, name: str, results_file: str) -> None:
    """Raise a one-line ConfigError when the metric ``name`` is NaN everywhere."""
    if not bool(ds[name].notnull().any()):
        raise ConfigError(
            f"{option} {name!r} has no values in {results_file} (NaN everywhere: no run "
            "measured it, e.g. a probe that does not apply to these architectures)"
        )


@click.command("plot")
@click.argument("results_file", type=click.Path(dir_okay=False))
@click.option("--x", "x", default="n_train", show_default=True, help="x-axis dimension.")
@click.option(
    "--y",
    "metrics",
    multiple=True,
    help="Metric to plot, one row of panels each (repeatable; default: "
    "test_normalized_mse and feature_corr).",
)
@click.option("--hue", default="arch", show_default=True, help="One line per value.")
@click.option("--col", help="One column of panels per value of this dimension.")
@click.option(
    "--out",
    type=click.Path(dir_okay=False),
    help="Figure file, .png or .svg (default: next to the results, .png).",
)
def plot_command(
    results_file: str, x: str, metrics: tuple[str, ...], hue: str, col: str | None, out: str | None
) -> None:
    """Median and min–max band over seeds of metrics against n (the papers' style)."""
    from tlkit.plotting import plot_grid, save_figure
    from tlkit.results import open_results

    ds = open_results(results_file)
    # the defaults that hold values (feature_corr is NaN for two-layer networks only)
    chosen = list(metrics) or [m for m in DEFAULT_METRICS if m in ds and ds[m].notnull().any()]
    if not chosen:
        raise TlkitError(
            f"none of {', '.join(DEFAULT_METRICS)} has values in {results_file}; "
            f"choose with --y (available: {', '.join(ds.tlkit.metrics())})"
        )
    path = Path(out) if out else Path(results_file).with_suffix(".png")
    if path.suffix.lower() not in (".png", ".svg"):
        raise ConfigError(f"--out must end in .png or .svg, got {path.name!r}")
    for metric in chosen:
        check_metric(ds, "--y", metric)
        check_has_values(ds, "--y", metric, results_file)
    check_dimension(ds, "--x", x, numeric=True)
    check_not_seed(x)
    if col is not None:
        check_dimension(ds, "--col", col)
    if hue == "arch":
        # the default: absent from results of one architecture, and left out when
        # --x or --col already spreads the architectures
        hue_dim = hue if hue in ds.dims and hue not in (x, col) else None
    else:
        check_dimension(ds, "--hue", hue)
        hue_dim = hue
    used = [d for d in (x, hue_dim, col) if d is not None]
    if len(set(used)) < len(used):
        raise ConfigError(f"--x, --hue and --col must be different dimensions, got {used}")
    fig = plot_grid(ds, chosen, x=x, hue=hue_dim, col=col)
    save_figure(fig, path)
    click.echo(f"figure: {path}")


@click.command("threshold")
@click.argument("results_file", type=click.Path(dir_okay=False))
@click.option("--metric", required=True, help="Metric variable, e.g. feature_corr.")
@click.option("--level", required=True, type=float, help="Level the median must cross.")
@click.option(
    "--above",
    is_flag=True,
    help="Metric must rise to >= level (the default, except for errors: *mse, *error).",
)
@click.option(
    "--below", is_flag=True, help="Metric must fall to <= level (the default for errors)."
)
@click.option("--x", "x", default="n_train", show_default=True, help="Sample-size dimension.")
@click.option("--across", default="d", show_default=True, help="Fit the threshold against this.")
@click.option(
    "--bootstrap",
    "n_boot",
    type=int,
    default=1000,
    show_default=True,
    help="Bootstrap resamples over seeds.",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Bootstrap seed.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def threshold_command(
    results_file: str,
    metric: str,
    level: float,
    above: bool,
    below: bool,
    x: str,
    across: str,
    n_boot: int,
    seed: int,
    as_json: bool,
) -> None:
    """Smallest n where the median metric crosses LEVEL, and its log–log slope in d."""
    from tlkit.plotting import is_error_metric
    from tlkit.results import open_results
    from tlkit.threshold import scaling, thresholds

    if above and below:
        raise ConfigError("give --above or --below, not both")
    # an error must fall to a level; with --above, a falling curve is "crossed" at its
    # first point, which answered nothing
    inferred = not (above or below)
    above = above or (not below and not is_error_metric(metric))
    if n_boot < 1:
        raise ConfigError(f"--bootstrap must be >= 1, got {n_boot}")
    if seed < 0:
        raise ConfigError(f"--seed must be >= 0, got {seed}")
    if not math.isfinite(level):
        raise ConfigError(f"--level must be finite, got {level}")
    ds = open_results(results_file)
    check_metric(ds, "--metric", metric)
    check_dimension(ds, "--x", x, numeric=True)
    check_not_seed(x)
    if across == x:
        raise ConfigError(
            f"--across {across!r} is also --x: the threshold in {x} is fitted against "
            "another dimension (e.g. --across d)"
        )
    if across != "d":  # the default may be absent (one d): then there is no fit
        check_dimension(ds, "--across", across, numeric=True)
    check_has_values(ds, "--metric", metric, results_file)
    table = thresholds(ds, metric, level, above=above, x=x)
    # Leave out curves with no data at all (e.g. arch/trainer pairs that no variant ran).
    reduce = [d for d in (x, "seed") if d in ds[metric].dims]
    has_data = ds[metric].notnull().any(reduce)
    fits = (
        scaling(ds, metric, level, above=above, x=x, across=across, n_boot=n_boot, seed=seed)
        if across in table.dims and table.sizes[across] > 1
        else []
    )
    n_min = float(ds[x].min())
    records = _records(table, has_data)
    for record in records:
        value = record["threshold"]
        record["status"] = (
            "not reached"
            if math.isnan(value)
            else "upper bound"  # already crossed at the smallest n: only <= is known
            if value <= n_min
            else "crossed"
        )
    if as_json:
        payload = {"thresholds": records, "fits": [f.__dict__ for f in fits]}
        # strict JSON: NaN (not reached, undefined fits) becomes null
        click.echo(json.dumps(_strict_json(payload), indent=2, allow_nan=False))
        return
    direction = ">=" if above else "<="
    why = ""
    if inferred:
        why = " (an error: --below assumed)" if not above else ""
    click.echo(f"threshold: smallest {x} with median {metric} {direction} {level:g}{why}")
    for record in records:
        coords = ", ".join(
            f"{k}={v}" for k, v in record.items() if k not in ("threshold", "status")
        )
        value = record["threshold"]
        if record["status"] == "not reached":
            text = "not reached"
        elif record["status"] == "upper bound":
            text = f"<= {value:g} (already crossed at the smallest n; left out of the fit)"
        else:
            text = f"{value:.1f}"
        click.echo(f"  {coords}: {text}")
    for fit in fits:
        group = ", ".join(f"{k}={v}" for k, v in fit.group.items()) or "all"
        click.echo(
            f"slope of log2 threshold vs log2 {across} ({group}): {fit.slope:.3f} "
            f"[{fit.ci[0]:.3f}, {fit.ci[1]:.3f}] (95% bootstrap over seeds, "
            f"{fit.n_boot_valid}/{fit.n_boot} resamples defined)"
        )


def _records(table: Any, has_data: Any) -> list[dict[str, Any]]:
    frame = table.to_dataframe(name="threshold").reset_index()
    keep = has_data.broadcast_like(table).transpose(*table.dims).values.ravel()
    frame = frame[keep]
    frame = frame[[c for c in frame.columns if c in (*table.dims, "threshold")]]
    return [{k: _jsonable(v) for k, v in row.items()} for row in frame.to_dict("records")]


def _strict_json(value: Any) -> Any:
    """``value`` with NumPy scalars as Python ones and NaN/inf as None."""
    value = _jsonable(value)
    if isinstance(value, dict):
        return {k: _strict_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_strict_json(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _jsonable(value: Any) -> Any:
    if hasattr(value, "item"):
        return value.item()
    if isinstance(value, tuple):
        return list(value)
    return value


#: The commands to add to the ``tlkit`` group.
COMMANDS = (sweep_command, plot_command, threshold_command)
