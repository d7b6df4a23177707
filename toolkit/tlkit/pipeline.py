"""The train-then-probe pipeline and its Python API.

Stages and the hooks fired between them::

    config --resolve--> target, network, trainer        (all errors raised here,
                                                          before anything is written)
      tlkit_run_started
    trainer.fit, stage by stage
      tlkit_stage_finished   (after each stage)
    save run directory (manifest.json + orbax state + results.nc), atomically
    probes -> labelled xarray.Dataset
      tlkit_run_finished
"""

from __future__ import annotations

import dataclasses
import json
import warnings
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jax.numpy as jnp
import numpy as np
import xarray as xr

from tlkit import checkpoint, results
from tlkit.atomic import atomic_directory, ensure_writable_dir
from tlkit.config import ComponentConfig, RunConfig, parse_probes
from tlkit.errors import (
    ComponentError,
    ConfigError,
    PluginMismatchError,
    ProbeNotApplicable,
    RunDirectoryError,
    TlkitError,
    is_out_of_memory,
)
from tlkit.interrupts import raise_if_interrupted
from tlkit.params import HOST_PARAMETERS, jsonable, resolve_parameters
from tlkit.plugins import PluginHost, get_host
from tlkit.probe_contract import outputs_problem
from tlkit.registry import check_pairing
from tlkit.run import Run
from tlkit.types import FitReport, ProbeOutput, StageReport


@dataclasses.dataclass
class Components:
    """A run's components, built and validated, before training."""

    config: RunConfig
    target: Any
    model: Any
    trainer: Any
    params: dict[str, dict[str, Any]]


def _label(kind: str, name: str) -> str:
    return f"{kind} {name!r}"


def _call_factory(factory: Callable[..., Any], label: str, **kwargs: Any) -> Any:
    """Build a component, turning a plugin's ValueError/TypeError into one line."""
    try:
        return factory(**kwargs)
    except ConfigError as exc:  # keep the plugin's class, add which component said it
        raise type(exc)(f"{label}: {exc}") from None
    except TlkitError:
        raise
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"{label}: {exc}") from None


def check_sample_size(trainer: Any, name: str, n_train: int) -> None:
    """Ask the trainer whether its options work with ``n_train`` points, if it can tell.

    Calls the trainer's optional ``check_sample_size(n_train)`` so that, e.g., data
    splits larger than the training set are refused before any data is drawn.

    Raises:
        ConfigError: the trainer's one-line reason, naming the trainer.
    """
    check = getattr(trainer, "check_sample_size", None)
    if check is not None:
        _call_factory(check, _label("trainer", name), n_train=n_train)


def resolve_config(config: RunConfig, host: PluginHost) -> RunConfig:
    """Fill in the default trainer and check names; return a new config."""
    registry = host.ensure_registered()
    registry.get("target", config.target.name)
    arch = registry.get("architecture", config.arch.name)
    trainer = config.trainer
    if trainer is None:
        defaults = arch.metadata.get("trainers") or []
        if not defaults:
            raise ConfigError(f"architecture {arch.name!r} names no default trainer; pass one")
        trainer = ComponentConfig(defaults[0], {})
    registry.get("trainer", trainer.name)
    check_pairing(registry, config.arch.name, trainer.name)
    for probe in config.probes:
        registry.get("probe", probe.name)
    return dataclasses.replace(config, trainer=trainer)


