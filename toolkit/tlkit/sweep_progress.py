"""Progress over a sweep's cells: a rich bar (done, failed, ETA) or one log line each."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

from tlkit.errors import ConfigError


class SweepProgress:
    """Progress over cells: a rich bar (done, failed, ETA) or one log line per cell."""

    def __init__(
        self, total: int, reused: int, mode: str, echo: Callable[[str], None] | None = None
    ) -> None:
        if mode not in ("bar", "log", "none"):
            raise ConfigError(f"progress must be one of bar, log, none, got {mode!r}")
        self.total, self.done, self.failed, self.mode = total, reused, 0, mode
        self.echo = echo or print_stderr

    def __enter__(self) -> SweepProgress:
        if self.mode == "bar":
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )

            self._bar = Progress(
                TextColumn("[bold]sweep"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("failed: {task.fields[failed]}"),
                TimeElapsedColumn(),
                TextColumn("ETA"),
                TimeRemainingColumn(),
                TextColumn("{task.description}"),
            )
            self._bar.__enter__()
            self._task = self._bar.add_task("", total=self.total, completed=self.done, failed=0)
        elif self.mode == "log" and self.done:
            self.echo(f"[{self.done}/{self.total}] {self.done} finished cells reused")
        return self

    def advance(self, outcome: Any) -> None:
        self.done += 1
        self.failed += int(outcome.status != "ok")
        if self.mode == "bar":
            self._bar.update(
                self._task, advance=1, failed=self.failed, description=outcome.label[:60]
            )
        elif self.mode == "log":
            what = "done" if outcome.status == "ok" else f"FAILED: {outcome.error}"
            self.echo(
                f"[{self.done}/{self.total}] {outcome.label}: {what} ({outcome.seconds:.1f} s)"
            )

    def __exit__(self, *exc: Any) -> None:
        if self.mode == "bar":
            self._bar.__exit__(*exc)


def print_stderr(line: str) -> None:
    """Print one line to stderr now (the default ``echo`` of sweeps)."""
    print(line, file=sys.stderr, flush=True)
