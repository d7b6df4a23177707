"""``tlkit reproduce NAME [--small]``: run a named reproduction and draw its figures.

A plain click command; the ``tlkit`` group adds it with ``cli.add_command(...)``
(see :data:`COMMANDS`). User errors raise :class:`tlkit.errors.TlkitError`, which
the group prints as one line (exit 2).
"""

from __future__ import annotations

from pathlib import Path

import click

from tlkit.errors import ConfigError, TlkitError
from tlkit.sweep_cli import split_names


@click.command("reproduce")
@click.argument("name", required=False)
@click.option("--small", is_flag=True, help="The small variant (minutes on 2 CPU cores).")
@click.option(
    "--out",
    type=click.Path(file_okay=False),
    help="Sweep directory (default: tlkit-reproduce/NAME or NAME-small); reruns resume.",
)
@click.option("--list", "list_only", is_flag=True, help="List the reproductions and exit.")
@click.option("--show-config", is_flag=True, help="Print the sweep config (TOML) and exit.")
@click.option("--force", is_flag=True, help="Discard results of another config in --out.")
@click.option("--quiet", is_flag=True, help="Plain log lines instead of a progress bar.")
@click.option(
    "--bootstrap",
    "n_boot",
    type=int,
    default=1000,
    show_default=True,
    help="Bootstrap resamples over seeds for threshold slopes.",
)
@click.option(
    "--variants",
    metavar="NAME[,NAME...]",
    help="Run only these learners' cells (variant names, see --show-config); the "
    "directory still holds the whole reproduction.",
)
@click.option(
    "--save-runs",
    is_flag=True,
    help="Also keep every trained run (OUT/runs), for 'tlkit analyze OUT' with other probes later.",
)
@click.option(
    "--compile-cache",
    metavar="DIR",
    help="Keep compiled programs in this directory and reuse them in later runs "
    "(a directory only you write to; see docs: Sweeps).",
)
@click.pass_context
def reproduce(
    ctx: click.Context,
    name: str | None,
    small: bool,
    out: str | None,
    list_only: bool,
    show_config: bool,
    force: bool,
    quiet: bool,
    n_boot: int,
    variants: str | None,
    save_runs: bool,
    compile_cache: str | None,
) -> None:
    """Run (or resume) the reproduction NAME; write its figures and print its numbers."""
    from tlkit.reproduce import REPRODUCTIONS, get_reproduction, run_reproduction

    if list_only:
        if show_config:
            raise ConfigError("give --list or --show-config, not both")
        if name is not None:
            raise ConfigError(f"--list lists every reproduction and takes no NAME, got {name!r}")
        for repro in REPRODUCTIONS.values():
            click.echo(f"{repro.name:<20} {repro.title}")
            click.echo(f"{'':<20} theory: {repro.prediction}")
            click.echo(f"{'':<20} full version: {repro.full_runtime}")
        return
    if name is None:
        raise TlkitError(
            f"missing reproduction NAME; available: {', '.join(REPRODUCTIONS)} (or --list)"
        )
    repro = get_reproduction(name)
    if show_config:
        from importlib import resources

        if repro.specs is not None:
            raise TlkitError(f"reproduction {name!r} has no packaged config file")
        path = resources.files("tlkit").joinpath("reproductions", repro.spec_file(small))
        click.echo(path.read_text(encoding="utf-8"), nl=False)
        return
    if n_boot < 1:
        raise ConfigError(f"--bootstrap must be >= 1, got {n_boot}")
    directory = Path(out) if out else Path("tlkit-reproduce") / (name + ("-small" if small else ""))
    from tlkit.compile_cache import (
        check_cache_location,
        check_env_cache_location,
        enable_compile_cache,
    )

    if compile_cache is not None:
        check_cache_location(compile_cache, out=directory)
        enable_compile_cache(compile_cache)
    else:
        check_env_cache_location(directory)
    summary = run_reproduction(
        repro,
        directory,
        small=small,
        host=ctx.find_root().obj,
        quiet=quiet,
        force=force,
        n_boot=n_boot,
        echo=click.echo,
        variants=split_names(variants),
        save_runs=save_runs,
    )
    if summary["failed_cells_selected"]:
        # figures and summary are written from the cells that ran; scripts must notice
        click.echo(
            f"error: {len(summary['failed_cells_selected'])} cell(s) raised; rerun the same "
            "command to run only those",
            err=True,
        )
        ctx.exit(1)


#: The commands to add to the ``tlkit`` group.
COMMANDS = (reproduce,)