def build(config: RunConfig, host: PluginHost) -> Components:
    """Resolve and build the target, network and trainer of a run.

    Raises:
        ConfigError: unknown names (listing the available ones), unknown or
            ill-typed parameters, or values a component rejects.
    """
    config = resolve_config(config, host)
    assert config.trainer is not None
    registry = host.registry
    target_c = registry.get("target", config.target.name)
    arch_c = registry.get("architecture", config.arch.name)
    trainer_c = registry.get("trainer", config.trainer.name)
    params = {
        "target": resolve_parameters(
            target_c.factory,
            config.target.params,
            _label("target", target_c.name),
            HOST_PARAMETERS["target"],
        ),
        "arch": resolve_parameters(
            arch_c.factory,
            config.arch.params,
            _label("architecture", arch_c.name),
            HOST_PARAMETERS["architecture"],
        ),
        "trainer": resolve_parameters(
            trainer_c.factory,
            config.trainer.params,
            _label("trainer", trainer_c.name),
            HOST_PARAMETERS["trainer"],
        ),
    }
    target = _call_factory(
        target_c.factory,
        _label("target", target_c.name),
        seed=config.seeds["target"],
        **params["target"],
    )
    model = _call_factory(
        arch_c.factory,
        _label("architecture", arch_c.name),
        d=int(target.d),
        seed=config.seeds["init"],
        dtype=config.dtype,
        **params["arch"],
    )
    trainer = _call_factory(
        trainer_c.factory, _label("trainer", trainer_c.name), **params["trainer"]
    )
    check_sample_size(trainer, trainer_c.name, int(config.n_train))
    trainer_params = jsonable(params["trainer"])
    # Record the resolved parameters (defaults filled in) so the manifest rebuilds exactly.
    config = dataclasses.replace(
        config,
        target=ComponentConfig(config.target.name, jsonable(params["target"])),
        arch=ComponentConfig(config.arch.name, jsonable(params["arch"])),
        trainer=ComponentConfig(config.trainer.name, trainer_params),
    )
    component_params = {
        "target": {
            "name": target_c.name,
            "plugin": target_c.plugin,
            "params": config.target.params,
        },
        "arch": {"name": arch_c.name, "plugin": arch_c.plugin, "params": config.arch.params},
        "trainer": {
            "name": trainer_c.name,
            "plugin": trainer_c.plugin,
            "params": trainer_params,
        },
    }
    return Components(config, target, model, trainer, component_params)


def make_config(
    config: RunConfig | Mapping[str, Any] | str | Path | None = None, **fields: Any
) -> RunConfig:
    """Build a :class:`RunConfig` from a config, a dict, a TOML path and/or fields.

    Fields override the base config; ``target_params``/``arch_params``/
    ``trainer_params`` update the named component's parameters.
    """
    if isinstance(config, str | Path):
        base = RunConfig.from_toml(config).to_dict()
    elif isinstance(config, RunConfig):
        base = config.to_dict()
    else:
        base = dict(config or {})
    for kind in ("target", "arch", "trainer"):
        extra = fields.pop(f"{kind}_params", None)
        if kind in fields:
            base[kind] = dataclasses.asdict(ComponentConfig.parse(fields.pop(kind), kind))
        if extra:
            if kind not in base:
                raise ConfigError(f"{kind}_params given without a {kind}")
            comp = ComponentConfig.parse(base[kind], kind)
            base[kind] = {"name": comp.name, "params": {**comp.params, **extra}}
    if "probes" in fields and fields["probes"] is not None:
        fields["probes"] = list(fields["probes"])
    base.update({k: v for k, v in fields.items() if v is not None})
    # Seeds derive from the master seed: when the seed changes, re-derive them.
    if fields.get("seed") is not None and "seeds" not in fields:
        base.pop("seeds", None)
    return RunConfig.from_dict(base)


def default_probes(host: PluginHost) -> list[ComponentConfig]:
    """The probes registered with ``default=True``."""
    registry = host.ensure_registered()
    return [
        ComponentConfig(name, {})
        for name in registry.names("probe")
        if registry.get("probe", name).metadata.get("default")
    ]


