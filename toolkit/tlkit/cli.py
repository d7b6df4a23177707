"""The ``tlkit`` command line: a thin click layer over the Python API.

User errors (:class:`tlkit.errors.TlkitError`) print one line, ``error: ...``, and
exit with status 2; no traceback.
"""

from __future__ import annotations

import json
import os
import shlex
import signal
import sys
import traceback
import warnings
from pathlib import Path
from typing import Any

import click

from tlkit.errors import ComponentError, TlkitError
from tlkit.interrupts import (
    interrupted,
    raise_if_interrupted,
    sigint_deferred,
    sigint_recorded,
)
from tlkit.sweep_cli import executor_options

# click >= 8.2 signals "no arguments: show the help" with a UsageError subclass
_HELP_REQUESTS: Any = getattr(click.exceptions, "NoArgsIsHelpError", ())


class TlkitGroup(click.Group):
    """A click group that turns user errors into one line and exit status 2.

    Both tlkit's own (:class:`TlkitError`) and click's usage errors inside a command
    (a bad option value, an unknown command) and in the options of ``tlkit`` itself,
    which click would print as four lines of usage. Running out of memory is one line
    too, with exit status 1.
    """

    def make_context(
        self,
        info_name: str | None,
        args: list[str],
        parent: click.Context | None = None,
        **extra: Any,
    ) -> click.Context:
        try:
            return super().make_context(info_name, args, parent=parent, **extra)
        except _HELP_REQUESTS:
            raise
        except click.UsageError as exc:
            if parent is not None:
                raise  # a subgroup's: the parent's invoke prints it
            # the options of `tlkit` itself, parsed before any invoke
            message = " ".join(exc.format_message().split())
            click.echo(f"error: {message} (see '{info_name or 'tlkit'} --help')", err=True)
            sys.exit(2)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except TlkitError as exc:
            # one line even when a wrapped library message spans several
            lines = str(exc).strip().splitlines()
            line = lines[0] if lines else type(exc).__name__
            if isinstance(exc, ComponentError) and exc.__cause__ is not None:
                # a plugin's bug: its author needs the traceback, a user one line
                if os.environ.get("TLKIT_TRACEBACK", "") not in ("", "0"):
                    traceback.print_exception(exc.__cause__)
                else:
                    line += " (TLKIT_TRACEBACK=1 shows where)"
            click.echo(f"error: {line}", err=True)
            ctx.exit(2)
        except _HELP_REQUESTS:
            raise  # `tlkit new` alone: click prints the group's help, as it should
        except click.UsageError as exc:
            where = exc.ctx.command_path if exc.ctx is not None else ctx.command_path
            message = " ".join(exc.format_message().split())
            click.echo(f"error: {message} (see '{where} --help')", err=True)
            ctx.exit(2)
        except (MemoryError, RuntimeError) as exc:
            # sizes too large for this machine: one line, not an XLA traceback
            import jax

            text = str(exc).strip()
            if not isinstance(exc, MemoryError) and not (
                isinstance(exc, jax.errors.JaxRuntimeError)
                and ("RESOURCE_EXHAUSTED" in text or "out of memory" in text.lower())
            ):
                raise
            lines = text.splitlines()
            first = (lines[0] if lines else "").split("Error dispatching computation: ")[-1]
            first = first or "MemoryError"
            click.echo(
                f"error: out of memory ({first}); use smaller n_train, n_test, n_val or "
                "widths, or train_block_size to stream the training set",
                err=True,
            )
            ctx.exit(1)


def _host(ctx: click.Context) -> Any:
    return ctx.find_root().obj


def _check_distinct_probes(probes: tuple[str, ...]) -> None:
    """Refuse a probe named twice: it would run twice and write one set of variables."""
    repeated = next((name for i, name in enumerate(probes) if name in probes[:i]), None)
    if repeated is not None:
        raise TlkitError(f"--probe {repeated} given twice; name each probe once")


@click.group(cls=TlkitGroup)
@click.version_option(package_name="tlkit")
def cli() -> None:
    """tlkit: study how two- and three-layer networks learn features.

    Plugins bring targets, architectures, trainers and probes; `tlkit plugins`
    lists what is installed.
    """


