"""Atomic writes leave nothing half-written; the next write removes a killed writer's leftovers."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from tlkit import atomic
from tlkit.atomic import atomic_directory, atomic_file, remove_stale_temporaries
from tlkit.errors import TlkitError

KILLED_WRITER = textwrap.dedent(
    """
    import sys, time
    from tlkit.atomic import atomic_directory
    with atomic_directory(sys.argv[1]) as tmp:
        (tmp / "weights").write_bytes(b"x" * 1000)
        print(tmp.name, flush=True)
        time.sleep(120)
    """
)


def test_a_killed_writers_temporary_is_removed_by_the_next_write(tmp_path):
    proc = subprocess.Popen(
        [sys.executable, "-c", KILLED_WRITER, str(tmp_path / "run")],
        stdout=subprocess.PIPE,
        text=True,
    )
    leftover = tmp_path / proc.stdout.readline().strip()
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    proc.stdout.close()
    assert leftover.is_dir() and not (tmp_path / "run").exists()  # nothing under the real name
    with atomic_directory(tmp_path / "run") as tmp:
        (tmp / "weights").write_text("new")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]


def _age(path, seconds):
    then = time.time() - seconds
    os.utime(path, (then, then))


def test_only_temporaries_that_cannot_belong_to_a_running_writer_are_removed(tmp_path):
    host, day = atomic._HOST, atomic.STALE_AFTER_S
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    try:
        names = {
            f".r.nc.tmp-{host}-{dead.pid}-0123abcd": "removed",  # owner gone
            f".r.nc.tmp-{host}-{sleeper.pid}-0123abce": "kept",  # owner running
            f".r.nc.tmp-{host}-{os.getpid()}-0123abcf": "kept",  # this process
            ".r.nc.tmp-elsewhere-12-0123abd0": "kept",  # other host, fresh
            ".r.nc.old-elsewhere-13-0123abd1": "removed",  # other host, a day old
            ".r.nc.tmp-0123abd2": "removed",  # older tlkit name, a day old
            f".other.nc.tmp-{host}-{dead.pid}-0123abd3": "kept",  # another file's
            "r.nc.tmp-x": "kept",  # not hidden: never a temporary
        }
        for name in names:
            (tmp_path / name).write_text("partial")
        for name in (".r.nc.old-elsewhere-13-0123abd1", ".r.nc.tmp-0123abd2"):
            _age(tmp_path / name, day + 60)
        _age(tmp_path / ".r.nc.tmp-elsewhere-12-0123abd0", day - 60)
        with atomic_file(tmp_path / "r.nc") as tmp:
            tmp.write_text("complete")
        kept = {n for n, fate in names.items() if fate == "kept"}
        assert {p.name for p in tmp_path.iterdir()} == kept | {"r.nc"}
        # without a name, every stale temporary in the directory goes
        removed = remove_stale_temporaries(tmp_path)
        assert [p.name for p in removed] == [f".other.nc.tmp-{host}-{dead.pid}-0123abd3"]
    finally:
        sleeper.kill()
        sleeper.wait()


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    (tmp_path / "r.nc").write_text("old")
    with pytest.raises(RuntimeError), atomic_file(tmp_path / "r.nc") as tmp:
        tmp.write_text("half")
        raise RuntimeError("crash while writing")
    assert [p.name for p in tmp_path.iterdir()] == ["r.nc"]
    assert (tmp_path / "r.nc").read_text() == "old"


def test_a_write_that_fails_midway_is_one_line_and_keeps_the_old_directory(tmp_path):
    import errno

    from tlkit.errors import TlkitError

    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "weights").write_text("old")
    with (
        pytest.raises(TlkitError) as caught,
        atomic_directory(tmp_path / "run", replace=True) as tmp,
    ):
        (tmp / "weights").write_text("half")
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    assert str(caught.value) == f"cannot write {tmp_path / 'run'}: No space left on device"
    assert [p.name for p in tmp_path.iterdir()] == ["run"]
    assert (tmp_path / "run" / "weights").read_text() == "old"


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="needs Linux /proc")
def test_a_directory_that_refuses_files_is_found_before_any_work(tmp_path):
    from tlkit.atomic import ensure_writable_dir
    from tlkit.errors import TlkitError

    # os.access says yes to root here; creating a file says no
    with pytest.raises(
        TlkitError, match=r"^(output directory is not writable: /proc|cannot create)"
    ):
        ensure_writable_dir(Path("/proc"))


def test_a_failed_swap_puts_the_old_directory_back(tmp_path, monkeypatch):
    import errno

    from tlkit.errors import TlkitError

    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "weights").write_text("old")
    real_rename, calls = os.rename, []

    def flaky_rename(src, dst):
        calls.append(dst)
        if len(calls) == 2:  # new directory into place: the disk fails here
            raise OSError(errno.EIO, os.strerror(errno.EIO))
        real_rename(src, dst)

    monkeypatch.setattr(atomic.os, "rename", flaky_rename)
    with (
        pytest.raises(TlkitError, match="cannot write"),
        atomic_directory(tmp_path / "run", replace=True) as tmp,
    ):
        (tmp / "weights").write_text("new")
    monkeypatch.undo()
    assert [p.name for p in tmp_path.iterdir()] == ["run"]
    assert (tmp_path / "run" / "weights").read_text() == "old"


def test_an_old_directory_left_mid_swap_is_restored_not_deleted(tmp_path):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    aside = tmp_path / f".run.old-{atomic._HOST}-{dead.pid}-0123abcd"
    aside.mkdir()
    (aside / "weights").write_text("only copy")
    assert remove_stale_temporaries(tmp_path) == []
    assert (tmp_path / "run" / "weights").read_text() == "only copy"
    assert [p.name for p in tmp_path.iterdir()] == ["run"]


def test_without_safe_pid_checks_only_age_counts(tmp_path, monkeypatch):
    # on Windows os.kill(pid, 0) would terminate the process: never called there
    monkeypatch.setattr(atomic, "_CAN_CHECK_PIDS", False)
    monkeypatch.setattr(atomic, "_process_alive", lambda pid: pytest.fail("pid checked"))
    fresh = tmp_path / f".r.nc.tmp-{atomic._HOST}-99999999-0123abcd"
    old = tmp_path / f".r.nc.tmp-{atomic._HOST}-99999998-0123abce"
    for path in (fresh, old):
        path.write_text("partial")
    _age(old, atomic.STALE_AFTER_S + 60)
    assert remove_stale_temporaries(tmp_path) == [old]


def test_a_directory_another_writer_created_meanwhile_is_kept(tmp_path):
    # two `tlkit train --out X` at once: the second to finish must not replace the first
    target = tmp_path / "run"
    with (
        pytest.raises(TlkitError, match="was created by another process while this one"),
        atomic_directory(target) as tmp,
    ):
        (tmp / "mine").write_text("second")
        target.mkdir()
        (target / "theirs").write_text("first")
    assert [p.name for p in target.iterdir()] == ["theirs"]
    assert [p.name for p in tmp_path.iterdir()] == ["run"]  # no temporary left


def test_an_old_directory_that_cannot_be_removed_is_named(tmp_path, monkeypatch):
    target = tmp_path / "run"
    target.mkdir()
    (target / "old").write_text("old")
    monkeypatch.setattr(atomic.shutil, "rmtree", lambda *args, **kwargs: None)
    with (
        pytest.warns(UserWarning, match="the old directory could not be removed; it is at"),
        atomic_directory(target, replace=True) as tmp,
    ):
        (tmp / "new").write_text("new")
    assert [p.name for p in target.iterdir()] == ["new"]
