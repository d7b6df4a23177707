"""The Dask executor on a real local cluster of 2 worker processes."""

from __future__ import annotations

import os
import signal
import threading
import time

import distributed  # noqa: F401  (in the test extra: a missing one is an error, not a skip)
import pytest
import tlkit
import xarray as xr
from fakes import LeastSquares
from tlkit.executors import DaskExecutor, HostSpec
from tlkit.results import open_results
from tlkit.sweep_analysis import analyze_sweep

#: Workers build their host from this: the fakes plus the slow trainer below, both
#: importable because tests/ is on the path that spawned workers inherit.
HOST_SPEC = HostSpec(
    load_entry_points=False, plugins=("fakes:FakePlugin", "test_sweep_dask:SlowPlugin")
)

SPEC = {
    "seeds": [0, 1],
    "base": {
        "target": {"name": "linear", "params": {"d": 4}},
        "arch": "linear-net",
        "trainer": "slow",
        "n_val": 16,
        "n_test": 64,
    },
    "grid": {"n_train": [16, 24, 32, 48], "target.d": [2, 3]},
}


class Slow(LeastSquares):
    """LeastSquares that takes a while, so that a worker dies inside a cell."""

    def fit(self, model, data, on_stage):
        time.sleep(0.15)
        return super().fit(model, data, on_stage)


class SlowPlugin:
    @tlkit.hookimpl
    def tlkit_register_trainers(self, register):
        register("slow", Slow, architectures=["linear-net"])


def test_killing_a_worker_mid_sweep_still_gives_the_local_results(tmp_path):
    host = HOST_SPEC.build()
    local = tlkit.sweep(SPEC, tmp_path / "local", host=host, progress="none")
    assert not local.errors

    executor = DaskExecutor(host_spec=HOST_SPEC, workers=2)
    pids = executor.client.run(os.getpid)
    assert len(pids) == 2 and os.getpid() not in pids.values()
    out = tmp_path / "dask"
    box: dict[str, object] = {}

    def run() -> None:
        try:
            box["result"] = tlkit.sweep(
                SPEC, out, executor=executor, host=host, progress="none", save_runs=True
            )
        except BaseException as exc:  # surfaced by the assertion below
            box["error"] = exc

    thread = threading.Thread(target=run)
    thread.start()
    deadline = time.monotonic() + 120
    while not list((out / "cells").glob("*.nc")) and time.monotonic() < deadline:
        time.sleep(0.05)
    n_done = len(list((out / "cells").glob("*.nc")))
    victim = sorted(pids.values())[0]
    os.kill(victim, signal.SIGKILL)
    thread.join(timeout=300)
    assert not thread.is_alive()
    assert "error" not in box, box.get("error")
    result = box["result"]
    assert n_done < result.cells, "the worker died after the sweep had finished"
    assert result.ran == result.cells and not result.errors, result.errors
    xr.testing.assert_identical(
        open_results(out / "results.nc"), open_results(tmp_path / "local" / "results.nc")
    )
    # every seed's run was saved by the workers; a killed writer's temporaries are gone
    again = analyze_sweep(out, host=host, progress="none")
    assert (again.cells, again.runs) == (result.cells, 2 * result.cells)
    xr.testing.assert_equal(again.results["mse_mse"], result.results["mse_mse"])
    assert not [p for p in (out / "runs").rglob(".*") if ".tmp-" in p.name]


def test_spawn_is_forced_for_local_workers():
    import dask

    # Even when the user's Dask config asks for fork, tlkit's workers are spawned.
    with dask.config.set({"distributed.worker.multiprocessing-method": "fork"}):
        executor = DaskExecutor(host_spec=HOST_SPEC, workers=1)
    try:
        methods = executor.client.run(
            lambda: __import__("multiprocessing").get_start_method(allow_none=True)
        )
        # A forked worker would have inherited jax from this process; a spawned one
        # starts clean (jax arrives only with tlkit, when the first cell runs).
        assert set(methods.values()) == {"spawn"}
    finally:
        executor.close()


def _worker_gpu_env(dask_worker):
    env = os.environ
    return (
        dask_worker.name,
        env.get("CUDA_VISIBLE_DEVICES"),
        env.get("XLA_PYTHON_CLIENT_PREALLOCATE"),
    )


