"""The plugin manager: loads plugins from entry points and fills the registry.

Every plugin, first-party or not, arrives through the entry-point group ``tlkit``.
Environment variables select what loads, for reproducible runs:

* ``TLKIT_LOAD_PLUGINS=a,b``: load only these plugins (entry-point names).
* ``TLKIT_DISABLE_PLUGINS=a,b``: load every plugin except these.
* ``TLKIT_STRICT_PLUGINS=1``: a plugin that fails to import or register is an
  error instead of a reported, skipped plugin.

A broken plugin never takes the CLI down: its error is kept in
:attr:`PluginHost.plugins` and shown by ``tlkit plugins``.
"""

from __future__ import annotations

import os
import re
import traceback
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from importlib import metadata as importlib_metadata
from typing import Any

import pluggy

from tlkit import hookspecs
from tlkit.errors import ComponentError, DuplicateComponentError, PluginError, TlkitError
from tlkit.registry import Registry

ENTRY_POINT_GROUP = "tlkit"
#: tlkit's own plugin distributions register first, so that a name clash with another
#: plugin (e.g. a new target named like a built-in one) keeps the built-in component
FIRST_PARTY = ("tlkit-targets", "tlkit-nets", "tlkit-probes")

#: registration hook name -> component kind
REGISTRATION_HOOKS = {
    "tlkit_register_targets": "target",
    "tlkit_register_architectures": "architecture",
    "tlkit_register_trainers": "trainer",
    "tlkit_register_probes": "probe",
}


@dataclass
class PluginInfo:
    """What ``tlkit plugins`` reports about one plugin.

    Attributes:
        name: the entry-point (plugin) name.
        version: the version of the distribution that provides it, if known.
        distribution: that distribution's name.
        components: registered names by kind.
        error: one line, or ``None`` when the plugin works.
        conflicts: components this plugin registered under a name another plugin
            already held; they are not loaded (the rest of the plugin is).
    """

    name: str
    version: str | None = None
    distribution: str | None = None
    components: dict[str, list[str]] = field(default_factory=dict)
    error: str | None = None
    conflicts: list[str] = field(default_factory=list)
    #: the full traceback of ``error``, for ``tlkit plugins --verbose``
    traceback: str | None = field(default=None, repr=False)

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "distribution": self.distribution,
            "components": self.components,
            "error": self.error,
            "conflicts": self.conflicts,
        }


def _env_list(name: str) -> set[str] | None:
    raw = os.environ.get(name)
    if raw is None:
        return None
    return {item.strip() for item in raw.split(",") if item.strip()}


def _one_line(exc: BaseException) -> str:
    # all of the message on one line: pluggy's validation errors say what is wrong on
    # their second and third lines
    text = " ".join(line.strip() for line in str(exc).strip().splitlines() if line.strip())
    return f"{type(exc).__name__}: {text}".rstrip(": ")


