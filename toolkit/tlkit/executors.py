"""Where sweep cells run: in this process (``local``) or on a Dask cluster (``dask``).

Either way a cell runs :func:`run_cell`, which trains the cell's seeds together,
writes the cell's dataset atomically into the sweep directory (or an error
record), and returns a small :class:`CellOutcome`. Results never travel back
through the scheduler: the driver reads the cell files, so a worker that dies
mid-cell leaves nothing under the cell's name and the cell is simply rerun.

Dask specifics:

* ``workers=N`` starts a ``distributed.LocalCluster`` of N worker *processes*
  with one thread each, started with the ``spawn`` method (forced here), so no
  worker is ever forked from a process in which JAX has started.
* ``scheduler=ADDRESS`` connects to an existing cluster (e.g. dask-jobqueue on
  SLURM); the sweep directory must then be on a file system the workers share.
* Tasks and outcomes cross the wire as JSON strings (tlkit stores no pickle; Dask
  still pickles the function reference ``run_cell_json`` itself, by name).
* ``gpus=["0", "1"]``: worker *i* of a local cluster gets
  ``CUDA_VISIBLE_DEVICES=gpus[i % len(gpus)]`` (one GPU per worker).
"""

from __future__ import annotations

import dataclasses
import importlib
import json
import math
import re
import time
import traceback
from collections import Counter
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Protocol

from tlkit.errors import ConfigError, TlkitError
from tlkit.interrupts import raise_if_interrupted, sigint_ignored
from tlkit.plugins import PluginHost


@dataclasses.dataclass(frozen=True)
class HostSpec:
    """How a worker process builds its plugin host.

    Attributes:
        load_entry_points: load installed plugins (honouring ``TLKIT_LOAD_PLUGINS``
            and ``TLKIT_DISABLE_PLUGINS`` in the worker's environment).
        plugins: extra plugin objects as ``"module:attribute"``; a class is
            instantiated.
    """

    load_entry_points: bool = True
    plugins: tuple[str, ...] = ()

    def check(self, *, import_here: bool = True) -> None:
        """Check the extra plugins first, so that a bad one is one line, not a traceback
        from every worker.

        Args:
            import_here: also import them in this process; False for an existing
                cluster, whose workers may have packages this machine lacks.

        Raises:
            ConfigError: a reference not of the form ``module:attribute``, or one that
                does not import.
        """
        for ref in self.plugins:
            if import_here:
                _import_plugin(ref)
            elif not _PLUGIN_REF.fullmatch(ref):
                raise ConfigError(f"--plugin {ref!r} must be of the form module:attribute")

    def build(self) -> PluginHost:
        host = PluginHost(load_entry_points=self.load_entry_points)
        for ref in self.plugins:
            obj, attr = _import_plugin(ref)
            host.add_plugin(obj() if isinstance(obj, type) else obj, name=attr, version=None)
        host.ensure_registered()
        return host


_PLUGIN_REF = re.compile(r"[\w.]+:\w+")


def _import_plugin(ref: str) -> tuple[Any, str]:
    module, sep, attr = ref.partition(":")
    if not sep or not module or not attr:
        raise ConfigError(f"--plugin {ref!r} must be of the form module:attribute")
    try:
        obj = getattr(importlib.import_module(module), attr)
    except (ImportError, AttributeError) as exc:
        raise ConfigError(f"--plugin {ref!r} cannot be loaded: {exc}") from None
    if not _has_hookimpls(obj):
        raise ConfigError(
            f"--plugin {ref!r} is not a tlkit plugin: it has no @tlkit.hookimpl methods"
        )
    return obj, attr


def _has_hookimpls(obj: Any) -> bool:
    """Whether ``obj`` (a plugin object, class or module) implements any tlkit hook."""
    from tlkit.hookspecs import PROJECT_NAME

    marker = f"{PROJECT_NAME}_impl"  # what pluggy's HookimplMarker sets
    for name in dir(obj):
        try:
            value = getattr(obj, name)
        except Exception:  # a property that fails on the class: not a hook
            continue
        if hasattr(value, marker):
            return True
    return False


_HOSTS: dict[HostSpec, PluginHost] = {}