def _fit(
    components: Components, host: PluginHost, progress: Callable[[str], None] | None
) -> FitReport:
    collected: list[StageReport] = []

    trainer = f"trainer {components.config.trainer.name!r}" if components.config.trainer else ""

    def on_stage(report: StageReport) -> None:
        raise_if_interrupted()
        check_stage_report(trainer, report)
        collected.append(report)
        stages = list(components.trainer.stages)
        index = stages.index(report.stage) if report.stage in stages else len(stages)
        host.emit("tlkit_stage_finished", config=components.config, stage=report, stage_index=index)
        if progress is not None:
            progress(report.stage)

    run_tmp = Run(components.config, components.target, components.model, FitReport())
    data = run_tmp.train_data()
    report = components.trainer.fit(components.model, data, on_stage)
    if not isinstance(report, FitReport):
        raise ComponentError(
            f"{trainer}: fit() must return a tlkit.types.FitReport, got {type(report).__name__}"
        )
    if not report.stages:  # trainers may rely on the host to keep their stage reports
        report.stages = collected
    return report


def check_stage_report(trainer: str, report: Any) -> None:
    """A trainer's stage report must be a StageReport whose info JSON can hold."""
    if not isinstance(report, StageReport):
        raise ComponentError(
            f"{trainer}: on_stage() takes a tlkit.types.StageReport, got {type(report).__name__}"
        )
    for key, value in report.info.items():
        try:
            json.dumps(jsonable(value))
        except (TypeError, ValueError) as exc:
            raise ComponentError(
                f"{trainer}: stage {report.stage!r} info[{key!r}] cannot be saved in the "
                f"manifest ({exc}); report numbers, strings, lists or dicts of them"
            ) from None


def train(
    config: RunConfig | Mapping[str, Any] | str | Path | None = None,
    *,
    out: str | Path | None = None,
    force: bool = False,
    probes: Sequence[str | ComponentConfig] | None = None,
    host: PluginHost | None = None,
    progress: Callable[[str], None] | None = None,
    **fields: Any,
) -> Run:
    """Train one run and, by default, probe it.

    Args:
        config: a :class:`RunConfig`, a dict, or a TOML file path; ``fields``
            override it (e.g. ``target="quadratic-feature"``, ``n_train=4096``,
            ``target_params={"d": 16}``).
        out: save the run directory here (atomically); ``None`` keeps it in memory.
        force: replace an existing ``out``.
        probes: probes to run after training; ``None`` uses the config's probes or
            the default probes; ``[]`` runs none.
        host: a plugin host (default: the installed plugins).
        progress: called with each finished stage's name.
        **fields: config fields.

    Returns:
        The trained :class:`Run`; ``run.results`` holds the probe results.

    Raises:
        ConfigError: for any invalid input, before anything is trained or written.
    """
    host = host or get_host()
    cfg = make_config(config, **fields)
    if probes is not None:
        cfg = dataclasses.replace(cfg, probes=parse_probes(probes))
    components = build(cfg, host)
    probe_list = (
        components.config.probes if (probes is not None or cfg.probes) else default_probes(host)
    )
    # a probe's bad parameter is bad input like any other: refused before training
    build_probes(probe_list, host)
    if probes is not None or cfg.probes:
        # values given on a command line arrive as text; the manifest and the results'
        # config record what the probe gets (10, not "10"), as for every component
        probe_list = [_typed_probe(pc, host) for pc in probe_list]
        components.config = dataclasses.replace(components.config, probes=probe_list)
    out_path = Path(out) if out is not None else None
    if out_path is not None:
        if out_path.exists() and not force:
            raise TlkitError(
                f"{out_path} already exists; choose another output or replace it "
                "(--force; Python: force=True)"
            )
        check_replaceable_run(out_path)
        ensure_writable_dir(out_path.parent if out_path.parent != Path("") else Path("."))
    host.emit("tlkit_run_started", config=components.config, run_dir=out_path)
    report = _fit(components, host, progress)
    run = Run(
        components.config,
        components.target,
        components.model,
        report,
        component_params=components.params,
    )
    raise_if_interrupted()  # a Ctrl-C during training: nothing is written
    if out_path is not None:
        # saved before probing: a probe that fails (or a Ctrl-C while probing) must not
        # cost the trained network; its results.nc is added below
        save_run(run, out_path, host, force=force)
    try:
        ds = analyze(run, probes=probe_list, host=host) if probe_list else None
    except TlkitError as exc:
        if out_path is None:
            raise
        raise type(exc)(
            f"{exc} (the trained run is saved in {out_path}; probe it again with "
            f"'tlkit analyze {out_path}')"
        ) from exc.__cause__
    except KeyboardInterrupt:
        if out_path is not None:
            warnings.warn(
                f"interrupted while probing: the trained run is saved in {out_path}; probe "
                f"it with 'tlkit analyze {out_path}'",
                stacklevel=2,
            )
        raise
    except Exception as exc:
        if out_path is not None and is_out_of_memory(exc):
            warnings.warn(
                f"the trained run is saved in {out_path}; probe it again with 'tlkit analyze "
                f"{out_path}' (smaller n_test, or fewer probes)",
                stacklevel=2,
            )
        raise
    run.results = ds
    host.emit("tlkit_run_finished", run=run, results=ds)
    return run


