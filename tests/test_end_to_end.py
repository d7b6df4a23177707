"""The installed `tlkit` command with the first-party plugins, through entry points."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from test_plugins import BROKEN_IMPORT, make_distribution

SMALL_RUN = (
    "--target",
    "quadratic-feature",
    "--arch",
    "three-layer",
    "-p",
    "d=8",
    "-p",
    "m1=64",
    "-p",
    "m2=128",
    "--n-train",
    "512",
    "--n-val",
    "256",
    "--n-test",
    "512",
)


def tlkit(*args, env=None, check=True):
    full_env = {**os.environ, **(env or {})}
    full_env.pop("TLKIT_LOAD_PLUGINS", None)
    result = subprocess.run(
        [sys.executable, "-m", "tlkit.cli", *map(str, args)],
        capture_output=True,
        text=True,
        env=full_env,
        timeout=600,
    )
    if check and result.returncode != 0:
        raise AssertionError(f"tlkit {' '.join(map(str, args))} failed:\n{result.stderr}")
    return result


def metric_lines(output):
    return sorted(l.strip() for l in output.splitlines() if l.startswith("  ") and "_" in l)


#: a tiny three-layer run for third-party targets (their d is their own default or -p d=)
TINY_THREE_LAYER = (
    "--arch",
    "three-layer",
    "-p",
    "m1=32",
    "-p",
    "m2=64",
    "--n-train",
    "256",
    "--n-val",
    "128",
    "--n-test",
    "256",
)


def train_and_reanalyze(out, *args):
    """`tlkit train ... --out OUT` then `tlkit analyze OUT`: the metric lines must agree."""
    trained = tlkit("train", *args, "--out", out)
    analyzed = tlkit("analyze", out)
    assert metric_lines(trained.stdout) == metric_lines(analyzed.stdout)
    return trained


def test_first_party_plugins_load():
    plugins = {p["name"]: p for p in json.loads(tlkit("plugins", "--json").stdout)}
    assert {"targets", "nets", "probes"} <= set(plugins)
    for name in ("targets", "nets", "probes"):
        assert plugins[name]["error"] is None, plugins[name]
    assert "quadratic-feature" in plugins["targets"]["components"]["target"]
    assert "three-layer" in plugins["nets"]["components"]["architecture"]
    assert "test" in plugins["probes"]["components"]["probe"]


def test_train_then_analyze_gives_the_same_metrics(tmp_path):
    out = tmp_path / "run"
    trained = train_and_reanalyze(out, *SMALL_RUN)
    assert any("test_normalized_mse" in l for l in metric_lines(trained.stdout))
    assert (out / "results.nc").is_file()


def test_skipped_probes_and_short_vectors_read_well(tmp_path):
    # a two-layer network has no scalar learned feature: the table says so, once, with no
    # Python warning (file:line and source) on stderr
    two = tlkit(
        "train",
        "--target",
        "quadratic-feature",
        "-p",
        "d=4",
        "--arch",
        "two-layer",
        "-p",
        "m=16",
        "--n-train",
        "256",
        "--n-val",
        "128",
        "--n-test",
        "128",
        "--probe",
        "feature",
        "--probe",
        "ridge-probe",
        "--out",
        tmp_path / "two",
    )
    assert "feature                          skipped: " in two.stdout
    # a one-layer network's per-layer number still names its layer
    line = next(l for l in two.stdout.splitlines() if "ridge_probe_r2" in l)
    assert line.split()[1] == "layer=h1:", line
    assert "Warning" not in two.stderr and ".py:" not in two.stderr, two.stderr
    # per-layer numbers of a three-layer run are printed, not pointed at
    three = tlkit("analyze", tmp_path / "two", "--probe", "test")
    assert "test_normalized_mse" in three.stdout
    deep = tlkit("train", *SMALL_RUN, "--probe", "ridge-probe", "--out", tmp_path / "three")
    line = next(l for l in deep.stdout.splitlines() if "ridge_probe_r2" in l)
    assert "layer=h1: " in line and "layer=h2: " in line, line


def test_broken_plugin_is_reported_and_everything_else_works(tmp_path):
    site = tmp_path / "site"
    site.mkdir()
    make_distribution(site, "broken-plugin", "broken_plugin_mod", BROKEN_IMPORT, "broken")
    env = {"PYTHONPATH": os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")])}
    plugins = {p["name"]: p for p in json.loads(tlkit("plugins", "--json", env=env).stdout)}
    assert plugins["broken"]["error"] == "RuntimeError: this plugin is broken on purpose"
    assert plugins["targets"]["error"] is None
    tlkit("train", *SMALL_RUN, "--out", tmp_path / "run", env=env)
    strict = tlkit("plugins", env={**env, "TLKIT_STRICT_PLUGINS": "1"}, check=False)
    assert strict.returncode == 2
    assert strict.stderr.strip() == (
        "error: plugin 'broken' failed to load: RuntimeError: this plugin is broken on purpose"
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--target", "nope"), "error: unknown target 'nope'; available: "),
        (("-p", "d=-3"), "error: target 'quadratic-feature': "),
        (("-p", "d=x"), "error: parameter 'd' of target 'quadratic-feature' expects int"),
        (("--n-train", "0"), "error: n_train must be positive, got 0"),
    ],
)
def test_bad_input_one_line_exit_2(tmp_path, args, message):
    base = list(SMALL_RUN)
    result = tlkit("train", *base, *args, "--out", tmp_path / "run", check=False)
    assert result.returncode == 2, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and result.stderr.startswith(message)
    assert "Traceback" not in result.stderr and not (tmp_path / "run").exists()


THIRD_PARTY_PYPROJECT = """
[build-system]
requires = ["setuptools>=61"]
build-backend = "setuptools.build_meta"