# -- plugins / describe ------------------------------------------------------------
@cli.command("plugins")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list instead of a table.")
@click.option("--verbose", is_flag=True, help="Show the traceback of broken plugins.")
@click.pass_context
def plugins_command(ctx: click.Context, as_json: bool, verbose: bool) -> None:
    """List installed plugins, their components and errors."""
    host = _host(ctx)
    infos = list(host.plugins.values())
    if as_json:
        click.echo(json.dumps([p.as_json() for p in infos], indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title="tlkit plugins")
    for col in ("plugin", "version", "components", "status"):
        table.add_column(col)
    for info in infos:
        comps = "; ".join(f"{k}: {', '.join(v)}" for k, v in info.components.items() if v)
        status = f"[red]error: {info.error}[/red]" if info.error else "ok"
        if info.conflicts:
            status += "".join(f"\n[yellow]not loaded: {c}[/yellow]" for c in info.conflicts)
        table.add_row(info.name, info.version or "-", comps or "-", status)
    Console().print(table)
    if verbose:
        for info in infos:
            if info.error:
                click.echo(f"\n--- {info.name} ---\n{info.traceback or info.error}")


@cli.command("describe")
@click.argument("kind", type=click.Choice(["target", "architecture", "arch", "trainer", "probe"]))
@click.argument("name", required=False)
@click.pass_context
def describe_command(ctx: click.Context, kind: str, name: str | None) -> None:
    """Show a component's parameters, types and defaults without running it."""
    from tlkit.params import HOST_PARAMETERS

    kind = "architecture" if kind == "arch" else kind  # as in --arch

    registry = _host(ctx).registry
    if name is None:
        available = ", ".join(sorted(registry.names(kind))) or "(none installed)"
        raise TlkitError(f"missing {kind} NAME; available: {available}")
    comp = registry.get(kind, name)
    click.echo(f"{kind} {comp.name} (plugin {comp.plugin})")
    doc = (comp.metadata.get("description") or comp.factory.__doc__ or "").strip()
    if doc:
        click.echo(f"  {doc.splitlines()[0]}")
    for spec in comp.parameters().values():
        if spec.name in HOST_PARAMETERS[kind]:
            continue
        default = "required" if spec.required else f"default {spec.default!r}"
        click.echo(f"  -p {spec.name}=<{spec.type_name()}>   ({default})")
    extra = {k: v for k, v in comp.metadata.items() if k != "description"}
    for key, value in extra.items():
        click.echo(f"  {key}: {value}")


# -- train / analyze ---------------------------------------------------------------
def _format_value(value: Any) -> str:
    return f"{value:.6g}" if isinstance(value, float) else str(value)


def _print_results(ds: Any) -> None:
    """Print the scalar metrics of a single-run dataset, one per line."""
    from tlkit.dims import PROBE_DIMS

    skipped = json.loads(ds.attrs.get("skipped_probes", "{}"))
    for name in ds.tlkit.metrics():
        da = ds[name]
        # a run's own coordinates go; a probe's axis stays even with one value, so a
        # two-layer network's per-layer number still says which layer (layer=h1)
        da = da.squeeze([d for d in da.dims if da.sizes[d] == 1 and d not in PROBE_DIMS], drop=True)
        # probe axes of one value each (a two-layer network's layer x layer_other) are
        # named in front of what remains, which then prints as a number or a vector
        prefix = ""
        if da.ndim > 1:
            ones = [d for d in da.dims if da.sizes[d] == 1 and d in da.coords]
            if ones:
                prefix = ", ".join(f"{d}={da[d].values.tolist()[0]}" for d in ones) + ": "
                da = da.squeeze(ones, drop=True)
        if da.ndim == 0:
            text = prefix + _format_value(da.item())
        elif da.ndim == 1 and da.size <= 8 and da.dims[0] in da.coords:
            # short vectors (per layer, per degree) read better than a pointer to the file
            dim = str(da.dims[0])
            text = prefix + ", ".join(
                f"{dim}={label}: {_format_value(value)}"
                for label, value in zip(da[dim].values.tolist(), da.values.tolist(), strict=True)
            )
        else:
            text = f"array over {', '.join(map(str, da.dims))} (see the results file)"
        click.echo(f"  {name:<32} {text}")
    for probe, why in skipped.items():
        click.echo(f"  {probe:<32} skipped: {why}")


@cli.command("train")
@click.option("--config", "config_file", type=click.Path(dir_okay=False), help="TOML run config.")
@click.option("--target", help="Target name (see `tlkit plugins`).")
@click.option("--arch", help="Architecture name.")
@click.option("--trainer", help="Trainer name (default: the architecture's default).")
@click.option(
    "-p",
    "--param",
    "params",
    multiple=True,
    metavar="KEY=VALUE",
    help="Component parameter; prefix with target./arch./trainer./PROBE. if ambiguous "
    "(a key given twice: the last value).",
)
@click.option("--probe", "probes", multiple=True, help="Probe to run after training (repeatable).")
@click.option("--n-train", type=int, help="Training points.")
@click.option("--n-val", type=int, help="Validation points (hyperparameter selection).")
@click.option("--n-test", type=int, help="Test points (probes).")
@click.option("--seed", type=int, help="Master seed.")
@click.option("--dtype", type=click.Choice(["float32", "float64"]), help="Precision.")
@click.option(
    "--train-block-size",
    type=int,
    help="Draw the training split in blocks of this many points (streaming; see docs).",
)
@click.option("--out", required=True, type=click.Path(file_okay=False), help="Run directory.")
@click.option("--force", is_flag=True, help="Replace an existing run directory.")
@click.pass_context
def train_command(
    ctx: click.Context,
    config_file: str | None,
    target: str | None,
    arch: str | None,
    trainer: str | None,
    params: tuple[str, ...],
    probes: tuple[str, ...],
    n_train: int | None,
    n_val: int | None,
    n_test: int | None,
    seed: int | None,
    dtype: str | None,
    train_block_size: int | None,
    out: str,
    force: bool,
) -> None:
    """Train one run, probe it, and save it as a run directory."""
    from tlkit.compile_cache import check_env_cache_location
    from tlkit.config import ComponentConfig, RunConfig
    from tlkit.params import HOST_PARAMETERS, route_parameters
    from tlkit.pipeline import make_config, resolve_config, train

    check_env_cache_location(out)
    _check_distinct_probes(probes)
    host = _host(ctx)
    base = RunConfig.from_toml(config_file).to_dict() if config_file is not None else {}
    for kind, value in (("target", target), ("arch", arch), ("trainer", trainer)):
        if value is not None:
            old = base.get(kind)
            keep = (
                old.get("params", {}) if isinstance(old, dict) and old.get("name") == value else {}
            )
            base[kind] = {"name": value, "params": keep}
    for kind in ("target", "arch"):
        if kind not in base:
            raise TlkitError(f"missing --{kind} (or a [{kind}] table in --config)")
    cfg = resolve_config(
        make_config(
            base,
            n_train=n_train,
            n_val=n_val,
            n_test=n_test,
            seed=seed,
            dtype=dtype,
            train_block_size=train_block_size,
        ),
        host,
    )
    assert cfg.trainer is not None
    registry = host.registry
    kinds = {
        "target": ("target", cfg.target),
        "arch": ("architecture", cfg.arch),
        "trainer": ("trainer", cfg.trainer),
    }
    factories = {
        key: (f"{kind} {comp.name!r}", registry.get(kind, comp.name).factory, HOST_PARAMETERS[kind])
        for key, (kind, comp) in kinds.items()
    }
    # probes named by --probe take parameters too (`-p PROBE.key=value`, as in analyze)
    no_host_parameters: frozenset[str] = frozenset()
    for name in probes:
        if name not in factories:
            factories[name] = (
                f"probe {name!r}",
                registry.get("probe", name).factory,
                no_host_parameters,
            )
    routed = route_parameters(list(params), factories, fallback=set(probes) - set(kinds))
    fields: dict[str, Any] = {}
    for key, (_, comp) in kinds.items():
        fields[key] = ComponentConfig(comp.name, {**comp.params, **routed[key]})
    chosen = [ComponentConfig(name, routed.get(name, {})) for name in probes]
    with _stage_printer() as on_stage:
        run = train(
            cfg,
            out=out,
            force=force,
            probes=chosen or None,
            host=host,
            progress=on_stage,
            **fields,
        )
    status = run.fit.status if run.fit.status == "ok" else f"FAILED: {run.fit.reason}"
    click.echo(f"run saved to {out} (training {status})")
    if run.results is not None:
        _print_results(run.results)


class _stage_printer:
    """Context manager printing a line per finished training stage (to stderr)."""

    def __enter__(self) -> Any:
        def on_stage(stage: str) -> None:
            click.echo(f"  stage finished: {stage}", err=True)

        return on_stage

    def __exit__(self, *exc: Any) -> None:
        return None


@cli.command("analyze")
@click.argument("run_dir", metavar="RUN_DIR|SWEEP_DIR", type=click.Path(file_okay=False))
@click.option("--probe", "probes", multiple=True, help="Probe to run (default: default probes).")
@click.option(
    "-p",
    "--param",
    "params",
    multiple=True,
    metavar="[PROBE.]KEY=VALUE",
    help="A parameter of a --probe; a bare KEY goes to the one probe that accepts it.",
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False),
    help="Results file (default RUN_DIR/results.nc; for a sweep SWEEP_DIR/analysis.nc).",
)
@click.option("--quiet", is_flag=True, help="Sweeps: plain log lines instead of a progress bar.")
@executor_options("Sweeps: analyze cells")
@click.pass_context
def analyze_command(
    ctx: click.Context,
    run_dir: str,
    probes: tuple[str, ...],
    params: tuple[str, ...],
    out: str | None,
    quiet: bool,
    executor: str,
    workers: int | None,
    scheduler: str | None,
    plugins: tuple[str, ...],
) -> None:
    """Run probes on a saved run, or on every saved run of a sweep (--save-runs),
    and write the labelled results (netCDF)."""
    from tlkit.checkpoint import RESULTS
    from tlkit.compile_cache import check_env_cache_location
    from tlkit.config import ComponentConfig
    from tlkit.params import route_parameters
    from tlkit.pipeline import analyze
    from tlkit.sweep_analysis import analyze_sweep, is_sweep_directory

    check_env_cache_location(out if out is not None else run_dir)
    _check_distinct_probes(probes)
    host = _host(ctx)
    chosen: list[str | ComponentConfig] = list(probes)
    if params:
        if not probes:
            raise TlkitError("-p sets parameters of the probes named by --probe; add --probe NAME")
        registry = host.ensure_registered()
        no_host_parameters: frozenset[str] = frozenset()
        factories = {
            name: (f"probe {name!r}", registry.get("probe", name).factory, no_host_parameters)
            for name in probes
        }
        routed = route_parameters(list(params), factories)
        chosen = [ComponentConfig(name, routed[name]) for name in probes]
    if is_sweep_directory(run_dir):
        done = analyze_sweep(
            run_dir,
            probes=chosen or None,
            out=out,
            host=host,
            progress="log" if quiet else "bar",
            echo=lambda line: click.echo(line, err=True),
            executor=executor,
            workers=workers,
            scheduler=scheduler,
            plugins=plugins,
        )
        click.echo(done.summary())
        click.echo(f"results written to {done.path}")
        return
    if executor != "local" or workers is not None or scheduler is not None or plugins:
        raise TlkitError(
            "--executor, --workers, --scheduler and --plugin apply to sweep directories; "
            f"{run_dir} is a run"
        )
    ds = analyze(run_dir, probes=chosen or None, out=out, host=host)
    click.echo(f"results written to {out or Path(run_dir) / RESULTS}")
    _print_results(ds)


