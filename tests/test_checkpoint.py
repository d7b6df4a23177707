"""Run directories that are missing, corrupted, truncated or from a newer schema."""

from __future__ import annotations

import json

import pytest
import tlkit
from fakes import fake_config
from tlkit.errors import RunDirectoryError


@pytest.fixture
def run_dir(host, tmp_path):
    out = tmp_path / "run"
    tlkit.train(fake_config(), host=host, out=out)
    return out


def test_missing_directory(host, tmp_path):
    with pytest.raises(RunDirectoryError, match="run directory not found"):
        tlkit.load_run(tmp_path / "nope", host=host)


def test_not_a_run_directory(host, tmp_path):
    with pytest.raises(RunDirectoryError, match="no manifest.json"):
        tlkit.load_run(tmp_path, host=host)


def test_truncated_manifest(host, run_dir):
    text = (run_dir / "manifest.json").read_text()
    (run_dir / "manifest.json").write_text(text[: len(text) // 2])
    with pytest.raises(RunDirectoryError, match="corrupted or truncated manifest"):
        tlkit.load_run(run_dir, host=host)


def test_newer_schema(host, run_dir):
    manifest = json.loads((run_dir / "manifest.json").read_text())
    manifest["schema_version"] = 99
    (run_dir / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(
        RunDirectoryError, match="schema version 99; this tlkit reads up to version 1"
    ):
        tlkit.load_run(run_dir, host=host)


def test_truncated_state_file(host, run_dir):
    files = sorted(
        p for p in (run_dir / "state").rglob("*") if p.is_file() and p.stat().st_size > 16
    )
    victim = max(files, key=lambda p: p.stat().st_size)
    victim.write_bytes(victim.read_bytes()[: victim.stat().st_size // 2])
    with pytest.raises(RunDirectoryError, match="corrupted or truncated"):
        tlkit.load_run(run_dir, host=host)


def test_missing_state(host, run_dir):
    import shutil

    shutil.rmtree(run_dir / "state")
    with pytest.raises(RunDirectoryError, match="has no state/"):
        tlkit.load_run(run_dir, host=host)


def test_uninstalled_component_named(host, run_dir):
    manifest = json.loads((run_dir / "manifest.json").read_text())
    manifest["config"]["target"]["name"] = "gone"
    (run_dir / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(tlkit.errors.UnknownComponentError, match="unknown target 'gone'"):
        tlkit.load_run(run_dir, host=host)


def test_shape_check_matches_list_indices_that_orbax_restores_as_strings(tmp_path):
    """nnx.List / Sequential state has integer keys; orbax gives them back as strings."""
    import numpy as np
    from tlkit.checkpoint import load_state, save_state, shape_mismatch

    state = {"blocks": {0: np.zeros(3), 1: np.zeros(())}, "w": np.ones(2)}
    hashes = save_state(tmp_path, state)
    restored = load_state(tmp_path, {"state_files": hashes})
    assert shape_mismatch(state, restored) == ""
    wider = {"blocks": {0: np.zeros(4), 1: np.zeros(())}, "w": np.ones(2)}
    assert (
        shape_mismatch(wider, restored) == "/blocks/0 has shape (3,), the architecture needs (4,)"
    )
    assert shape_mismatch({**state, "v": np.ones(1)}, restored) == "/v is missing"


def test_a_run_whose_plugin_is_gone_says_which_plugin_it_needs(host, run_dir):
    host.remove_plugin("fake")
    with pytest.raises(RunDirectoryError) as err:
        tlkit.load_run(run_dir, host=host)
    assert str(err.value) == (
        f"{run_dir} needs target 'linear' of plugin 'fake', which is not installed or is "
        "disabled; installed targets: (none)"
    )


def test_a_state_file_the_manifest_does_not_list_is_refused_before_orbax_reads_it(host, run_dir):
    """A manifest edited to drop a file's checksum must not let a damaged file through
    to orbax, whose failure prints tracebacks from its reader threads."""
    manifest = json.loads((run_dir / "manifest.json").read_text())
    rel = max(manifest["state_files"], key=lambda r: (run_dir / "state" / r).stat().st_size)
    del manifest["state_files"][rel]
    (run_dir / "manifest.json").write_text(json.dumps(manifest))
    victim = run_dir / "state" / rel
    victim.write_bytes(victim.read_bytes()[:5])
    with pytest.raises(RunDirectoryError) as err:
        tlkit.load_run(run_dir, host=host)
    assert str(err.value) == (
        f"state file not listed in the manifest of {run_dir}: state/{rel} "
        "(manifest or state altered?)"
    )


def test_a_manifest_without_state_files_is_refused(host, run_dir):
    manifest = json.loads((run_dir / "manifest.json").read_text())
    manifest["state_files"] = {}
    (run_dir / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(RunDirectoryError, match="state file not listed in the manifest"):
        tlkit.load_run(run_dir, host=host)


def test_a_manifest_parameter_that_no_longer_builds_names_the_run(host, run_dir):
    manifest = json.loads((run_dir / "manifest.json").read_text())
    manifest["config"]["target"]["params"]["d"] = "four"
    (run_dir / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(tlkit.errors.ConfigError) as err:
        tlkit.load_run(run_dir, host=host)
    assert str(err.value).startswith(f"cannot rebuild the run in {run_dir} from its manifest: ")
    assert "'d'" in str(err.value) and "'four'" in str(err.value)