def test_gpu_workers_each_see_their_gpu():
    # Run on CPU: the variables are what a GPU machine's JAX would read at start-up.
    executor = DaskExecutor(host_spec=HOST_SPEC, workers=3, gpus=["0", "1"])
    try:
        seen = sorted(executor.client.run(_worker_gpu_env).values())
    finally:
        executor.close()
    # GPU 0 is shared by workers 0 and 2, so they allocate on demand; worker 1 has GPU 1
    assert seen == [
        ("gpu-worker-0", "0", "false"),
        ("gpu-worker-1", "1", None),
        ("gpu-worker-2", "0", "false"),
    ]


def test_gpu_workers_default_to_one_per_id():
    executor = DaskExecutor(host_spec=HOST_SPEC, gpus=["3", "5"])
    try:
        seen = sorted(executor.client.run(_worker_gpu_env).values())
    finally:
        executor.close()
    assert seen == [("gpu-worker-0", "3", None), ("gpu-worker-1", "5", None)]


def test_a_cluster_starts_cleanly_when_dasks_default_http_port_is_taken():
    # Another cluster (a notebook's, a second sweep's) usually holds port 8787; Dask then
    # warns on every start, which this suite turns into an error.
    import socket

    blocker = socket.socket()
    try:
        blocker.bind(("", 8787))
        blocker.listen()
    except OSError:  # already taken by someone else: the same situation
        pass
    try:
        executor = DaskExecutor(host_spec=HOST_SPEC, workers=1)
        try:
            assert executor.cluster.scheduler.http_server.port != 8787
            assert len(executor.client.run(os.getpid)) == 1
        finally:
            executor.close()
    finally:
        blocker.close()


CTRL_C_SCRIPT = """
import sys
import tlkit, tlkit.cli
from fakes import FakePlugin
from test_sweep_dask import SlowPlugin
from tlkit.plugins import PluginHost


def build_cli():
    host = PluginHost(load_entry_points=False, strict=False)
    host.add_plugin(FakePlugin(), name="fake", version="0.0")
    host.add_plugin(SlowPlugin(), name="slow", version="0.0")
    host.ensure_registered()
    return tlkit.cli.cli, host


if __name__ == "__main__":  # spawned workers import this file again
    tlkit.cli.build_cli = build_cli
    tlkit.cli.main(sys.argv[1:])
"""