# -- demo / new ----------------------------------------------------------------------
@cli.command("demo")
@click.option(
    "--out",
    default="tlkit-demo",
    show_default=True,
    type=click.Path(file_okay=False),
    help="Output directory (results.nc, demo.png, per-run cells).",
)
@click.option("--small", is_flag=True, help="A tiny version (seconds) for smoke tests.")
@click.option("--quiet", is_flag=True, help="A log line per cell instead of a progress bar.")
@click.option(
    "--force",
    is_flag=True,
    help="Run even if --out holds another sweep, e.g. the other size of the demo "
    "(its results are discarded).",
)
@click.pass_context
def demo_command(ctx: click.Context, out: str, small: bool, quiet: bool, force: bool) -> None:
    """Two- vs three-layer networks on the quadratic-feature target (d = 16)."""
    from tlkit.compile_cache import check_env_cache_location
    from tlkit.demo import run_demo

    check_env_cache_location(out)
    run_demo(Path(out), small=small, host=_host(ctx), quiet=quiet, echo=click.echo, force=force)


@cli.group("new", cls=TlkitGroup)
def new_group() -> None:
    """Create skeletons for new plugins."""


@new_group.command("target")
@click.argument("name")
@click.option(
    "--dir",
    "directory",
    default=".",
    show_default=True,
    type=click.Path(file_okay=False),
    help="Where to create the package.",
)
@click.pass_context
def new_target_command(ctx: click.Context, name: str, directory: str) -> None:
    """Create an installable target-plugin package NAME with a passing test."""
    from tlkit.scaffold import check_name_is_free, new_target_plugin

    check_name_is_free(name, _host(ctx))
    path = new_target_plugin(name, Path(directory))
    click.echo(f"created {path}; install it with: pip install -e {shlex.quote(str(path))}")