def _host_for(spec: HostSpec) -> PluginHost:
    # One host per worker process: plugin loading happens once, not once per cell.
    if spec not in _HOSTS:
        _HOSTS[spec] = spec.build()
    return _HOSTS[spec]


@dataclasses.dataclass
class CellOutcome:
    """What running one cell did (small; travels back from workers as JSON).

    Attributes:
        cell: cell id; label: its readable label.
        status: ``"ok"`` (file written) or ``"error"`` (error record written).
        seconds: time spent in the cell (training, probes, writing).
        failed_runs: seeds whose training reported ``fit_status="failed"``.
        error: one-line error text when ``status == "error"``.
    """

    cell: str
    label: str
    status: str
    seconds: float
    failed_runs: int = 0
    error: str = ""
    #: the cell's dataset, kept in memory by in-process executors so that the sweep
    #: does not read back the file it just wrote; never sent over the wire.
    dataset: Any = dataclasses.field(default=None, repr=False, compare=False)


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


def run_cell(cell: Any, out: Path, host: PluginHost, *, save_runs: bool = False) -> CellOutcome:
    """Train a cell's seeds together and write its dataset (or its error) into ``out``.

    Any exception inside the cell is recorded, never raised: one bad cell must not
    stop the sweep. With ``save_runs``, each seed's run directory is written first,
    so a cell's file (what marks it finished) never exists without its runs.
    """
    from tlkit import results
    from tlkit.pipeline import save_run
    from tlkit.sweeps import (
        cell_dataset,
        cell_path,
        error_path,
        run_paths,
        train_many,
        write_error,
    )

    start = time.perf_counter()
    try:
        runs = train_many(cell.configs, host)
        if save_runs:
            for run, path in zip(runs, run_paths(out, cell), strict=True):
                save_run(run, path, host, results_ds=run.results, force=True)
        ds = cell_dataset(cell, [r.results for r in runs])
        # the sweep cleaned its cells directory once when it started
        results.save_dataset(ds, cell_path(out, cell), clean_stale=False)
        error_path(out, cell).unlink(missing_ok=True)
        failed = sum(r.fit.status != "ok" for r in runs)
        return CellOutcome(
            cell.id, cell.label, "ok", time.perf_counter() - start, failed, dataset=ds
        )
    except Exception as exc:  # recorded in the cell's error file and the summary
        reason = _one_line(exc)
        write_error(out, cell, reason, traceback.format_exc())
        return CellOutcome(cell.id, cell.label, "error", time.perf_counter() - start, error=reason)


def run_cell_json(task: str) -> str:
    """The Dask task: JSON in (cell, directory, host spec), JSON out (outcome)."""
    from tlkit.sweeps import Cell

    data = json.loads(task)
    spec = HostSpec(data["host"]["load_entry_points"], tuple(data["host"]["plugins"]))
    outcome = run_cell(
        Cell.from_dict(data["cell"]),
        Path(data["out"]),
        _host_for(spec),
        save_runs=bool(data.get("save_runs", False)),
    )
    outcome.dataset = None  # the file on disk is the result; JSON carries the summary
    return json.dumps(dataclasses.asdict(outcome))


class Executor(Protocol):
    """Runs cells and yields their outcomes as they finish.

    ``run`` is called with ``save_runs=True`` only for ``--save-runs`` sweeps, so an
    executor that cannot save runs need not accept the keyword.
    """

    def run(self, cells: Sequence[Any], out: Path) -> Iterator[CellOutcome]: ...

    def close(self) -> None: ...


#: The scheduler of a cluster tlkit starts serves its HTTP endpoints (/health,
#: /metrics) on a free port, no dashboard: its default port 8787 is often taken by
#: another cluster (a notebook's, a second sweep's), and then Dask warns on every start.
SCHEDULER_HTTP = {"dashboard": False, "dashboard_address": ":0"}


class LocalExecutor:
    """Cells one after another in this process, with the caller's plugin host."""

    def __init__(self, host: PluginHost) -> None:
        self.host = host

    def run(
        self, cells: Sequence[Any], out: Path, *, save_runs: bool = False
    ) -> Iterator[CellOutcome]:
        for cell in cells:
            raise_if_interrupted()
            yield run_cell(cell, out, self.host, save_runs=save_runs)

    def close(self) -> None:
        return None