class PluginHost:
    """A pluggy manager plus the registry it fills.

    Make a fresh one per process (or per test); nothing here is global.

    Args:
        load_entry_points: load the ``tlkit`` entry-point group (tests pass False
            and register inline plugins instead).
        strict: make a broken plugin fatal; defaults to ``TLKIT_STRICT_PLUGINS``.
    """

    def __init__(self, load_entry_points: bool = True, strict: bool | None = None) -> None:
        self.pm = pluggy.PluginManager(hookspecs.PROJECT_NAME)
        self.pm.add_hookspecs(hookspecs)
        self.strict = (
            os.environ.get("TLKIT_STRICT_PLUGINS", "") not in ("", "0", "false")
            if strict is None
            else strict
        )
        self.plugins: dict[str, PluginInfo] = {}
        self.registry = Registry()
        self._registered = False
        if load_entry_points:
            self.load_entry_points()

    # -- loading -----------------------------------------------------------------
    def load_entry_points(self) -> None:
        """Import and register every allowed plugin of the ``tlkit`` group."""
        allow = _env_list("TLKIT_LOAD_PLUGINS")
        deny = _env_list("TLKIT_DISABLE_PLUGINS") or set()
        entry_points = importlib_metadata.entry_points(group=ENTRY_POINT_GROUP)
        # tlkit's own distributions first, so that another distribution reusing one of
        # their entry-point names is the one refused
        for ep in sorted(entry_points, key=lambda e: (not _first_party(_dist_name(e)), e.name)):
            if (allow is not None and ep.name not in allow) or ep.name in deny:
                continue
            dist = getattr(ep, "dist", None)
            info = PluginInfo(
                name=ep.name,
                version=getattr(dist, "version", None),
                distribution=_dist_name(ep),
            )
            if ep.name in self.plugins:
                self._refuse_duplicate_entry_point(info)
                continue
            self.plugins[ep.name] = info
            module: object = None
            try:
                module = ep.load()
                self.pm.register(module, name=ep.name)
                self.pm.check_pending()
            except Exception as exc:  # a broken plugin is reported, not fatal
                # check_pending failing (a misspelled hook) leaves it registered: undo,
                # but only what this entry point registered
                if module is not None and self.pm.get_plugin(ep.name) is module:
                    self.pm.unregister(name=ep.name)
                self._fail(info, exc, "failed to load")
        if allow is not None:
            for missing in sorted(allow - set(self.plugins)):
                self._fail(
                    self.plugins.setdefault(missing, PluginInfo(name=missing)),
                    PluginError("not installed (named in TLKIT_LOAD_PLUGINS)"),
                    "failed to load",
                )

    def _refuse_duplicate_entry_point(self, info: PluginInfo) -> None:
        """A second distribution with an entry point of a loaded plugin's name: not loaded.

        pluggy keys plugins by name, so it cannot hold both; the first (tlkit's own
        plugins come first) keeps working and the newcomer is reported under its own key.
        """
        first = self.plugins[info.name]
        key = f"{info.name} ({info.distribution or 'unknown distribution'})"
        info = PluginInfo(name=key, version=info.version, distribution=info.distribution)
        self.plugins[key] = info
        self._fail(
            info,
            PluginError(
                f"entry-point name {first.name!r} is already used by distribution "
                f"{first.distribution!r}; rename the entry point under "
                f"[project.entry-points.tlkit] in {info.distribution!r}'s pyproject.toml"
            ),
            "not loaded",
        )

    def add_plugin(self, plugin: object, name: str, version: str | None = None) -> None:
        """Register an in-process plugin object (tests and notebooks)."""
        self.pm.register(plugin, name=name)
        self.pm.check_pending()
        self.plugins[name] = PluginInfo(name=name, version=version)
        self._registered = False

    def remove_plugin(self, name: str) -> None:
        """Unregister a plugin and forget its components."""
        if self.pm.has_plugin(name):
            self.pm.unregister(name=name)
        self.plugins.pop(name, None)
        self.registry.remove_plugin(name)

    def _fail(self, info: PluginInfo, exc: BaseException, what: str) -> None:
        info.error = _one_line(exc)
        if self.strict:
            raise PluginError(f"plugin {info.name!r} {what}: {info.error}") from exc
        info.traceback = "".join(traceback.format_exception(exc))

    # -- registration ------------------------------------------------------------
    def ensure_registered(self) -> Registry:
        """Run the registration hooks once; return the filled registry."""
        if self._registered:
            return self.registry
        self.registry = Registry()
        for info in self.plugins.values():
            info.conflicts = []
        for hook_name, kind in REGISTRATION_HOOKS.items():
            caller = getattr(self.pm.hook, hook_name)
            for impl in sorted(caller.get_hookimpls(), key=self._registration_order):
                plugin_name = impl.plugin_name
                info = self.plugins.setdefault(plugin_name, PluginInfo(name=plugin_name))
                if info.error:
                    continue
                try:
                    _call_impl(impl, register=self._register_callback(kind, plugin_name))
                except Exception as exc:
                    self.registry.remove_plugin(plugin_name)
                    self._fail(info, exc, "failed to register")
        for name, info in self.plugins.items():
            info.components = self.registry.of_plugin(name)
        self.registry.broken = {n: i.error for n, i in self.plugins.items() if i.error}
        self._registered = True
        return self.registry

    def _registration_order(self, impl: Any) -> tuple[int, str]:
        """tlkit's own plugins first, then the others by name (stable across runs)."""
        info = self.plugins.get(impl.plugin_name)
        first_party = _first_party(info.distribution if info else None)
        return (0 if first_party else 1, impl.plugin_name)

    def _register_callback(self, kind: str, plugin: str) -> Callable[..., None]:
        def register(name: str, factory: Callable[..., Any], **metadata: Any) -> None:
            try:
                self.registry.register(kind, name, factory, plugin, **metadata)
                problem = factory_problem(factory, kind)
                if problem:
                    # it works, but parameters cannot be parsed, listed or checked
                    warnings.warn(f"plugin {plugin!r}: {kind} {name!r}: {problem}", stacklevel=2)
            except DuplicateComponentError as exc:
                # Only the newcomer's component is dropped: one clashing name must not
                # unload every other component of the plugin that holds it.
                if self.strict:
                    raise
                self.plugins[plugin].conflicts.append(f"{exc} (kept the first)")
                warnings.warn(f"plugin {plugin!r}: {exc}; the first is kept", stacklevel=2)

        return register

    def register_commands(self, cli: Any) -> None:
        """Let plugins add CLI commands.

        A command named like one that exists (tlkit's own, or an earlier plugin's) is
        not loaded: the first is kept, with a warning, as for components. A plugin
        whose hook raises is reported and withdrawn: its commands and its components.
        """
        hookimpls = self.pm.hook.tlkit_register_commands.get_hookimpls()
        for impl in sorted(hookimpls, key=self._registration_order):
            name = impl.plugin_name
            info = self.plugins.setdefault(name, PluginInfo(name=name))
            if info.error:
                continue
            before = dict(cli.commands)
            try:
                _call_impl(impl, cli=cli)
            except Exception as exc:
                cli.commands.clear()
                cli.commands.update(before)
                self.registry.remove_plugin(name)
                info.components = {}
                self._fail(info, exc, "failed to add commands")
                self.registry.broken[name] = info.error or ""
                continue
            for command, original in before.items():
                if cli.commands.get(command) is not original:
                    cli.commands[command] = original
                    message = f"command {command!r} already exists"
                    info.conflicts.append(f"{message} (kept the first)")
                    if self.strict:
                        raise PluginError(f"plugin {name!r}: {message}")
                    warnings.warn(f"plugin {name!r}: {message}; the first is kept", stacklevel=2)
            added = sorted(set(cli.commands) - set(before))
            info.components.setdefault("command", [])
            info.components["command"] = sorted(set(info.components["command"]) | set(added))

    # -- events ------------------------------------------------------------------
    def emit(self, hook_name: str, **kwargs: Any) -> None:
        """Fire an event hook on every plugin, with keyword arguments.

        Raises:
            ComponentError: an observer raised; names its plugin and the hook (the
                original exception is the cause).
        """
        caller = getattr(self.pm.hook, hook_name)
        impls = caller.get_hookimpls()
        if any(getattr(i, "hookwrapper", False) or getattr(i, "wrapper", False) for i in impls):
            caller(**kwargs)  # wrappers need pluggy's own calling protocol
            return
        for impl in reversed(impls):  # pluggy's order: last registered first
            try:
                _call_impl(impl, **kwargs)
            except Exception as exc:
                raise ComponentError(
                    f"plugin {impl.plugin_name!r}: its {hook_name} hook raised "
                    f"{type(exc).__name__}: {' '.join(str(exc).split())}"
                ) from exc

    def distribution_versions(self) -> dict[str, str]:
        """Versions of the distributions behind the loaded plugins (for manifests)."""
        out = {}
        for info in self.plugins.values():
            if info.distribution and info.version and not info.error:
                out[info.distribution] = info.version
        return out

    def working_plugins(self) -> Iterable[PluginInfo]:
        return (p for p in self.plugins.values() if p.error is None)


