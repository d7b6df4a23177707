"""Run directories: ``manifest.json`` plus the network state saved with orbax.

Layout::

    RUN_DIR/
      manifest.json    schema version, versions, full config, resolved component
                       parameters, the trainer's report, sha256 of every state file
      state/           orbax-checkpoint of the network's state (a pure dict of arrays)
      results.nc       probe results computed right after training (optional)

The directory is written under a temporary name and renamed when complete. No
pickle is used anywhere: orbax stores arrays with tensorstore and metadata as JSON.
"""

from __future__ import annotations

import hashlib
import json
import logging
import platform
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import numpy as np

from tlkit.errors import NewerSchemaError, RunDirectoryError

SCHEMA_VERSION = 1
MANIFEST = "manifest.json"
STATE_DIR = "state"
RESULTS = "results.nc"

_CORE_DISTRIBUTIONS = ("tlkit", "jax", "jaxlib", "flax", "orbax-checkpoint", "numpy", "xarray")


def environment_versions(extra: dict[str, str] | None = None) -> dict[str, str]:
    """Versions of tlkit, its numerical stack and the given plugin distributions.

    Also JAX's default matrix-product precision, which decides what float32 means on
    a GPU, and the device the arrays live on (``jax_device``, e.g. ``gpu: NVIDIA H200``
    or ``cpu: cpu``), since float32 results differ between devices in their last bits
    and a sweep's cells may run on different machines.
    """
    import jax

    # float32 products on a GPU depend on it (see tlkit/__init__.py)
    precision = jax.config.jax_default_matmul_precision  # type: ignore[attr-defined]
    device = jax.devices()[0]
    out = {
        "python": platform.python_version(),
        "jax_matmul_precision": str(precision or "default"),
        "jax_device": f"{device.platform}: {device.device_kind}",
    }
    for dist in _CORE_DISTRIBUTIONS:
        try:
            out[dist] = version(dist)
        except PackageNotFoundError:
            continue
    out.update(extra or {})
    return out


def _quiet_orbax() -> None:
    # orbax logs every save/restore at INFO through absl; users do not need that.
    for name in ("absl", "orbax", "orbax.checkpoint"):
        logging.getLogger(name).setLevel(logging.WARNING)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _file_hashes(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): _sha256(p) for p in sorted(root.rglob("*")) if p.is_file()}