def _make_ignore_sigint() -> Any:
    from distributed.diagnostics.plugin import WorkerPlugin

    class IgnoreSigint(WorkerPlugin):
        """Ctrl-C in the terminal is for the driver, which closes the workers."""

        def setup(self, worker: Any) -> None:
            import signal
            import threading

            if threading.current_thread() is threading.main_thread():
                signal.signal(signal.SIGINT, signal.SIG_IGN)

    return IgnoreSigint()


class DaskExecutor:
    """Cells as independent tasks on a Dask cluster (local processes or a scheduler).

    Raises:
        TlkitError: the scheduler cannot be reached within ``connect_timeout``, or
            ``distributed`` is not installed.
    """

    def __init__(
        self,
        *,
        host_spec: HostSpec,
        workers: int | None = None,
        scheduler: str | None = None,
        gpus: Sequence[str] | None = None,
        connect_timeout: float = 10.0,
    ) -> None:
        if not (math.isfinite(connect_timeout) and connect_timeout > 0):
            # Dask itself fails on nan/inf with a KeyError and on -1 after a wait
            raise ConfigError(
                f"connect_timeout must be a positive number of seconds, got {connect_timeout:g}"
            )
        try:
            import dask
            from distributed import Client, LocalCluster
        except ImportError:
            raise TlkitError(
                "--executor dask needs the 'distributed' package: pip install 'tlkit[dask]'"
            ) from None
        self.host_spec = host_spec
        self.cluster = None
        if scheduler is not None:
            try:
                self.client = Client(scheduler, timeout=f"{connect_timeout}s")
            except (OSError, TimeoutError, ValueError) as exc:
                raise TlkitError(
                    f"cannot reach the Dask scheduler at {scheduler} within "
                    f"{connect_timeout:g} s ({type(exc).__name__})"
                ) from None
            return
        n = workers or (len(gpus) if gpus else 2)
        # spawn: a forked child would inherit this process's running JAX runtime.
        # SIGINT ignored while the workers start, which they inherit: Ctrl-C in the
        # terminal reaches every process of the group, and workers that took it printed
        # dozens of lines of tracebacks; now only this process stops, closing them.
        with (
            dask.config.set({"distributed.worker.multiprocessing-method": "spawn"}),
            sigint_ignored(),
        ):
            if gpus:
                self.cluster = _gpu_cluster(n, list(gpus))
            else:
                self.cluster = LocalCluster(
                    n_workers=n,
                    threads_per_worker=1,
                    processes=True,
                    dashboard_address=None,
                    scheduler_kwargs=SCHEDULER_HTTP,
                    silence_logs=40,
                )
            self.client = Client(self.cluster)
            # Workers the nanny restarts later (after a crash) no longer inherit the
            # ignored SIGINT: this plugin ignores it in every worker, present and future.
            self.client.register_plugin(_make_ignore_sigint(), name="tlkit-ignore-sigint")

    def run(
        self, cells: Sequence[Any], out: Path, *, save_runs: bool = False
    ) -> Iterator[CellOutcome]:
        import uuid

        from distributed import as_completed

        host = dataclasses.asdict(self.host_spec)
        futures = {}
        tag = uuid.uuid4().hex[:8]
        for cell in cells:
            task = json.dumps(
                {
                    "cell": cell.to_dict(),
                    "out": str(Path(out).resolve()),
                    "host": {**host, "plugins": list(host["plugins"])},
                    "save_runs": save_runs,
                }
            )
            future = self.client.submit(
                run_cell_json, task, key=f"tlkit-cell-{cell.id}-{tag}", pure=False
            )
            futures[future] = cell
        for future in as_completed(list(futures)):
            cell = futures[future]
            try:
                yield CellOutcome(**json.loads(future.result()))
            except Exception as exc:  # e.g. KilledWorker after repeated worker deaths
                from tlkit.sweeps import write_error

                reason = _one_line(exc)
                write_error(Path(out), cell, reason, "")
                yield CellOutcome(cell.id, cell.label, "error", 0.0, error=reason)

    def close(self) -> None:
        self.client.close()
        if self.cluster is not None:
            self.cluster.close()


