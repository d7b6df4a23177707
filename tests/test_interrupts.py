"""Ctrl-C stops the CLI even when Python drops the KeyboardInterrupt on its way."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from tlkit.interrupts import raise_if_interrupted, sigint_recorded

TESTS = Path(__file__).parent

# A trainer that spends its time in a garbage-collection callback, as JAX's
# _xla_gc_callback can: a KeyboardInterrupt raised there is printed as "Exception
# ignored" and dropped by Python. The CLI must stop anyway, at the next stage.
SCRIPT = textwrap.dedent(
    """
    import gc, sys, time
    import tlkit, tlkit.cli
    from fakes import FakePlugin, LeastSquares
    from tlkit.plugins import PluginHost

    def slow_callback(phase, info):
        if phase == "start":
            time.sleep(0.05)

    class GcBound(LeastSquares):
        def fit(self, model, data, on_stage):
            gc.callbacks.append(slow_callback)
            print("fitting", flush=True)
            end = time.monotonic() + 3.0
            while time.monotonic() < end:
                gc.collect(0)  # young generation only: fast, so most time is in the callback
            gc.callbacks.remove(slow_callback)
            if model is None:  # called by the probe
                return None
            return super().fit(model, data, on_stage)

    def make_gc_probe():
        def probe(run):
            GcBound.fit(None, None, None, None)  # the same gc-bound wait, then a number
            return {"x": tlkit.types.ProbeOutput(1.0)}

        return probe

    class GcPlugin:
        @tlkit.hookimpl
        def tlkit_register_trainers(self, register):
            register("gc-bound", GcBound, architectures=["linear-net"])

        @tlkit.hookimpl
        def tlkit_register_probes(self, register):
            register("gc-bound", make_gc_probe)

    def build_cli():
        host = PluginHost(load_entry_points=False, strict=False)
        host.add_plugin(FakePlugin(), name="fake", version="0.0")
        host.add_plugin(GcPlugin(), name="gc", version="0.0")
        host.ensure_registered()
        return tlkit.cli.cli, host

    tlkit.cli.build_cli = build_cli
    tlkit.cli.main(sys.argv[1:])
    """
)


def _ctrl_c_while_gc_bound(command, env):
    """Start the CLI, press Ctrl-C one second into the gc-bound work, wait for the end."""
    proc = subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    assert proc.stdout.readline().strip() == "fitting"
    time.sleep(1.0)
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=60)
    return proc, stdout, stderr


def test_ctrl_c_swallowed_by_a_gc_callback_still_stops_the_cli(tmp_path):
    script = tmp_path / "cli.py"
    script.write_text(SCRIPT)
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")]),
    }
    out = tmp_path / "run"
    proc, stdout, stderr = _ctrl_c_while_gc_bound(
        [
            sys.executable,
            str(script),
            "train",
            "--target",
            "linear",
            "--arch",
            "linear-net",
            "--trainer",
            "gc-bound",
            "--n-train",
            "32",
            "--n-val",
            "8",
            "--n-test",
            "8",
            "--out",
            str(out),
        ],
        env,
    )
    # the scenario happened: Python dropped the first KeyboardInterrupt ...
    assert "Exception ignored" in stderr and "KeyboardInterrupt" in stderr, stderr
    # ... and the CLI stopped at the next stage anyway, writing nothing
    assert proc.returncode == 1, (stdout, stderr)
    assert stderr.rstrip().endswith("Aborted!")
    assert not out.exists() and [p.name for p in tmp_path.iterdir()] == ["cli.py"]


def test_ctrl_c_swallowed_in_the_last_probe_stops_before_anything_is_written(tmp_path):
    script = tmp_path / "cli.py"
    script.write_text(SCRIPT)
    env = _env()
    run = tmp_path / "run"
    base = [sys.executable, str(script)]
    subprocess.run(
        [
            *base,
            "train",
            "--target",
            "linear",
            "--arch",
            "linear-net",
            "--n-train",
            "32",
            "--n-val",
            "8",
            "--n-test",
            "8",
            "--out",
            str(run),
        ],
        env=env,
        check=True,
        capture_output=True,
    )
    before = (run / "results.nc").read_bytes()
    proc, stdout, stderr = _ctrl_c_while_gc_bound(
        [*base, "analyze", str(run), "--probe", "gc-bound"],
        env,
    )
    assert "Exception ignored" in stderr, stderr  # dropped inside the probe ...
    assert proc.returncode == 1 and stderr.rstrip().endswith("Aborted!"), (stdout, stderr)
    assert (run / "results.nc").read_bytes() == before  # ... and nothing was written


def test_a_recorded_interrupt_is_raised_once_and_the_handler_restored():
    before = signal.getsignal(signal.SIGINT)
    with sigint_recorded():
        try:  # a SIGINT whose KeyboardInterrupt something swallowed
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(1)
        except KeyboardInterrupt:
            pass
        with pytest.raises(KeyboardInterrupt):
            raise_if_interrupted()
        raise_if_interrupted()  # raised once, not forever
    assert signal.getsignal(signal.SIGINT) is before
    raise_if_interrupted()  # outside the CLI nothing is recorded


# -- Ctrl-C while the CLI starts (imports, plugins) -------------------------------------------
# Plugins that load slowly: the CLI is interrupted while it builds its plugin host, at a
# known moment (the test waits for "loading" before it presses Ctrl-C).
SLOW_START = textwrap.dedent(
    """
    import sys, time
    import tlkit, tlkit.cli
    from fakes import FakePlugin
    from tlkit.plugins import PluginHost

    def build_cli():
        print("loading", flush=True)
        end = time.monotonic() + float(sys.argv[1])
        while time.monotonic() < end:
            time.sleep(0.01)
        host = PluginHost(load_entry_points=False, strict=False)
        host.add_plugin(FakePlugin(), name="fake", version="0.0")
        host.ensure_registered()
        return tlkit.cli.cli, host

    tlkit.cli.build_cli = build_cli
    tlkit.cli.main(sys.argv[2:])
    """
)

# A slow import of `module`, as when JAX loads from a cold disk; installed in each Python
# process through sitecustomize, so that the real entry points run unchanged.
SLOW_IMPORT = textwrap.dedent(
    """
    import importlib.abc, os, sys, time

    class SlowImport(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path, target=None):
            if name == os.environ["SLOW_IMPORT_OF"]:
                sys.meta_path.remove(self)
                print("importing", flush=True)
                end = time.monotonic() + 2.0
                while time.monotonic() < end:
                    time.sleep(0.01)
            return None

    sys.meta_path.insert(0, SlowImport())
    """
)


def _ctrl_c_after(command, ready, env, repeat=False):
    """Press Ctrl-C when the command prints ``ready`` (every second if ``repeat``)."""
    proc = subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    assert proc.stdout.readline().strip() == ready
    proc.send_signal(signal.SIGINT)
    while repeat:
        try:
            proc.wait(timeout=1.0)
            break
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=60)
    return proc, stdout, stderr


def _env(**extra):
    path = os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")])
    return {**os.environ, "PYTHONPATH": path, **extra}


def test_ctrl_c_while_plugins_load_is_aborted_without_a_traceback(tmp_path):
    script = tmp_path / "cli.py"
    script.write_text(SLOW_START)
    out = tmp_path / "run"
    train = ["train", "--target", "linear", "--arch", "linear-net", "--out", str(out)]
    proc, stdout, stderr = _ctrl_c_after(
        [sys.executable, str(script), "1.0", *train], "loading", _env()
    )
    assert (proc.returncode, stdout, stderr) == (1, "", "Aborted!\n")
    assert not out.exists()


def test_a_second_ctrl_c_stops_a_start_that_hangs(tmp_path):
    script = tmp_path / "cli.py"
    script.write_text(SLOW_START)
    started = time.monotonic()
    proc, stdout, stderr = _ctrl_c_after(
        [sys.executable, str(script), "300", "plugins"], "loading", _env(), repeat=True
    )
    assert (proc.returncode, stdout, stderr) == (1, "", "Aborted!\n")
    assert time.monotonic() - started < 60


@pytest.mark.parametrize(
    ("entry", "slow"),
    [
        # what the installed `tlkit` script runs: Ctrl-C while tlkit (JAX) is imported
        (["-c", "import sys; from _tlkit_console import main; sys.exit(main())"], "tlkit"),
        # `python -m tlkit` has imported tlkit already; its CLI modules are next
        (["-m", "tlkit"], "tlkit.cli"),
    ],
)
def test_ctrl_c_while_tlkit_is_imported_is_aborted_without_a_traceback(tmp_path, entry, slow):
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(SLOW_IMPORT)
    out = tmp_path / "run"
    env = _env(SLOW_IMPORT_OF=slow)
    env["PYTHONPATH"] = os.pathsep.join([str(site), env["PYTHONPATH"]])
    proc, stdout, stderr = _ctrl_c_after(
        [sys.executable, *entry, "train", "--target", "x", "--arch", "y", "--out", str(out)],
        "importing",
        env,
    )
    assert (proc.returncode, stdout, stderr) == (1, "", "Aborted!\n")
    assert not out.exists()