[project]
name = "tlkit-test-cosine"
version = "0.0.1"
dependencies = []

[project.entry-points.tlkit]
cosine = "tlkit_test_cosine"
"""

THIRD_PARTY_MODULE = '''
"""A third-party target: y = cos(beta . x), x ~ N(0, I_d)."""
import jax
import jax.numpy as jnp
import numpy as np

import tlkit
from tlkit.types import DegreeEnergy


class Cosine:
    def __init__(self, *, d: int = 8, seed: int = 0):
        self.d = d
        self.params = {"d": d, "seed": seed}
        beta = np.random.default_rng(seed).standard_normal(d)
        self.beta = beta / np.linalg.norm(beta)

    def sample(self, key, n, dtype=jnp.float32):
        X = jax.random.normal(key, (n, self.d), dtype=dtype)
        return X, self.function(X)

    def feature(self, X):
        return X @ jnp.asarray(self.beta, X.dtype)

    def link(self, z):
        return jnp.cos(z)

    def function(self, X):
        return self.link(self.feature(X))

    def metadata(self):
        return {"input_distribution": "gaussian", "d": self.d, "feature_degree": 1}

    def degree_energy(self, max_degree=6):
        # cos(z) = e^{-1/2} sum_k (-1)^k He_{2k}(z) / (2k)!  => energy of degree 2k: e^{-1} / (2k)!
        from math import exp, factorial
        degrees = range(max_degree + 1)
        energy = np.array([exp(-1) / factorial(k) if k % 2 == 0 else 0.0 for k in degrees])
        var = 0.5 * (1 + exp(-2)) - exp(-1)
        return DegreeEnergy(energy, None, "exact", var)


@tlkit.hookimpl
def tlkit_register_targets(register):
    register("cosine", Cosine, description="cos(beta . x)")
'''


@contextlib.contextmanager
def pip_installed(path, distribution):
    """pip-install a package into this environment (its entry points then load), then remove it."""
    pip = [sys.executable, "-m", "pip"]
    subprocess.run([*pip, "install", "-q", "--no-deps", str(path)], check=True, capture_output=True)
    try:
        yield
    finally:
        subprocess.run(
            [*pip, "uninstall", "-q", "-y", distribution], check=True, capture_output=True
        )


@pytest.fixture
def third_party_plugin(tmp_path):
    pkg = tmp_path / "tlkit-test-cosine"
    pkg.mkdir()
    (pkg / "pyproject.toml").write_text(THIRD_PARTY_PYPROJECT)
    (pkg / "tlkit_test_cosine.py").write_text(textwrap.dedent(THIRD_PARTY_MODULE))
    with pip_installed(pkg, "tlkit-test-cosine"):
        yield pkg


def test_third_party_target_plugin_trains_and_analyzes(third_party_plugin, tmp_path):
    plugins = {p["name"]: p for p in json.loads(tlkit("plugins", "--json").stdout)}
    assert plugins["cosine"]["components"]["target"] == ["cosine"]
    assert plugins["cosine"]["version"] == "0.0.1"
    out = tmp_path / "run"
    train_and_reanalyze(out, "--target", "cosine", "-p", "d=6", *TINY_THREE_LAYER)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["components"]["target"]["plugin"] == "cosine"
    assert manifest["versions"]["tlkit-test-cosine"] == "0.0.1"


def test_demo_small(tmp_path):
    out = tmp_path / "demo"
    result = tlkit("demo", "--small", "--quiet", "--out", out)
    assert (out / "results.nc").is_file() and (out / "demo.png").is_file()
    assert "median over seeds" in result.stdout
    assert "(NaN: not defined for that architecture" in result.stdout
    assert "[1/4]" in result.stderr  # --quiet: a line per cell, not minutes of silence
    import xarray as xr

    with xr.open_dataset(out / "results.nc", engine="h5netcdf") as ds:
        assert set(ds["arch"].values) == {"two-layer", "three-layer"}
        assert ds.sizes["seed"] == 2
    # rerun resumes from the finished cells instead of training again
    again = tlkit("demo", "--small", "--quiet", "--out", out)
    assert "0 failed" in again.stdout


@pytest.fixture
def example_plugin():
    """The finished tutorial plugin from docs/plugins/example-target, pip-installed."""
    root = Path(__file__).resolve().parents[1] / "docs" / "plugins" / "example-target"
    with pip_installed(root, "tlkit-sparse-parity"):
        yield root


def test_tutorial_plugin_installs_trains_and_analyzes(example_plugin, tmp_path):
    plugins = {p["name"]: p for p in json.loads(tlkit("plugins", "--json").stdout)}
    (entry,) = [p for p in plugins.values() if "sparse-parity" in p["components"].get("target", [])]
    assert entry["error"] is None
    out = tmp_path / "run"
    train_and_reanalyze(out, "--target", "sparse-parity", *TINY_THREE_LAYER)
    tests = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            str(example_plugin / "tests"),
        ],
        capture_output=True,
        text=True,
        cwd=example_plugin,
    )
    assert tests.returncode == 0, tests.stdout[-2000:]