def manifest_for(run: Run, host: PluginHost) -> dict[str, Any]:
    """The manifest of a run (everything needed to rebuild it)."""
    return {
        "schema_version": checkpoint.SCHEMA_VERSION,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "versions": checkpoint.environment_versions(host.distribution_versions()),
        "config": run.config.to_dict(),
        "components": run.component_params,
        "target_metadata": jsonable(run.target.metadata()),
        "fit": _fit_to_json(run.fit),
    }


#: the hint when a run's or a sweep's own directory cannot take its results
ELSEWHERE = "write the results elsewhere with --out FILE (Python: out=...)"


def ensure_results_dir(directory: Path, out_given: bool) -> None:
    """:func:`ensure_writable_dir` for a results file; where the file goes to the run's
    or sweep's own directory (no ``--out``), the error says how to write it elsewhere
    (a shared, read-only run or sweep can still be analyzed)."""
    try:
        ensure_writable_dir(directory)
    except TlkitError as exc:
        if out_given:
            raise
        raise TlkitError(f"{exc}; {ELSEWHERE}") from None


#: the first bytes of the files a results file may replace (netCDF-4/HDF5, netCDF-3)
_RESULTS_MAGIC = (b"\x89HDF\r\n\x1a\n", b"CDF\x01", b"CDF\x02")


def check_replaceable_results(
    path: Path, run: Run | None = None, *, sweep_config: str | None = None
) -> None:
    """Refuse to overwrite anything but an earlier results file (of ``run``, or of the
    sweep whose config JSON is ``sweep_config``, if given).

    Raises:
        TlkitError: ``path`` is a directory, a file that is not netCDF (e.g. the run's
            manifest, given as ``--out`` by mistake), or the results of another run or
            of a sweep (a cell file: overwritten, it would break its sweep for good).
    """
    if path.is_dir():
        raise TlkitError(f"{path} is a directory; --out names the results file to write")
    if not path.exists():
        return
    with path.open("rb") as file:
        head = file.read(8)
    if not any(head.startswith(magic) for magic in _RESULTS_MAGIC):
        raise TlkitError(
            f"{path} exists and is not a results file (netCDF); it is kept, so choose another --out"
        )
    if run is None and sweep_config is None:
        return
    try:
        earlier = results.open_results(path)
    except TlkitError as exc:
        raise TlkitError(f"{exc}; it is kept, so choose another --out") from None
    key, expected = (
        ("config", run.config.to_json()) if run is not None else ("sweep_config", sweep_config)
    )
    if earlier.attrs.get(key) != expected:
        whose = "this run's" if run is not None else "this sweep's analysis"
        raise TlkitError(
            f"{path} holds other results than {whose} (another run's, or a sweep's); it is "
            "kept, so choose another --out"
        )


