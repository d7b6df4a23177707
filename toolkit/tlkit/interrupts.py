"""Ctrl-C that is not lost while JAX runs.

Python raises ``KeyboardInterrupt`` in whatever Python code runs when SIGINT arrives.
While JAX works, that can be a garbage-collection callback (JAX registers one), where
the exception is printed as "Exception ignored" and dropped: the run goes on. The CLI
therefore records each SIGINT as well (:func:`sigint_recorded`), and the pipeline calls
:func:`raise_if_interrupted` between stages, probes and sweep cells, so a dropped
interrupt is raised again at the next such point. Library use (notebooks) keeps
Python's own handler and is unaffected.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from types import FrameType

_interrupted = threading.Event()


def _record_and_raise(signum: int, frame: FrameType | None) -> None:
    _interrupted.set()
    raise KeyboardInterrupt


@contextlib.contextmanager
def sigint_recorded() -> Iterator[None]:
    """Within this block, every SIGINT is also recorded for :func:`raise_if_interrupted`.

    Only the main thread can install signal handlers; elsewhere this does nothing.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, _record_and_raise)
    _interrupted.clear()
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        _interrupted.clear()


def _record_once(signum: int, frame: FrameType | None) -> None:
    if _interrupted.is_set():
        raise KeyboardInterrupt  # a second Ctrl-C: stop now
    _interrupted.set()


@contextlib.contextmanager
def sigint_deferred() -> Iterator[None]:
    """Within this block, a first SIGINT is only recorded; a second one raises.

    For start-up work (importing modules, loading plugins), where a
    ``KeyboardInterrupt`` is easily dropped by a callback or turned into an
    ``ImportError`` by a C extension's initialisation. Call :func:`raise_if_interrupted`
    after the block. Use it inside :func:`sigint_recorded`, which clears the record
    on entry; only the main thread can install signal handlers, elsewhere this does
    nothing.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, _record_once)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def interrupted() -> bool:
    """Whether a recorded SIGINT has not been raised yet (see :func:`raise_if_interrupted`)."""
    return _interrupted.is_set()


def raise_if_interrupted() -> None:
    """Raise ``KeyboardInterrupt`` if a recorded SIGINT was swallowed on its way."""
    if _interrupted.is_set():
        _interrupted.clear()
        raise KeyboardInterrupt


@contextlib.contextmanager
def sigint_ignored() -> Iterator[None]:
    """Ignore SIGINT within this block (main thread only).

    Child processes started here inherit the ignored SIGINT (Python keeps an ignored
    SIGINT ignored), so Ctrl-C in a terminal stops only the parent, which then shuts
    them down.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
