"""Atomic writes: a file or directory appears complete or not at all.

Everything is first written under a temporary name in the destination's own
directory (same file system, so the final ``rename`` is atomic), then renamed.
A crash leaves at most a hidden ``.NAME.tmp-*`` entry, never a half-written file
under the real name.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

from tlkit.errors import TlkitError


def ensure_writable_dir(directory: Path) -> None:
    """Create ``directory`` if needed and check that files can be created in it.

    Raises:
        TlkitError: naming the directory when it cannot be created or written.
    """
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        blocker = next((p for p in (directory, *directory.parents) if p.exists()), None)
        if blocker is not None and not blocker.is_dir():
            raise TlkitError(
                f"cannot create directory {directory}: {blocker} is a file, not a directory"
            ) from None
        raise TlkitError(f"cannot create directory {directory}: {exc.strerror}") from None
    if not directory.is_dir():
        raise TlkitError(f"not a directory: {directory}")
    if not os.access(directory, os.W_OK | os.X_OK):
        raise TlkitError(f"output directory is not writable: {directory}")


def _tmp_sibling(path: Path, tag: str) -> Path:
    return path.parent / f".{path.name}.{tag}-{uuid.uuid4().hex[:8]}"


@contextlib.contextmanager
def atomic_file(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path to write; on success it replaces ``path`` atomically."""
    path = Path(path)
    ensure_writable_dir(path.parent)
    tmp = _tmp_sibling(path, "tmp")
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


@contextlib.contextmanager
def atomic_directory(path: str | Path, *, replace: bool = False) -> Iterator[Path]:
    """Yield a temporary directory; on success it becomes ``path`` atomically.

    Args:
        path: the final directory.
        replace: allow replacing an existing ``path`` (the old one is removed only
            after the new one is in place).

    Raises:
        TlkitError: when ``path`` exists and ``replace`` is false.
    """
    path = Path(path)
    if path.exists() and not replace:
        raise TlkitError(f"{path} already exists; choose another output or use --force")
    ensure_writable_dir(path.parent)
    tmp = _tmp_sibling(path, "tmp")
    tmp.mkdir()
    try:
        yield tmp
        if path.exists():
            old = _tmp_sibling(path, "old")
            os.rename(path, old)
            os.rename(tmp, path)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.rename(tmp, path)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