def factory_problem(factory: Callable[..., Any], kind: str) -> str | None:
    """What breaks the factory rules of the hook contract, or ``None``.

    Every parameter a user may set needs a type annotation (to parse ``-p key=value``
    and check config values) and none may hide behind ``**kwargs`` (it could not be
    listed by ``tlkit describe`` nor recorded in a manifest).
    """
    import inspect

    from tlkit.params import HOST_PARAMETERS

    if inspect.isclass(factory) and factory.__init__ is object.__init__:
        return None  # a class without parameters
    # a class's own signature can be hidden by a metaclass (nnx modules): read __init__
    target = factory.__init__ if inspect.isclass(factory) else factory
    try:
        parameters = inspect.signature(target).parameters.values()
    except (TypeError, ValueError):
        return None
    if any(p.kind is p.VAR_KEYWORD for p in parameters):
        return "its factory takes **kwargs: those parameters cannot be listed or checked"
    host_given = HOST_PARAMETERS.get(kind, frozenset())
    bare = [
        p.name
        for p in parameters
        if p.name != "self"
        and p.name not in host_given
        and p.kind is not p.VAR_POSITIONAL
        and p.annotation is inspect.Parameter.empty
    ]
    if bare:
        return (
            f"parameter {bare[0]!r} of its factory has no type annotation: values given "
            "as text are guessed, not checked"
        )
    return None


def _dist_name(ep: Any) -> str | None:
    dist = getattr(ep, "dist", None)
    return getattr(dist, "name", None)


def _first_party(distribution: str | None) -> bool:
    """Whether a distribution is one of tlkit's own plugins (however metadata spells it)."""
    if not distribution:
        return False
    return re.sub(r"[-_.]+", "-", distribution).lower() in FIRST_PARTY


def _call_impl(impl: Any, **kwargs: Any) -> Any:
    """Call one hook implementation with the subset of arguments it accepts."""
    return impl.function(**{name: kwargs[name] for name in impl.argnames})


def get_host() -> PluginHost:
    """Build a plugin host from the installed entry points.

    Raises:
        TlkitError: in strict mode, when a plugin is broken.
    """
    import tlkit

    if tlkit.ENVIRONMENT_ERROR:
        warnings.warn(f"{tlkit.ENVIRONMENT_ERROR}; using 'highest'", stacklevel=2)
    host = PluginHost()
    host.ensure_registered()
    return host


__all__ = ["PluginHost", "PluginInfo", "get_host", "ENTRY_POINT_GROUP", "TlkitError"]
