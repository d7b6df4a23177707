"""Errors that tlkit reports to users as one line.

Every error a user can cause by what they typed or pointed tlkit at derives from
:class:`TlkitError`. The CLI prints such an error as ``error: <message>`` and exits
with status 2; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations


class TlkitError(Exception):
    """Base class of user-facing errors; the message must fit on one line."""


class ConfigError(TlkitError, ValueError):
    """A configuration value is missing, of the wrong type or out of range."""


class ParameterError(ConfigError):
    """A component parameter is invalid.

    Plugins raise this from their factories, naming the parameter and the values
    it accepts, e.g. ``ParameterError("d must be even, got 15")``.
    """


class UnknownComponentError(ConfigError):
    """A component name is not registered; the message lists the available ones."""


class PluginError(TlkitError):
    """A plugin failed to load or register (fatal only in strict mode)."""


class ComponentError(PluginError):
    """A plugin's component broke its contract while running (a probe that raised or
    returned malformed outputs, a trainer that returned no FitReport, a target whose
    samples have the wrong shape). The message names the component and its plugin;
    the original exception, if any, is the ``__cause__`` (``TLKIT_TRACEBACK=1`` makes
    the CLI print it)."""


class DuplicateComponentError(PluginError):
    """A plugin registered a name another plugin already holds."""


class RunDirectoryError(TlkitError):
    """A run directory is missing, corrupted, truncated or from a newer schema."""


class PluginMismatchError(RunDirectoryError):
    """A saved run needs a component whose plugin is missing, broken or replaced by
    another plugin's of the same name (the run itself is intact)."""


class NewerSchemaError(RunDirectoryError):
    """A file was written by a newer tlkit than this one (the file itself is intact)."""


class ProbeNotApplicable(Exception):
    """Raised by a probe that does not apply to a run; the probe is skipped.

    The message says why, e.g. ``"network has no scalar learned feature"``.
    """


def is_out_of_memory(exc: BaseException) -> bool:
    """Whether ``exc`` is the host or an accelerator running out of memory."""
    if isinstance(exc, MemoryError):
        return True
    text = str(exc)
    return isinstance(exc, RuntimeError) and (
        "RESOURCE_EXHAUSTED" in text or "out of memory" in text.lower()
    )
