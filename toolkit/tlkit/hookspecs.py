"""The tlkit hook contract: every hook a plugin can implement.

Plugins implement hooks with ``@tlkit.hookimpl`` and are found through the
entry-point group ``tlkit``. Rules that keep this contract stable:

* The host always calls hooks with keyword arguments, and an implementation may
  accept any subset of them, so arguments can be added later without breaking
  anyone. Hooks are never renamed or removed.
* Registration hooks receive a ``register`` callback instead of returning lists,
  so the host knows which plugin registered what and can report duplicates.
* Hooks are resolved before any tracing: the host never calls a hook inside
  ``jax.jit``.
* None of these hooks stops at the first result (none is ``firstresult``): every
  implementation is called.

``docs/hooks.md`` documents each hook under a heading of its name; a test checks
that page against this file, and that every hook here is exercised by a test.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    import click

    from tlkit.config import RunConfig
    from tlkit.run import Run
    from tlkit.types import Register, StageReport

PROJECT_NAME = "tlkit"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)


@hookspec
def tlkit_register_targets(register: Register) -> None:
    """Register target families.

    Call ``register(name, factory, description=..., **metadata)`` once per family.
    ``factory`` is called with keyword arguments only: ``seed`` (int, for any
    randomness in the ground truth such as a random direction β) and the family's
    own parameters, which must be annotated and have defaults (``d`` included). It
    returns an object satisfying :class:`tlkit.types.Target`. Invalid parameters
    raise :class:`tlkit.errors.ParameterError` naming the parameter and its valid
    values.

    Args:
        register: the registration callback; a name already registered by another
            plugin is an error naming both plugins.
    """


@hookspec
def tlkit_register_architectures(register: Register) -> None:
    """Register network architectures.

    ``factory`` is called as ``factory(d=..., seed=..., dtype=..., **params)`` and
    returns a ``flax.nnx.Module`` satisfying :class:`tlkit.types.Network`. Every
    random quantity of the network (fixed or trainable) must be an ``nnx.Variable``
    so that the saved state restores the network exactly. Metadata keys the host
    understands: ``description`` and ``trainers`` (names of compatible trainers;
    the first is the default).

    Args:
        register: the registration callback.
    """


@hookspec
def tlkit_register_trainers(register: Register) -> None:
    """Register training procedures (layer-wise, one-step, joint, ...).

    ``factory(**params)`` returns a :class:`tlkit.types.Trainer`. Metadata keys the
    host understands: ``description`` and ``architectures`` (the architecture names
    the trainer can train; the host refuses other pairings with a clear error).

    Args:
        register: the registration callback.
    """


@hookspec
def tlkit_register_probes(register: Register) -> None:
    """Register probes and baselines.

    ``factory(**params)`` returns a :class:`tlkit.types.Probe`; calling it on a
    :class:`tlkit.run.Run` returns ``{quantity: ProbeOutput}``, stored as variables
    ``<probe>_<quantity>``. Metadata keys the host understands: ``description`` and
    ``default`` (bool; default probes run when none are named).

    Args:
        register: the registration callback.
    """


@hookspec
def tlkit_register_commands(cli: click.Group) -> None:
    """Add subcommands to the ``tlkit`` command line.

    Commands should be thin: parse options, call a Python API, print. Raise
    :class:`tlkit.errors.TlkitError` for bad input; the CLI turns it into one line
    and exit status 2.

    Args:
        cli: the top-level ``tlkit`` click group; call ``cli.add_command(...)``.
    """


@hookspec
def tlkit_run_started(config: RunConfig, run_dir: Path | None) -> None:
    """Called once per run, after the components are built and before training.

    Args:
        config: the validated run configuration (seeds resolved).
        run_dir: where the run will be saved, or ``None`` for an in-memory run.
    """


@hookspec
def tlkit_stage_finished(config: RunConfig, stage: StageReport, stage_index: int) -> None:
    """Called after each training stage ends (outside any jitted code).

    Args:
        config: the run configuration.
        stage: the trainer's report of the stage that just ended.
        stage_index: 0-based position of the stage in the trainer's ``stages``.
    """


@hookspec
def tlkit_run_finished(run: Run, results: Any) -> None:
    """Called once per run after training, saving and probing are done.

    Args:
        run: the trained run (its ``path`` is set if it was saved).
        results: the labelled ``xarray.Dataset`` of probe results, or ``None`` when
            no probes ran.
    """
