"""The persistent compilation cache: off by default, reused across processes when on."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import jax
import numpy as np
import pytest
from click.testing import CliRunner
from tlkit.cli import TlkitGroup
from tlkit.compile_cache import (
    ENV_VAR,
    check_cache_location,
    compile_cache_dir,
    enable_compile_cache,
)
from tlkit.results import open_results
from tlkit.sweep_cli import COMMANDS

_JAX_SETTINGS = (
    "jax_compilation_cache_dir",
    "jax_persistent_cache_min_compile_time_secs",
    "jax_persistent_cache_min_entry_size_bytes",
)

# A fresh process compiles one program and reports JAX's own cache events.
_PROBE = """
import json, sys
from jax import monitoring
events = []
monitoring.register_event_listener(lambda name, **kw: events.append(name))
import jax, jax.numpy as jnp
import tlkit

value = jax.jit(lambda x: jnp.sin(x) @ x.T + 3.0)(jnp.ones((7, 5), jnp.float32))
print(json.dumps({
    "hits": events.count("/jax/compilation_cache/cache_hits"),
    "misses": events.count("/jax/compilation_cache/cache_misses"),
    "dir": jax.config.jax_compilation_cache_dir,
    "value": float(value.sum()),
}))
"""


def _probe(env_extra: dict[str, str]) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JAX_", "TLKIT_"))}
    env.update(env_extra)
    result = subprocess.run(
        [sys.executable, "-c", _PROBE], env=env, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def _console(args: list, env_extra: dict[str, str], cwd) -> subprocess.CompletedProcess:
    """The installed ``tlkit`` script in a fresh process (the variable is read at import)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JAX_", "TLKIT_"))}
    env.update(env_extra)
    code = "import sys; from _tlkit_console import main; sys.exit(main())"
    return subprocess.run(
        [sys.executable, "-c", code, *map(str, args)],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.fixture
def invoke(host):
    group = TlkitGroup("tlkit")
    for command in COMMANDS:
        group.add_command(command)

    def _invoke(*args):
        return CliRunner().invoke(group, [str(a) for a in args], obj=host)

    return _invoke


@pytest.fixture
def restore_jax_cache(monkeypatch):
    """Undo enable_compile_cache in this process (JAX config, environment, cache state)."""
    from jax.experimental.compilation_cache import compilation_cache

    saved = {name: getattr(jax.config, name) for name in _JAX_SETTINGS}
    for name in _JAX_SETTINGS:  # monkeypatch restores the environment afterwards
        monkeypatch.delenv(name.upper(), raising=False)
    yield
    for name, value in saved.items():
        jax.config.update(name, value)
    compilation_cache.reset_cache()


def test_off_by_default():
    assert _probe({})["dir"] is None


def test_a_second_process_reuses_what_the_first_compiled(tmp_path):
    cache = tmp_path / "cache"
    first = _probe({ENV_VAR: str(cache)})
    second = _probe({ENV_VAR: str(cache)})
    assert first["dir"] == second["dir"] == str(cache)
    # JAX's own events: the first process compiled and stored, the second loaded
    assert first["misses"] >= 1 and first["hits"] == 0
    assert second["hits"] >= 1 and second["misses"] == 0
    assert any(cache.iterdir())
    x = np.ones((7, 5))
    assert second["value"] == first["value"] == pytest.approx(float((np.sin(x) @ x.T + 3).sum()))


def test_enabling_after_a_compile_still_takes_effect(tmp_path, restore_jax_cache):
    jax.jit(lambda x: x * 2.5)(np.ones(3))  # this process has compiled before
    path = enable_compile_cache(tmp_path / "late")
    assert compile_cache_dir() == str(path)
    jax.jit(lambda x: x * 7.25 - 1)(np.ones(11)).block_until_ready()
    assert any(path.iterdir())
    # worker processes started from here on inherit it
    assert os.environ["JAX_COMPILATION_CACHE_DIR"] == str(path)


def test_sweep_with_a_cache_gives_the_same_results(tmp_path, invoke, restore_jax_cache):
    config = tmp_path / "sweep.toml"
    config.write_text(
        'seeds = [0, 1]\n[base]\ntarget = {name = "linear", params = {d = 3}}\n'
        'arch = "linear-net"\ntrainer = "lstsq"\nn_val = 16\nn_test = 32\n'
        "[grid]\nn_train = [8, 16]\n"
    )
    plain = invoke("sweep", config, "--out", tmp_path / "a", "--quiet")
    assert plain.exit_code == 0, plain.output
    jax.clear_caches()  # compile again (this process has the programs in memory)
    cached = invoke(
        "sweep", config, "--out", tmp_path / "b", "--quiet", "--compile-cache", tmp_path / "cache"
    )
    assert cached.exit_code == 0, cached.output
    assert any((tmp_path / "cache").iterdir())
    a, b = (open_results(tmp_path / name / "results.nc") for name in ("a", "b"))
    for name in a.data_vars:
        np.testing.assert_array_equal(a[name].values, b[name].values)


def test_a_cache_path_that_is_a_file_is_one_line_and_exit_2(tmp_path, invoke, restore_jax_cache):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    config = tmp_path / "sweep.toml"
    config.write_text(
        '[base]\ntarget = "linear"\narch = "linear-net"\ntrainer = "lstsq"\n[grid]\nn_train = [8]\n'
    )
    result = invoke("sweep", config, "--out", tmp_path / "out", "--compile-cache", blocker)
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [
        f"error: cannot create directory {blocker}: {blocker} is a file, not a directory"
    ]
    assert not (tmp_path / "out").exists()
    assert compile_cache_dir() is None


def _worker_cache_dir():
    import jax  # a spawned worker imports JAX here, reading the inherited variables

    return os.environ.get("JAX_COMPILATION_CACHE_DIR"), jax.config.jax_compilation_cache_dir


def test_local_dask_workers_inherit_the_cache(tmp_path, restore_jax_cache):
    import distributed  # noqa: F401  (in the test extra: a missing one is an error, not a skip)
    from tlkit.executors import DaskExecutor, HostSpec

    path = enable_compile_cache(tmp_path / "shared")
    spec = HostSpec(load_entry_points=False, plugins=("fakes:FakePlugin",))
    executor = DaskExecutor(host_spec=spec, workers=2)
    try:
        seen = executor.client.run(_worker_cache_dir)
    finally:
        executor.close()
    assert len(seen) == 2
    assert set(seen.values()) == {(str(path), str(path))}


def test_a_bad_environment_variable_warns_and_runs_without(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JAX_", "TLKIT_"))}
    env[ENV_VAR] = str(blocker)
    code = "import jax, tlkit; print(jax.config.jax_compilation_cache_dir)"
    result = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "None"
    assert (
        f"TLKIT_COMPILE_CACHE: cannot create directory {blocker}: {blocker} is a file, not a "
        "directory" in result.stderr
    )


def test_an_empty_cache_path_is_refused(tmp_path, invoke, restore_jax_cache):
    config = tmp_path / "sweep.toml"
    config.write_text('[base]\ntarget = "linear"\narch = "linear-net"\ntrainer = "lstsq"\n')
    result = invoke("sweep", config, "--out", tmp_path / "out", "--compile-cache", "")
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [
        "error: the compilation cache needs a directory, got an empty path"
    ]
    assert not (tmp_path / "out").exists()


_CONFIG = (
    '[base]\ntarget = "linear"\narch = "linear-net"\ntrainer = "lstsq"\n[grid]\nn_train = [8]\n'
)


@pytest.mark.parametrize("dry_run", [False, True])
@pytest.mark.parametrize("where", ["out", "inside-out", "inside-a-sweep", "inside-a-run"])
def test_a_cache_inside_a_sweep_or_run_directory_is_refused_before_anything_is_written(
    tmp_path, invoke, restore_jax_cache, where, dry_run
):
    config = tmp_path / "sweep.toml"
    config.write_text(_CONFIG)
    out = tmp_path / "out"
    other_sweep, run = tmp_path / "old-sweep", tmp_path / "run"
    other_sweep.mkdir()
    (other_sweep / "sweep.json").write_text('{"spec": {}}')
    (run / "state").mkdir(parents=True)
    (run / "manifest.json").write_text('{"schema_version": 1, "state_files": {}}')
    cache = {
        "out": out,
        "inside-out": out / "xla",
        "inside-a-sweep": other_sweep / "cells" / "xla",
        "inside-a-run": run / "state" / "xla",
    }[where]
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    extra = ("--dry-run",) if dry_run else ()
    result = invoke("sweep", config, "--out", out, "--compile-cache", cache, *extra)
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: --compile-cache {cache} is inside"), (
        lines
    )
    assert "outside sweep and run directories" in lines[0]
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before
    assert compile_cache_dir() is None


def test_dry_run_refuses_a_cache_path_that_is_a_file(tmp_path, invoke, restore_jax_cache):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    config = tmp_path / "sweep.toml"
    config.write_text(_CONFIG)
    result = invoke(
        "sweep", config, "--out", tmp_path / "out", "--compile-cache", blocker, "--dry-run"
    )
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [
        f"error: cannot create directory {blocker}: {blocker} is a file, not a directory"
    ]
    assert not (tmp_path / "out").exists()


def test_reproduce_refuses_a_cache_inside_its_directory(tmp_path, host, restore_jax_cache):
    from tlkit.reproduce_cli import COMMANDS as REPRODUCE

    group = TlkitGroup("tlkit")
    for command in REPRODUCE:
        group.add_command(command)
    out = tmp_path / "repro"
    result = CliRunner().invoke(
        group,
        ["reproduce", "single-index", "--small", "--out", str(out)]
        + ["--compile-cache", str(out / "xla")],
        obj=host,
    )
    assert result.exit_code == 2
    assert (
        result.output.strip()
        .splitlines()[0]
        .startswith(f"error: --compile-cache {out / 'xla'} is inside the output directory {out}")
    )
    assert not out.exists()
    assert compile_cache_dir() is None


def test_a_bad_environment_variable_is_one_line_from_the_console_script(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    result = _console(["--version"], {ENV_VAR: str(blocker)}, tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stderr.splitlines() == [
        f"warning: TLKIT_COMPILE_CACHE: cannot create directory {blocker}: {blocker} is a "
        "file, not a directory; running without the cache"
    ]


def test_a_cache_under_someone_elses_manifest_json_is_allowed(tmp_path):
    # a web app's manifest.json is no run directory
    project = tmp_path / "project"
    project.mkdir()
    (project / "manifest.json").write_text('{"name": "my web app"}')
    (project / "sweep.json").write_text("[1, 2]")
    check_cache_location(project / ".cache" / "xla", out=tmp_path / "out")


_TRAIN = [
    *("train", "--target", "quadratic-feature", "-p", "d=4", "--arch", "two-layer", "-p", "m=8"),
    *("--trainer", "random-features", "--n-train", "64", "--n-val", "32", "--n-test", "32"),
]


def test_an_environment_cache_inside_the_output_is_refused_before_anything_is_written(tmp_path):
    out = tmp_path / "run"
    result = _console([*_TRAIN, "--out", out], {ENV_VAR: str(out / "xla")}, tmp_path)
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip().splitlines() == [
        f"error: TLKIT_COMPILE_CACHE={out / 'xla'} is inside the output directory {out}; it "
        "holds executable code; keep it in a directory only you write to, outside sweep and "
        "run directories"
    ]
    assert not out.exists()


def test_an_environment_cache_with_spaces_around_it_is_checked_as_used(tmp_path):
    """A value such as ``"DIR "`` (a stray space in a shell script) names ``DIR``, both
    for the cache and for the check: it is refused inside the output, as ``DIR`` is."""
    out = tmp_path / "run"
    result = _console([*_TRAIN, "--out", out], {ENV_VAR: f" {out / 'xla'} "}, tmp_path)
    assert result.returncode == 2, result.stderr
    assert "is inside the output directory" in result.stderr
    assert not out.exists()
    probe = _probe({ENV_VAR: f"{tmp_path / 'cache'}  "})
    assert probe["dir"] == str(tmp_path / "cache")


def test_an_environment_cache_inside_a_run_is_refused_by_analyze(tmp_path):
    run = tmp_path / "run"
    cache = tmp_path / "cache"
    trained = _console([*_TRAIN, "--out", run], {ENV_VAR: str(cache)}, tmp_path)
    assert trained.returncode == 0, trained.stderr
    assert any(cache.iterdir())  # the variable was in use, outside the run: fine
    before = sorted(p.name for p in run.iterdir())
    result = _console(["analyze", run], {ENV_VAR: str(run / "xla")}, tmp_path)
    assert result.returncode == 2, result.stderr
    assert "TLKIT_COMPILE_CACHE=" in result.stderr and "is inside the output directory" in (
        result.stderr
    )
    assert sorted(p.name for p in run.iterdir()) == before  # no cache directory made in it
