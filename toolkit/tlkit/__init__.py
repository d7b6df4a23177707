"""tlkit: a plugin-based toolkit for studying how neural networks learn features.

Public API::

    import tlkit
    run = tlkit.train(target="quadratic-feature", arch="three-layer", n_train=4096)
    ds = tlkit.analyze(run)              # labelled xarray.Dataset
    run = tlkit.load_run("runs/r1")      # rebuild a saved run exactly

Importing tlkit enables JAX's 64-bit types (``jax_enable_x64``) so that float64
is available on request; tlkit and its plugins always pass dtypes explicitly and
work in float32 by default. It also sets JAX's default matrix-product precision to
``highest``: on recent NVIDIA GPUs JAX otherwise computes float32 products in
TensorFloat32 (a 10-bit mantissa), which spoils ridge solves on Gram matrices. The
environment variable ``TLKIT_MATMUL_PRECISION`` (``highest``, ``high``,
``tensorfloat32``, ``bfloat16`` or ``default``) overrides it, and so does JAX's own
``JAX_DEFAULT_MATMUL_PRECISION`` when tlkit's is unset; manifests record the value.
``TLKIT_COMPILE_CACHE=DIR`` turns on JAX's persistent compilation cache in ``DIR``
(see :mod:`tlkit.compile_cache`).
"""

from __future__ import annotations

import os
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any

import jax

# Must happen before any array is created; components pass dtypes explicitly.
jax.config.update("jax_enable_x64", True)

#: values of TLKIT_MATMUL_PRECISION (JAX's names; "default" leaves JAX's own default)
MATMUL_PRECISIONS = ("highest", "high", "tensorfloat32", "bfloat16", "default")
#: why the environment could not be honoured ("" when it could): the CLI refuses to
#: run (one line, exit status 2); the Python API warns when it builds a plugin host.
#: Not raised here: an import error would reach CLI users as a traceback.
ENVIRONMENT_ERROR = ""
_precision = os.environ.get("TLKIT_MATMUL_PRECISION", "").strip().lower() or None
if _precision is not None and _precision not in MATMUL_PRECISIONS:
    ENVIRONMENT_ERROR = (
        f"TLKIT_MATMUL_PRECISION must be one of {', '.join(MATMUL_PRECISIONS)}, "
        f"got {os.environ['TLKIT_MATMUL_PRECISION']!r}"
    )
    _precision = "highest"  # the safe choice while the user is told
if _precision is not None:
    jax.config.update(
        "jax_default_matmul_precision", None if _precision == "default" else _precision
    )
elif "JAX_DEFAULT_MATMUL_PRECISION" not in os.environ:  # a user's JAX setting wins
    jax.config.update("jax_default_matmul_precision", "highest")

# A persistent compilation cache, if asked for, must be set before the first compile.
if os.environ.get("TLKIT_COMPILE_CACHE", "").strip():
    import warnings

    from tlkit.compile_cache import enable_compile_cache as _enable_compile_cache
    from tlkit.errors import TlkitError

    try:
        # created by JAX at the first compile: a command may still refuse the location
        # (check_env_cache_location, which reads the value stripped, as here)
        _enable_compile_cache(os.environ["TLKIT_COMPILE_CACHE"].strip(), create=False)
    except TlkitError as _exc:  # an import must not fail over a cache: run without it
        warnings.warn(f"TLKIT_COMPILE_CACHE: {_exc}; running without the cache", stacklevel=2)

# Registers the ``ds.tlkit`` accessor, so that a results file opened with plain xarray
# has it after ``import tlkit`` (costs the xarray import, ~0.2 s, next to JAX's).
from tlkit import results as _results  # noqa: E402, F401
from tlkit import types  # noqa: E402
from tlkit.hookspecs import hookimpl  # noqa: E402

try:
    __version__ = version("tlkit")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0+unknown"

if TYPE_CHECKING:
    from tlkit.pipeline import analyze, load_run, train
    from tlkit.sweeps import sweep, train_many

_LAZY = {
    "train": "tlkit.pipeline",
    "train_many": "tlkit.sweeps",
    "analyze": "tlkit.pipeline",
    "load_run": "tlkit.pipeline",
    "sweep": "tlkit.sweeps",
    "analyze_sweep": "tlkit.sweep_analysis",
    "RunConfig": "tlkit.config",
    "Run": "tlkit.run",
    "get_host": "tlkit.plugins",
    "enable_compile_cache": "tlkit.compile_cache",
}


def __getattr__(name: str) -> Any:
    # Lazy so that `import tlkit` (done by every plugin) stays cheap and cycle-free.
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'tlkit' has no attribute {name!r}")


__all__ = [
    "__version__",
    "analyze",
    "analyze_sweep",
    "get_host",
    "hookimpl",
    "load_run",
    "Run",
    "RunConfig",
    "sweep",
    "train",
    "train_many",
    "types",
]