def test_ctrl_c_stops_a_dask_sweep_quietly_and_keeps_what_finished(tmp_path):
    import subprocess
    import sys

    import tomli_w

    spec = {**SPEC, "grid": {"n_train": [16, 20, 24, 28, 32, 40, 48, 64], "target.d": [2, 3, 4]}}
    (tmp_path / "sweep.toml").write_text(tomli_w.dumps(spec))
    (tmp_path / "cli.py").write_text(CTRL_C_SCRIPT)
    tests = os.path.dirname(__file__)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([tests, os.environ.get("PYTHONPATH", "")])}
    out = tmp_path / "sw"
    plugins = ["--plugin", "fakes:FakePlugin", "--plugin", "test_sweep_dask:SlowPlugin"]
    proc = subprocess.Popen(
        [
            sys.executable,
            str(tmp_path / "cli.py"),
            "sweep",
            str(tmp_path / "sweep.toml"),
            "--out",
            str(out),
            "--executor",
            "dask",
            "--workers",
            "2",
            "--quiet",
            *plugins,
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group, as a terminal gives it
    )
    deadline = time.monotonic() + 120
    while not list((out / "cells").glob("*.nc")) and time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C reaches the whole group
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 1, stderr
    # no worker took the Ctrl-C (their tracebacks name KeyboardInterrupt and the nanny's
    # "Process Dask Worker process"); the cluster's own shutdown logs are not asserted on
    assert "KeyboardInterrupt" not in stderr, stderr
    assert "Process Dask Worker process" not in stderr, stderr
    assert "cells are finished" in stderr and stderr.rstrip().endswith("Aborted!")
    finished = len(list((out / "cells").glob("*.nc")))
    assert 0 < finished < 24
    ds = open_results(out / "results.nc")
    assert (ds["fit_status"] == "ok").sum().item() == 2 * finished  # two seeds a cell


def test_a_restarted_worker_still_ignores_ctrl_c():
    # SIGINT is ignored by workers started with the cluster (inherited) and by workers
    # the nanny starts later (a worker plugin), so Ctrl-C stays the driver's
    executor = DaskExecutor(host_spec=HOST_SPEC, workers=1)
    try:
        first = next(iter(executor.client.run(os.getpid).values()))
        os.kill(first, signal.SIGKILL)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                pids = list(executor.client.run(os.getpid).values())
            except Exception:  # the worker is being replaced
                pids = []
            if pids and pids[0] != first:
                break
            time.sleep(0.2)
        else:
            pytest.fail("the nanny did not restart the worker")
        handlers = executor.client.run(lambda: str(signal.getsignal(signal.SIGINT)))
        assert list(handlers.values()) == [str(signal.SIG_IGN)]
    finally:
        executor.close()


def test_a_sweep_on_an_external_cluster_started_with_the_dask_cli(tmp_path):
    # the route to many machines: a scheduler and workers started by hand (here: the
    # `dask` command line, as a cluster's job script would), reached with --scheduler
    import json
    import subprocess
    import sys

    tests = os.path.dirname(__file__)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([tests, os.environ.get("PYTHONPATH", "")])}
    dask = [sys.executable, "-m", "distributed.cli.dask_scheduler"]
    address_file = tmp_path / "scheduler.json"
    procs = [
        subprocess.Popen(
            [
                *dask,
                "--scheduler-file",
                str(address_file),
                "--port",
                "0",
                "--dashboard-address",
                ":0",
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    ]
    try:
        deadline = time.monotonic() + 60
        while not address_file.is_file() and time.monotonic() < deadline:
            time.sleep(0.1)
        address = json.loads(address_file.read_text())["address"]
        procs.append(
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "distributed.cli.dask_worker",
                    address,
                    "--nworkers",
                    "2",
                    "--nthreads",
                    "1",
                    "--no-dashboard",
                ],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )
        host = HOST_SPEC.build()
        # the workers load the installed plugins too (their default probes differ from
        # this test host's): name the probes
        spec = {**SPEC, "base": {**SPEC["base"], "probes": ["mse"]}}
        local = tlkit.sweep(spec, tmp_path / "local", host=host, progress="none")
        remote = tlkit.sweep(
            spec,
            tmp_path / "remote",
            executor="dask",
            scheduler=address,
            plugins=list(HOST_SPEC.plugins),
            host=host,
            progress="none",
            save_runs=True,
            connect_timeout=30,
        )
        assert remote.ran == remote.cells and not remote.errors, remote.errors
        # same numbers and labels (attributes differ: the workers list more plugins)
        xr.testing.assert_equal(
            open_results(tmp_path / "remote" / "results.nc"),
            open_results(tmp_path / "local" / "results.nc"),
        )
        # and the saved runs are probed again by the same workers
        again = analyze_sweep(
            tmp_path / "remote",
            host=host,
            progress="none",
            executor="dask",
            scheduler=address,
            plugins=list(HOST_SPEC.plugins),
            connect_timeout=30,
        )
        assert again.runs == 2 * local.cells
        xr.testing.assert_equal(again.results["mse_mse"], local.results["mse_mse"])
    finally:
        for proc in reversed(procs):
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()


def _scheduler_xarray_sees_when_tlkit_writes():
    # runs as a task on a worker: what xarray's write lock would be in save_dataset
    import xarray.backends.locks as locks
    from tlkit.results import _local_write_lock

    with _local_write_lock():
        inside = locks.get_dask_scheduler()
    return locks.get_dask_scheduler(), inside


def test_cell_files_are_written_without_a_cluster_wide_lock():
    executor = DaskExecutor(host_spec=HOST_SPEC, workers=1)
    try:
        plain, inside = executor.client.submit(_scheduler_xarray_sees_when_tlkit_writes).result()
    finally:
        executor.close()
    assert plain == "distributed"  # what xarray alone would do on a worker
    assert inside == "threaded"  # a local lock: no semaphore on the scheduler