def check_replaceable_run(path: Path) -> None:
    """Refuse to replace anything but a run directory (or an empty directory).

    ``--force`` replaces the whole directory, so a mistyped ``--out`` must not
    delete a project, a sweep or the directory the user stands in.

    Raises:
        TlkitError: one line naming the directory and why it is kept.
    """
    if not path.exists():
        return
    if not path.is_dir():
        raise TlkitError(f"{path} exists and is not a directory; choose another --out")
    here = Path.cwd().resolve()
    if path.resolve() == here or path.resolve() in here.parents:
        raise TlkitError(f"--force cannot replace {path}: it is or contains the current directory")
    if any(path.iterdir()) and not (path / checkpoint.MANIFEST).is_file():
        raise TlkitError(
            f"{path} is not a tlkit run directory (no {checkpoint.MANIFEST}); --force only "
            "replaces runs, so choose another --out"
        )


def save_run(
    run: Run,
    path: str | Path,
    host: PluginHost | None = None,
    *,
    results_ds: xr.Dataset | None = None,
    force: bool = False,
) -> Path:
    """Write a run directory atomically (manifest, orbax state, optional results)."""
    from flax import nnx

    host = host or get_host()
    path = Path(path)
    if force:
        check_replaceable_run(path)
    state, empty = checkpoint.split_empty(nnx.to_pure_dict(nnx.state(run.model)))
    manifest = manifest_for(run, host)
    manifest["empty_arrays"] = empty
    with atomic_directory(path, replace=force) as tmp:
        manifest["state_files"] = checkpoint.save_state(tmp, state)
        if results_ds is not None:
            results.save_dataset(results_ds, tmp / checkpoint.RESULTS)
        checkpoint.write_manifest(tmp, manifest)
    run.path = path
    return path


def load_run(path: str | Path, host: PluginHost | None = None) -> Run:
    """Rebuild a saved run exactly: target (with ground truth), network and report.

    Raises:
        RunDirectoryError: missing, corrupted, truncated or newer-schema directory.
        ConfigError: a component the run needs is not installed.
    """
    from flax import nnx

    manifest = checkpoint.read_manifest(path)
    host = host or get_host()
    try:
        config = RunConfig.from_dict(manifest["config"])
        fit = _fit_from_json(manifest["fit"])
    except ConfigError as exc:
        raise RunDirectoryError(f"corrupted manifest in {path}: {exc}") from None
    except (AttributeError, KeyError, TypeError, ValueError) as exc:
        raise RunDirectoryError(f"corrupted manifest in {path}: bad 'fit' ({exc!r})") from None
    check_providers(manifest, host, path)
    try:
        components = build(config, host)
    except ConfigError as exc:
        # a manifest edited by hand, or a plugin whose parameters changed since the run
        # was saved: the message alone would read as if the user had typed a bad value
        raise type(exc)(f"cannot rebuild the run in {path} from its manifest: {exc}") from None
    try:
        pure = checkpoint.load_state(path, manifest)
    except (AttributeError, KeyError, TypeError, ValueError) as exc:
        # a manifest whose state_files / empty_arrays entries are not what tlkit wrote
        raise RunDirectoryError(
            f"corrupted manifest in {path}: bad state entries ({exc!r})"
        ) from None
    state = nnx.state(components.model)
    mismatch = checkpoint.shape_mismatch(nnx.to_pure_dict(state), pure)
    if mismatch:
        raise RunDirectoryError(
            f"network state in {path} does not match the manifest's architecture "
            f"{config.arch.name!r}: {mismatch} (manifest or state altered?)"
        )
    try:
        nnx.replace_by_pure_dict(state, pure)
    except Exception as exc:
        raise RunDirectoryError(
            f"network state in {path} does not match architecture "
            f"{config.arch.name!r}: {str(exc).splitlines()[0] if str(exc) else exc}"
        ) from None
    nnx.update(components.model, state)
    return Run(
        components.config,
        components.target,
        components.model,
        fit,
        Path(path),
        component_params=components.params,
    )


