"""Atomic writes: a file or directory appears complete or not at all.

Everything is first written under a temporary name in the destination's own
directory (same file system, so the final ``rename`` is atomic), then renamed.
A crash leaves at most a hidden ``.NAME.tmp-*`` entry, never a half-written file
under the real name.

Temporary names carry the writer's host and process id
(``.NAME.tmp-HOST-PID-RANDOM``), so that the next write of the same name can
remove what a killed writer left behind without touching the files of writers that
are still running (a sweep shared between machines writes into one directory from
several processes). An entry whose owner cannot be checked (another host, an older
name) is removed only once it is a day old: entries live only while one file or
directory is being written.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import shutil
import socket
import tempfile
import time
import uuid
import warnings
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
    # os.access says yes to root on a read-only or virtual file system (/proc): try it,
    # so that an output that cannot be written fails before the work, not after.
    try:
        handle, probe = tempfile.mkstemp(prefix=".tlkit-write-test-", dir=directory)
        os.close(handle)
        os.unlink(probe)
    except OSError as exc:
        raise TlkitError(
            f"output directory is not writable: {directory} ({exc.strerror or exc})"
        ) from None


def check_creatable_dir(directory: Path) -> None:
    """Check, creating nothing, that ``directory`` could be created and written.

    For checks that must not write (``tlkit sweep --dry-run``): the nearest existing
    ancestor must be a writable directory. Read-only mounts that ``os.access`` cannot
    see are found only by :func:`ensure_writable_dir`, which tries.

    Raises:
        TlkitError: naming the directory and what blocks it.
    """
    existing = next(p for p in (directory, *directory.parents) if p.exists() or p == p.parent)
    if not existing.is_dir():
        raise TlkitError(
            f"cannot create directory {directory}: {existing} is a file, not a directory"
        )
    if not os.access(existing, os.W_OK | os.X_OK):
        what = "output directory" if existing == directory else f"{existing}, where it would go,"
        raise TlkitError(f"cannot write {directory}: {what} is not writable")


def _write_failed(path: Path, exc: OSError) -> TlkitError:
    return TlkitError(f"cannot write {path}: {exc.strerror or exc}")


def _host_tag() -> str:
    """This host as written into temporary names, plus its process-id namespace.

    Containers may share a hostname but not their process ids: the namespace (Linux)
    makes a writer in another container count as another host (age rule only).
    """
    host = re.sub(r"[^A-Za-z0-9.]", "_", socket.gethostname()) or "host"
    try:
        namespace = os.stat("/proc/self/ns/pid").st_ino
    except OSError:
        return host
    return f"{host}.ns{namespace}"


#: this host (and pid namespace), as written into temporary names
_HOST = _host_tag()
#: whether a process id can be checked without side effects: on Windows os.kill(pid,
#: 0) terminates the process, so there only the age rule applies
_CAN_CHECK_PIDS = os.name == "posix"
#: entries whose owner cannot be checked are stale after this many seconds
STALE_AFTER_S = 24 * 3600
_TEMPORARY = re.compile(r"^\.(?P<name>.+)\.(?:tmp|old)-(?P<owner>[^/]+)$")
_OWNER = re.compile(r"^(?P<host>.+)-(?P<pid>[0-9]+)-[0-9a-f]{8}$")


def _tmp_sibling(path: Path, tag: str) -> Path:
    return path.parent / f".{path.name}.{tag}-{_HOST}-{os.getpid()}-{uuid.uuid4().hex[:8]}"


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # e.g. PermissionError: it exists, owned by someone else
        return True
    return True


def _is_stale(entry: os.DirEntry[str], owner: str, now: float) -> bool:
    match = _OWNER.match(owner)
    if _CAN_CHECK_PIDS and match is not None and match["host"] == _HOST:
        return not _process_alive(int(match["pid"]))
    try:
        age = now - entry.stat(follow_symlinks=False).st_mtime
    except OSError:
        return False
    return age > STALE_AFTER_S


def remove_stale_temporaries(directory: str | Path, name: str | None = None) -> list[Path]:
    """Remove what killed writers left in ``directory`` (their hidden temporaries).

    Args:
        directory: the directory to clean.
        name: only the temporaries of this entry (``.NAME.tmp-*``); all when None.

    Returns:
        The paths removed. Entries of live writers on this host are never removed;
        see the module docstring for the rule.
    """
    removed: list[Path] = []
    now = time.time()
    try:
        entries = list(os.scandir(directory))
    except OSError:
        return removed
    for entry in entries:
        match = _TEMPORARY.match(entry.name)
        if match is None or (name is not None and match["name"] != name):
            continue
        if not _is_stale(entry, match["owner"], now):
            continue
        path = Path(entry.path)
        final = path.parent / match["name"]
        if ".old-" in entry.name and not final.exists():
            # a writer died between moving the old entry aside and putting the new one
            # in place: the old one is the only copy, so it goes back, not away
            with contextlib.suppress(OSError):
                os.rename(path, final)
            continue
        with contextlib.suppress(OSError):
            if entry.is_dir(follow_symlinks=False):
                shutil.rmtree(path)
            else:
                path.unlink()
            removed.append(path)
    return removed


@contextlib.contextmanager
def atomic_file(path: str | Path, *, clean_stale: bool = True) -> Iterator[Path]:
    """Yield a temporary path to write; on success it replaces ``path`` atomically.

    Args:
        path: the final file.
        clean_stale: first remove the stale temporaries of earlier writes of
            ``path`` (a scan of its directory; callers writing many files into
            one directory clean it once instead).
    """
    path = Path(path)
    ensure_writable_dir(path.parent)
    if clean_stale:
        remove_stale_temporaries(path.parent, path.name)
    tmp = _tmp_sibling(path, "tmp")
    try:
        yield tmp
        os.replace(tmp, path)
    except OSError as exc:  # e.g. the disk filled up: one line, the old file intact
        raise _write_failed(path, exc) from None
    finally:
        with contextlib.suppress(OSError):
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
        raise TlkitError(
            f"{path} already exists; choose another output or replace it "
            "(--force; Python: force=True)"
        )
    ensure_writable_dir(path.parent)
    remove_stale_temporaries(path.parent, path.name)
    tmp = _tmp_sibling(path, "tmp")
    try:
        tmp.mkdir()
        yield tmp
        if path.exists() and not replace:
            # another writer finished first (two `tlkit train --out X` at once): its
            # directory stays, this one is discarded
            raise TlkitError(
                f"{path} was created by another process while this one was writing it; "
                "it is kept (this result is discarded: choose another output, or --force)"
            )
        if path.exists():
            old = _tmp_sibling(path, "old")
            os.rename(path, old)
            try:
                os.rename(tmp, path)
            except OSError:
                os.rename(old, path)  # the old directory back under its name
                raise
            shutil.rmtree(old, ignore_errors=True)
            if old.exists():  # e.g. read-only files inside it: the new one is in place
                warnings.warn(
                    f"{path} was replaced, but the old directory could not be removed; "
                    f"it is at {old}",
                    stacklevel=3,
                )
        else:
            # on POSIX a rename onto a non-empty directory fails: a writer that slips in
            # between the check above and here is not overwritten either
            try:
                os.rename(tmp, path)
            except OSError as exc:
                if exc.errno in (errno.EEXIST, errno.ENOTEMPTY):
                    raise TlkitError(
                        f"{path} was created by another process while this one was "
                        "writing it; it is kept (this result is discarded: choose another "
                        "output, or --force)"
                    ) from None
                raise
    except OSError as exc:  # e.g. the disk filled up: one line, the old directory intact
        raise _write_failed(path, exc) from None
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
