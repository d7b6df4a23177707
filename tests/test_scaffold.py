"""tlkit.scaffold: the generated target plugin installs and passes its own tests unchanged."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest
from tlkit.errors import ConfigError
from tlkit.scaffold import new_target_plugin, plugin_names


def test_names_derived_from_target_name() -> None:
    assert plugin_names("sparse-parity") == {
        "name": "sparse-parity",
        "distribution": "tlkit-sparse-parity",
        "package": "tlkit_sparse_parity",
        "classname": "SparseParity",
    }


@pytest.mark.parametrize("bad", ["", "Sparse", "1parity", "a--b", "a_b", "with space", "-a", "a-"])
def test_bad_names_raise_config_error(bad: str, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="target name must be lower-case letters"):
        new_target_plugin(bad, tmp_path)


def test_generated_tree_has_no_placeholders(tmp_path: Path) -> None:
    root = new_target_plugin("staircase", tmp_path)
    assert root == tmp_path / "tlkit-staircase"
    files = sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())
    assert files == [
        "README.md",
        "pyproject.toml",
        "src/tlkit_staircase/__init__.py",
        "src/tlkit_staircase/plugin.py",
        "src/tlkit_staircase/target.py",
        "tests/test_target.py",
    ]
    for path in root.rglob("*"):
        if path.is_file():
            assert "{{" not in path.read_text(), path
    assert 'staircase = "tlkit_staircase.plugin"' in (root / "pyproject.toml").read_text()


def test_refuses_non_empty_directory(tmp_path: Path) -> None:
    (tmp_path / "tlkit-staircase").mkdir()
    (tmp_path / "tlkit-staircase" / "keep.txt").write_text("mine")
    with pytest.raises(ConfigError, match="already exists and is not empty"):
        new_target_plugin("staircase", tmp_path)


def _pip(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pip", *args], capture_output=True, text=True, check=False
    )


def test_unusable_directory_is_one_error_and_leaves_nothing(tmp_path: Path) -> None:
    from tlkit.errors import TlkitError

    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(TlkitError, match="file is a file, not a directory"):
        new_target_plugin("my-target", blocker / "sub")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]


def test_generated_plugin_installs_and_passes_its_tests(
    tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    name = "scaffold-probe-target"
    root = new_target_plugin(name, tmp_path)
    # Without build isolation the venv's setuptools needs `wheel` (setuptools < 70.1);
    # otherwise let pip fetch a build backend into an isolated environment.
    isolation = ["--no-build-isolation"] if importlib.util.find_spec("wheel") else []
    request.addfinalizer(lambda: _pip("uninstall", "-y", "-q", plugin_names(name)["distribution"]))
    installed = _pip("install", "-q", "--no-deps", *isolation, "-e", str(root))
    assert installed.returncode == 0, installed.stdout + installed.stderr
    tests = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        cwd=root,
        capture_output=True,
        text=True,
        check=False,
    )
    assert tests.returncode == 0, tests.stdout[-3000:] + tests.stderr[-3000:]
    assert "4 passed" in tests.stdout