def check_providers(manifest: Mapping[str, Any], host: PluginHost, path: str | Path) -> None:
    """Refuse a run whose components now come from other plugins than when it was saved.

    Two plugins can register the same name; a run must be rebuilt with the code that
    trained it, not silently with another plugin's component of that name.

    Raises:
        RunDirectoryError: naming the component and both plugins.
    """
    registry = host.ensure_registered()
    recorded = manifest.get("components")
    if not isinstance(recorded, Mapping):
        return  # an older manifest: nothing recorded to check against
    for key, kind in (("target", "target"), ("arch", "architecture"), ("trainer", "trainer")):
        entry = recorded.get(key)
        if not isinstance(entry, Mapping) or not entry.get("plugin") or not entry.get("name"):
            continue
        try:
            now = registry.get(kind, str(entry["name"])).plugin
        except ConfigError:
            plugin = entry["plugin"]
            why = registry.broken.get(plugin)
            state = f"did not load ({why})" if why else "is not installed or is disabled"
            raise PluginMismatchError(
                f"{path} needs {kind} {entry['name']!r} of plugin {plugin!r}, which "
                f"{state}; installed {kind}s: {', '.join(registry.names(kind)) or '(none)'}"
            ) from None
        if now != entry["plugin"]:
            raise PluginMismatchError(
                f"{path} was trained with {kind} {entry['name']!r} of plugin "
                f"{entry['plugin']!r}, but that name now comes from plugin {now!r}; "
                f"load it without that plugin (TLKIT_DISABLE_PLUGINS={now})"
            )


def _typed_probe(pc: ComponentConfig, host: PluginHost) -> ComponentConfig:
    """``pc`` with its given parameters coerced to their types (defaults not added)."""
    factory = host.ensure_registered().get("probe", pc.name).factory
    resolved = resolve_parameters(factory, pc.params, _label("probe", pc.name))
    return ComponentConfig(pc.name, jsonable({key: resolved[key] for key in pc.params}))


def build_probes(
    probe_configs: Sequence[ComponentConfig], host: PluginHost
) -> list[tuple[str, Any]]:
    """Build each probe: ``(name, probe)`` pairs.

    Raises:
        ConfigError: an unknown probe (listing the available ones) or a bad parameter.
    """
    return [(name, probe) for name, probe, _ in _build_probes(probe_configs, host)]


def _build_probes(
    probe_configs: Sequence[ComponentConfig], host: PluginHost
) -> list[tuple[str, Any, dict[str, Any]]]:
    """``(name, probe, parameters)``: the parameters with the factory's defaults filled
    in, as the results record them (``probe_params``)."""
    registry = host.ensure_registered()
    built = []
    for pc in probe_configs:
        comp = registry.get("probe", pc.name)
        params = resolve_parameters(comp.factory, pc.params, _label("probe", pc.name))
        probe = _call_factory(comp.factory, _label("probe", pc.name), **params)
        built.append((pc.name, probe, jsonable(params)))
    return built