def split_empty(state: dict[str, Any]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Separate zero-size arrays, which orbax refuses to save, from the rest.

    Returns:
        The state without them, and a JSON-ready list of ``{"path", "shape",
        "dtype"}`` records from which :func:`restore_empty` puts them back.
    """
    empty: list[dict[str, Any]] = []

    def walk(node: Any, path: tuple[str, ...]) -> Any:
        if isinstance(node, dict):
            out = {}
            for key, value in node.items():
                kept = walk(value, (*path, str(key)))
                if kept is not _DROP:
                    out[key] = kept
            return out
        shape = getattr(node, "shape", None)
        if shape is not None and int(np.prod(shape)) == 0:
            empty.append({"path": list(path), "shape": list(shape), "dtype": str(node.dtype)})
            return _DROP
        return node

    return walk(state, ()), empty


_DROP = object()


def restore_empty(state: dict[str, Any], empty: list[dict[str, Any]]) -> dict[str, Any]:
    """Put the zero-size arrays recorded by :func:`split_empty` back into ``state``."""
    import jax.numpy as jnp

    for record in empty:
        node = state
        *parents, leaf = record["path"]
        for key in parents:
            node = node.setdefault(_key(node, key), {})
        node[_key(node, leaf)] = jnp.zeros(tuple(record["shape"]), dtype=record["dtype"])
    return state


def _key(node: dict[Any, Any], key: str) -> Any:
    # orbax restores integer keys (nnx list indices) as strings or ints; match either.
    if key in node:
        return key
    return int(key) if key.isdigit() and int(key) in node else key


def save_state(directory: Path, state: dict[str, Any]) -> dict[str, str]:
    """Save a pure dict of arrays under ``directory/state``; return file hashes."""
    import orbax.checkpoint as ocp

    _quiet_orbax()
    target = (directory / STATE_DIR).absolute()
    checkpointer = ocp.StandardCheckpointer()
    checkpointer.save(target, state)
    checkpointer.wait_until_finished()
    checkpointer.close()
    return _file_hashes(target)


def write_manifest(directory: Path, manifest: dict[str, Any]) -> None:
    """Write ``manifest.json`` (the last file written into a run directory)."""
    text = json.dumps(manifest, indent=2, sort_keys=True, default=_json_default)
    (directory / MANIFEST).write_text(text + "\n")


def _json_default(value: Any) -> Any:
    if isinstance(value, np.ndarray) or hasattr(value, "tolist"):
        return np.asarray(value).tolist()
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"not JSON-serializable: {type(value).__name__}")


def read_manifest(path: str | Path) -> dict[str, Any]:
    """Read and validate a run directory's manifest.

    Raises:
        RunDirectoryError: missing directory or manifest, invalid JSON, missing
            fields, or a schema newer than this tlkit understands.
    """
    path = Path(path)
    if not path.exists():
        raise RunDirectoryError(f"run directory not found: {path}")
    if not path.is_dir():
        raise RunDirectoryError(f"not a run directory (not a directory): {path}")
    manifest_path = path / MANIFEST
    if not manifest_path.is_file():
        raise RunDirectoryError(f"not a tlkit run directory (no {MANIFEST}): {path}")
    try:
        manifest = json.loads(manifest_path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise RunDirectoryError(f"corrupted or truncated manifest {manifest_path}: {exc}") from None
    if not isinstance(manifest, dict):
        raise RunDirectoryError(f"corrupted manifest {manifest_path}: not a JSON object")
    schema = manifest.get("schema_version")
    if not isinstance(schema, int):
        raise RunDirectoryError(f"corrupted manifest {manifest_path}: no schema_version")
    if schema > SCHEMA_VERSION:
        raise NewerSchemaError(
            f"run directory {path} was written with schema version {schema}; this tlkit "
            f"reads up to version {SCHEMA_VERSION} (upgrade tlkit)"
        )
    for key in ("config", "components", "fit", "state_files"):
        if key not in manifest:
            raise RunDirectoryError(f"corrupted manifest {manifest_path}: missing {key!r}")
    return manifest


def looks_complete(path: str | Path) -> bool:
    """Whether a run directory has a valid manifest and every state file it lists.

    Cheap (no checksums; :func:`load_state` verifies those): for a resumed sweep to
    tell the runs it must train again from those it keeps.
    """
    try:
        manifest = read_manifest(path)
    except RunDirectoryError:
        return False
    files = manifest.get("state_files")
    if not isinstance(files, dict):
        return False
    state_dir = Path(path) / STATE_DIR
    return all((state_dir / rel).is_file() for rel in files)


def shape_mismatch(expected: Any, restored: Any, where: str = "") -> str:
    """The first leaf whose shape differs between two nested state dicts, or ``""``.

    Args:
        expected: the freshly built model's pure state (from the manifest's config).
        restored: the state read from disk.
        where: the path so far (for the message).
    """
    if isinstance(expected, dict) or isinstance(restored, dict):
        if not (isinstance(expected, dict) and isinstance(restored, dict)):
            return f"{where or 'state'} is a {type(restored).__name__}, expected a table"
        # orbax gives back list indices (nnx.List, Sequential) as strings: compare by str
        by_name = {str(k): v for k, v in restored.items()}
        for key in expected:
            if str(key) not in by_name:
                return f"{where}/{key} is missing"
            found = shape_mismatch(expected[key], by_name[str(key)], f"{where}/{key}")
            if found:
                return found
        return ""
    want, got = np.shape(expected), np.shape(restored)
    return f"{where} has shape {got}, the architecture needs {want}" if want != got else ""


def load_state(path: str | Path, manifest: dict[str, Any]) -> dict[str, Any]:
    """Verify the state files against the manifest's hashes and restore them.

    Raises:
        RunDirectoryError: a state file is missing, truncated or altered, or orbax
            cannot read it.
    """
    import orbax.checkpoint as ocp

    _quiet_orbax()
    state_dir = (Path(path) / STATE_DIR).absolute()
    if not state_dir.is_dir():
        raise RunDirectoryError(f"run directory {path} has no {STATE_DIR}/ (truncated?)")
    expected: dict[str, str] = manifest["state_files"]
    for rel, digest in expected.items():
        file = state_dir / rel
        if not file.is_file():
            raise RunDirectoryError(f"state file missing in {path}: {STATE_DIR}/{rel}")
        if _sha256(file) != digest:
            raise RunDirectoryError(
                f"state file corrupted or truncated in {path}: {STATE_DIR}/{rel} "
                "(checksum differs from the manifest)"
            )
    # tlkit lists every file it saved, so an unlisted one means the manifest or the
    # state was altered; orbax must never read bytes that no checksum covers (a damaged
    # file then fails inside its reader threads, which print tracebacks). Hidden files
    # (a file manager's) are not orbax's and are left alone.
    for file in sorted(state_dir.rglob("*")):
        rel = str(file.relative_to(state_dir))  # as _file_hashes writes the keys
        if file.is_file() and not file.name.startswith(".") and rel not in expected:
            raise RunDirectoryError(
                f"state file not listed in the manifest of {path}: {STATE_DIR}/{rel} "
                "(manifest or state altered?)"
            )
    try:
        checkpointer = ocp.StandardCheckpointer()
        restored = checkpointer.restore(state_dir)
        checkpointer.close()
    except Exception as exc:  # orbax raises many types; all mean "unreadable"
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise RunDirectoryError(f"cannot read network state in {path}: {first}") from None
    return restore_empty(dict(restored), manifest.get("empty_arrays", []))