def check_gpu_ids(gpus: Sequence[str]) -> None:
    """Check GPU ids as CUDA_VISIBLE_DEVICES takes them: an index, or a GPU-/MIG- UUID.

    Raises:
        ConfigError: an empty list, an empty entry, or an id of another form.
    """
    if not gpus:
        raise ConfigError("--gpus names no GPU; give ids such as 0,1")
    for gpu in gpus:
        if not re.fullmatch(r"[0-9]+|(?:GPU|MIG)-[A-Za-z0-9/-]+", gpu):
            raise ConfigError(
                f"--gpus: {gpu!r} is not a GPU id; use indices such as 0,1 (as in "
                "nvidia-smi) or GPU-/MIG- UUIDs"
            )


def gpu_worker_env(n: int, gpus: Sequence[str]) -> list[dict[str, str]]:
    """The environment of each of ``n`` local workers given GPU ids ``gpus``.

    Worker i sees only GPU ``gpus[i % len(gpus)]``. JAX takes 75 % of a GPU's memory
    per process by default, so workers that share a GPU allocate on demand instead.
    """
    shared = Counter(gpus[i % len(gpus)] for i in range(n))
    envs = []
    for i in range(n):
        gpu = gpus[i % len(gpus)]
        env = {"CUDA_VISIBLE_DEVICES": gpu}
        if shared[gpu] > 1:
            env["XLA_PYTHON_CLIENT_PREALLOCATE"] = "false"
        envs.append(env)
    return envs


def _gpu_cluster(n: int, gpus: list[str]) -> Any:
    """A local cluster whose worker i sees only GPU ``gpus[i % len(gpus)]``.

    The environment is set by the nanny before the worker process starts, i.e.
    before JAX picks its devices.
    """
    from distributed import Nanny, Scheduler, SpecCluster

    workers = {
        f"gpu-worker-{i}": {
            "cls": Nanny,
            "options": {"nthreads": 1, "env": env, "silence_logs": 40},
        }
        for i, env in enumerate(gpu_worker_env(n, gpus))
    }
    scheduler = {"cls": Scheduler, "options": dict(SCHEDULER_HTTP)}
    return SpecCluster(workers=workers, scheduler=scheduler, silence_logs=40)


def make_executor(
    kind: str,
    *,
    host: PluginHost,
    host_spec: HostSpec,
    workers: int | None = None,
    scheduler: str | None = None,
    gpus: Sequence[str] | None = None,
    connect_timeout: float = 10.0,
) -> Executor:
    """Build an executor by name, checking that the options fit it.

    Raises:
        ConfigError: unknown executor or options that do not apply to it.
    """
    check_executor_options(kind, workers=workers, scheduler=scheduler, gpus=gpus)
    if kind == "local":
        return LocalExecutor(host)
    return DaskExecutor(
        host_spec=host_spec,
        workers=workers,
        scheduler=scheduler,
        gpus=gpus,
        connect_timeout=connect_timeout,
    )


def check_executor_options(
    kind: str,
    *,
    workers: int | None = None,
    scheduler: str | None = None,
    gpus: Sequence[str] | None = None,
) -> None:
    """Check that the executor options fit together, without starting anything.

    Raises:
        ConfigError: unknown executor or options that do not apply to it.
    """
    if kind == "local":
        if workers is not None or scheduler is not None or gpus is not None:
            raise ConfigError("--workers, --scheduler and --gpus need --executor dask")
        return
    if kind != "dask":
        raise ConfigError(f"unknown executor {kind!r}; valid: local, dask")
    if workers is not None and scheduler is not None:
        raise ConfigError("give --workers (a local cluster) or --scheduler, not both")
    if gpus is not None:
        if scheduler is not None:
            raise ConfigError(
                "--gpus starts local GPU workers; with --scheduler, the cluster's "
                "workers bring their own GPUs"
            )
        check_gpu_ids(gpus)
    if workers is not None and workers < 1:
        raise ConfigError(f"workers must be >= 1, got {workers}")