def analyze(
    run: Run | str | Path,
    probes: Sequence[str | ComponentConfig] | None = None,
    *,
    out: str | Path | None = None,
    host: PluginHost | None = None,
    write: bool = True,
) -> xr.Dataset:
    """Run probes on a run (in memory or saved) and label the results.

    Args:
        run: a :class:`Run` or a run directory.
        probes: probe names (or configs); ``None`` runs the default probes.
        out: netCDF file to write (replaced if it is an earlier results file);
            default ``RUN_DIR/results.nc`` for saved runs, where the results of
            probes not run this time are kept (the file only gains probes).
        host: plugin host.
        write: write the results file when the run is saved (or ``out`` given).

    Returns:
        The labelled dataset, as written (for ``RUN_DIR/results.nc``: with the kept
        probes). Probes that do not apply are skipped with a warning and listed in
        the ``skipped_probes`` attribute.
    """
    host = host or get_host()
    if not isinstance(run, Run):
        run = load_run(run, host)
    probe_configs = (
        parse_probes(probes) if probes is not None else (run.config.probes or default_probes(host))
    )
    if probes is None and not probe_configs:
        raise ConfigError(
            "no probes to run: the run names none and no installed plugin has a default "
            "probe; name one with --probe (see 'tlkit plugins')"
        )
    built_with_params = _build_probes(probe_configs, host)
    built = [(name, probe) for name, probe, _ in built_with_params]
    out_path = (
        Path(out)
        if out is not None
        else (run.path / checkpoint.RESULTS if (write and run.path is not None) else None)
    )
    if out_path is not None and write:
        ensure_results_dir(out_path.parent, out_given=out is not None)
        check_replaceable_results(out_path, run)
    outputs: dict[str, Mapping[str, ProbeOutput]] = {}
    skipped: dict[str, str] = {}
    registry = host.ensure_registered()
    for name, probe in built:
        raise_if_interrupted()
        label = f"probe {name!r} (plugin {registry.get('probe', name).plugin!r})"
        try:
            output = probe(run)
        except ProbeNotApplicable as exc:
            skipped[name] = str(exc)
            warnings.warn(f"probe {name!r} skipped: {exc}", stacklevel=2)
            continue
        except TlkitError:
            raise
        except Exception as exc:
            if is_out_of_memory(exc):
                raise
            text = " ".join(str(exc).split())
            raise ComponentError(f"{label} raised {type(exc).__name__}: {text}") from exc
        # a diverged network may well give inf: its values become NaN (label_run), and
        # a diverging run is recorded, never raised
        problem = outputs_problem(output, allow_inf=run.fit.status != "ok")
        if problem is not None:
            raise ComponentError(f"{label} broke the probe contract: {problem}")
        outputs[name] = output
    raise_if_interrupted()  # one dropped inside the last probe: stop before writing
    ds = results.label_run(
        run,
        outputs,
        skipped=skipped,
        versions=checkpoint.environment_versions(host.distribution_versions()),
        probe_params={name: params for name, _, params in built_with_params},
    )
    if out_path is not None and write:
        if out is None and out_path.is_file():
            # The run's own results file keeps the probes not run this time: analyzing
            # a saved run with one more probe must not drop what training computed.
            try:
                earlier = results.open_results(out_path)
                ds = results.merge_probe_results(earlier, ds, [name for name, _ in built])
            except TlkitError as exc:
                raise TlkitError(
                    f"cannot add to {out_path}: {exc}; write these results elsewhere with "
                    "--out (or delete it)"
                ) from None
        results.save_dataset(ds, out_path)
    return ds


def _fit_to_json(report: FitReport) -> dict[str, Any]:
    stages = []
    for stage in report.stages:
        curves = {
            name: {
                "values": jnp.asarray(c.values).tolist(),
                "dtype": str(jnp.asarray(c.values).dtype),
                "dims": list(c.dims),
                "coords": {k: jsonable(list(v)) for k, v in c.coords.items()},
                "units": c.units,
                "long_name": c.long_name,
            }
            for name, c in stage.curves.items()
        }
        stages.append({"stage": stage.stage, "info": jsonable(stage.info), "curves": curves})
    return {
        "status": report.status,
        "reason": report.reason,
        "choices": jsonable(report.choices),
        "stages": stages,
    }


def _fit_from_json(data: Mapping[str, Any]) -> FitReport:
    stages = [
        StageReport(
            stage=s["stage"],
            info=dict(s.get("info", {})),
            curves={
                name: ProbeOutput(
                    values=np.asarray(c["values"], dtype=c.get("dtype", "float64")),
                    dims=tuple(c["dims"]),
                    coords=c["coords"],
                    units=c.get("units", "1"),
                    long_name=c.get("long_name", ""),
                )
                for name, c in s.get("curves", {}).items()
            },
        )
        for s in data.get("stages", [])
    ]
    return FitReport(
        status=data.get("status", "ok"),
        reason=data.get("reason"),
        stages=stages,
        choices=dict(data.get("choices", {})),
    )