def _add_sweep_commands() -> None:
    from tlkit.sweep_cli import COMMANDS

    for command in COMMANDS:
        cli.add_command(command)


_add_sweep_commands()


def _add_reproduce_commands() -> None:
    from tlkit.reproduce_cli import COMMANDS

    for command in COMMANDS:
        cli.add_command(command)


_add_reproduce_commands()


def build_cli() -> tuple[click.Group, Any]:
    """The CLI with the installed plugins loaded and their commands added."""
    from tlkit.plugins import PluginHost

    host = PluginHost()
    host.ensure_registered()
    host.register_commands(cli)
    return cli, host


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``tlkit`` console script."""
    # Ctrl-C is recorded from the start, so one that JAX's gc callback swallows is
    # raised again at the next stage, probe or cell (tlkit.interrupts); one during
    # start-up (loading plugins, which imports JAX and more) is "Aborted!", exit 1.
    aborted = False
    with sigint_recorded():
        try:
            with sigint_deferred():
                group, host = _start()
            raise_if_interrupted()
            _run(group, host, argv)
        except KeyboardInterrupt:
            # before click runs the command (click prints its own "Aborted!" after)
            aborted = True
            signal.signal(signal.SIGINT, signal.SIG_IGN)
    if aborted:
        # further Ctrl-C presses must not turn the clean exit into a kill by SIGINT
        # (sigint_recorded restored the default handler on the way out)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        click.echo("Aborted!", err=True)
        sys.exit(1)


def _start() -> tuple[click.Group, Any]:
    """Check the environment, set up warnings, load the plugins."""
    import tlkit

    if tlkit.ENVIRONMENT_ERROR:
        click.echo(f"error: {tlkit.ENVIRONMENT_ERROR}", err=True)
        sys.exit(2)
    # Warnings (a probe that does not apply, a plugin name clash) as one line each,
    # not Python's file:line plus source excerpt.
    # one definition, in the console module that must not import tlkit itself
    from _tlkit_console import one_line_warning

    warnings.showwarning = one_line_warning
    # train/analyze list skipped probes with their results; sweeps record them per run
    warnings.filterwarnings("ignore", message=r"probe '.*' skipped: ")
    try:
        return build_cli()
    except TlkitError as exc:  # strict mode: a broken plugin is fatal
        raise_if_interrupted()  # unless the user had asked to stop
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)


def _run(group: click.Group, host: Any, argv: list[str] | None) -> None:
    args = sys.argv[1:] if argv is None else argv
    if "plugins" not in args[:1]:
        # a plugin with only observer hooks (a logger) fails silently otherwise
        for info in host.plugins.values():
            if info.error:
                warnings.warn(
                    f"plugin {info.name!r} not loaded: {info.error} (see 'tlkit plugins')",
                    stacklevel=1,
                )
    try:
        group.main(args=argv, prog_name="tlkit", obj=host)
    except SystemExit as exc:
        # a Ctrl-C dropped after the last check point: the work is complete and
        # written, but the user asked to stop, and scripts must see that
        if exc.code in (0, None) and interrupted():
            click.echo("Aborted!", err=True)
            sys.exit(1)
        raise


if __name__ == "__main__":
    main()
