"""A persistent XLA compilation cache, for work that compiles the same programs again.

A sweep cell's programs are compiled in every process that runs one: a rerun or a
resumed sweep, each Dask worker, each notebook kernel. Small cells are mostly
compilation (a small Algorithm-1 cell compiles about 24 programs; on a GPU it took
10-20 s a cell, nearly all of it compiling), so JAX's persistent cache, which stores
compiled executables on disk and reuses them across processes, saves most of that time.

It is off unless asked for: ``tlkit sweep/reproduce --compile-cache DIR``, the
environment variable ``TLKIT_COMPILE_CACHE=DIR`` (read when tlkit is imported) or
:func:`enable_compile_cache` in Python. Worker processes started afterwards by this
process (a local Dask cluster) inherit it through the environment.

The cache holds executable code: JAX runs whatever it finds there. Keep it in a
directory only you can write to, never use a cache someone else gave you, and for that
reason tlkit never puts one inside a sweep or run directory (those are shared).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import jax

from tlkit.atomic import check_creatable_dir, ensure_writable_dir
from tlkit.errors import ConfigError

#: environment variable naming the cache directory
ENV_VAR = "TLKIT_COMPILE_CACHE"


def enable_compile_cache(path: str | Path, *, create: bool = True) -> Path:
    """Store every compiled program in ``path`` and reuse the ones already there.

    JAX's own thresholds (cache only programs that took a second or more to compile)
    are lowered to zero: a sweep's many small programs are what adds up. Calling this
    after something was compiled still takes effect (JAX's cache state is reset).

    Args:
        path: the cache directory (created if missing).
        create: ``False`` only checks that the directory could be created and leaves
            that to JAX's first compilation (what ``TLKIT_COMPILE_CACHE`` does at
            import, so that a command can still refuse the location before anything
            is written: :func:`check_env_cache_location`).

    Returns:
        The directory, as an absolute path.

    Raises:
        TlkitError: the path is empty, or the directory cannot be created or written.
    """
    from jax.experimental.compilation_cache import compilation_cache

    if not str(path).strip():
        raise ConfigError("the compilation cache needs a directory, got an empty path")
    directory = Path(path).expanduser().absolute()
    if create or directory.exists():
        ensure_writable_dir(directory)
    else:
        check_creatable_dir(directory)
    settings = {
        "jax_compilation_cache_dir": str(directory),
        "jax_persistent_cache_min_compile_time_secs": 0.0,
        "jax_persistent_cache_min_entry_size_bytes": -1,
    }
    for name, value in settings.items():
        jax.config.update(name, value)
        # processes started from here on (Dask workers) read JAX's variables at import
        os.environ[name.upper()] = str(value)
    # JAX decides once per process whether to use a cache, at its first compilation
    compilation_cache.reset_cache()
    return directory


#: files that mark a sweep directory and a run directory (sweep_files, checkpoint)
_SHARED_MARKERS = ("sweep.json", "manifest.json")


def check_cache_location(
    path: str | Path, *, out: str | Path | None = None, option: str = "--compile-cache "
) -> None:
    """Refuse a cache directory inside a sweep or run directory, writing nothing.

    The cache holds executable code, and sweep and run directories are shared; a
    cache inside one also makes a new ``--out`` look like a directory that is not a
    sweep. The path must also be creatable: an existing file is refused here, so that
    ``--dry-run`` finds what the real run would.

    Args:
        path: the cache directory asked for.
        out: the output directory of the command (which may not exist yet).
        option: how the error names where the path came from.

    Raises:
        ConfigError: the path is empty or a file, equals ``out`` or lies inside it, or
            lies inside a directory holding ``sweep.json`` or ``manifest.json``.
    """
    if not str(path).strip():
        raise ConfigError("the compilation cache needs a directory, got an empty path")
    cache = Path(path).expanduser().resolve()
    why = "it holds executable code; keep it in a directory only you write to"
    if out is not None:
        out_dir = Path(out).expanduser().resolve()
        if cache == out_dir or out_dir in cache.parents:
            raise ConfigError(
                f"{option}{path} is inside the output directory {out}; {why}, "
                "outside sweep and run directories"
            )
    for directory in (cache, *cache.parents):
        marker = next((m for m in _SHARED_MARKERS if _is_tlkits(directory / m)), None)
        if marker is not None:
            kind = "sweep" if marker == "sweep.json" else "run"
            raise ConfigError(
                f"{option}{path} is inside the {kind} directory {directory} "
                f"(it has {marker}); {why}, outside sweep and run directories"
            )
    absolute = Path(path).expanduser().absolute()
    blocker = next((p for p in (absolute, *absolute.parents) if p.exists()), None)
    if blocker is not None and not blocker.is_dir():
        raise ConfigError(
            f"cannot create directory {absolute}: {blocker} is a file, not a directory"
        )


def check_env_cache_location(out: str | Path) -> None:
    """Refuse, before a command writes or compiles anything, a ``TLKIT_COMPILE_CACHE``
    inside that command's output directory or inside a sweep or run directory.

    The variable turns the cache on when tlkit is imported, before any command knows
    its output; JAX creates the directory only at its first compilation, so checking
    here, first thing in the command, still writes nothing. A variable that could not
    be used at import (tlkit warned and runs without the cache) is not checked again.

    Args:
        out: the directory the command writes into (which may not exist yet).

    Raises:
        ConfigError: as :func:`check_cache_location`, naming the variable.
    """
    value = os.environ.get(ENV_VAR, "").strip()
    in_use = compile_cache_dir()
    if not value or in_use is None or Path(value).expanduser().absolute() != Path(in_use):
        return
    check_cache_location(value, out=out, option=f"{ENV_VAR}=")


def _is_tlkits(marker: Path) -> bool:
    """Whether ``marker`` is a tlkit sweep record or run manifest (many projects have a
    ``manifest.json`` of their own: a web app's is no run directory)."""
    if not marker.is_file():
        return False
    try:
        data = json.loads(marker.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    if not isinstance(data, dict):
        return False
    if marker.name == "sweep.json":
        return isinstance(data.get("spec"), dict)
    return "schema_version" in data and "state_files" in data


def compile_cache_dir() -> str | None:
    """The persistent cache directory in use, or ``None``."""
    return jax.config.jax_compilation_cache_dir  # type: ignore[attr-defined]
