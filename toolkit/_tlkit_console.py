"""The ``tlkit`` console script's entry point, kept outside the ``tlkit`` package.

Importing ``tlkit`` imports JAX and xarray (about a second). A Ctrl-C in that second
must end the command like one later on, with "Aborted!" and exit status 1, not a
traceback; and a warning issued while ``tlkit`` is imported (a bad
``TLKIT_COMPILE_CACHE``) must be one line like the CLI's others. An entry point inside
the package could do neither: Python imports ``tlkit`` before any of its modules runs.
"""

from __future__ import annotations

import signal
import sys
import warnings
from types import FrameType
from typing import Any


def one_line_warning(
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    file: Any = None,
    line: str | None = None,
) -> None:
    """Show a warning as one line, ``warning: ...``, on stderr (tlkit.cli uses it too)."""
    text = str(message).strip().splitlines()
    print(f"warning: {text[0] if text else category.__name__}", file=sys.stderr)


_interrupted = False


def _record(signum: int, frame: FrameType | None) -> None:
    # Only recorded the first time: a KeyboardInterrupt raised inside an import can
    # surface as an ImportError of a C extension, or be printed and dropped by a
    # callback ("Exception ignored in ..."). A second Ctrl-C (a hung import) raises.
    global _interrupted
    if _interrupted:
        raise KeyboardInterrupt
    _interrupted = True


def main() -> None:
    """Run ``tlkit.cli.main`` with Ctrl-C and warnings handled from the start."""
    warnings.showwarning = one_line_warning  # tlkit.cli.main installs it again later
    previous = signal.signal(signal.SIGINT, _record)
    try:
        from tlkit.cli import main as tlkit_main
    except KeyboardInterrupt:
        pass
    except Exception:
        if not _interrupted:
            raise
    finally:
        signal.signal(signal.SIGINT, previous)  # tlkit.cli.main installs its own
    if _interrupted:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # exiting: further presses wait
        print("Aborted!", file=sys.stderr)
        sys.exit(1)
    tlkit_main()


if __name__ == "__main__":
    main()
