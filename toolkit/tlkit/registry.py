"""Name -> component registries, filled by the registration hooks."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from tlkit.errors import ConfigError, DuplicateComponentError, PluginError, UnknownComponentError
from tlkit.params import ParameterSpec, parameter_specs

#: The component kinds, in the order ``tlkit plugins`` lists them.
KINDS = ("target", "architecture", "trainer", "probe", "command")

_NAME_CHARS = set("abcdefghijklmnopqrstuvwxyz0123456789-")


@dataclass(frozen=True)
class Component:
    """A registered component.

    Attributes:
        kind: one of :data:`KINDS`.
        name: the registered name (lower case, ``-`` separated).
        factory: builds the component from keyword parameters.
        plugin: the name of the plugin that registered it.
        metadata: free-form keyword metadata given to ``register``.
    """

    kind: str
    name: str
    factory: Callable[..., Any]
    plugin: str
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def description(self) -> str:
        doc = self.metadata.get("description") or (self.factory.__doc__ or "")
        return doc.strip().splitlines()[0] if doc.strip() else ""

    def parameters(self) -> dict[str, ParameterSpec]:
        """The factory's parameters, for ``tlkit describe`` and validation."""
        return parameter_specs(self.factory)


class Registry:
    """All registered components, by kind and name."""

    def __init__(self) -> None:
        self._components: dict[str, dict[str, Component]] = {kind: {} for kind in KINDS}
        #: plugin name -> why it is not loaded; named by unknown-component errors, since
        #: the missing component may be one of theirs
        self.broken: dict[str, str] = {}

    def register(
        self, kind: str, name: str, factory: Callable[..., Any], plugin: str, **metadata: Any
    ) -> None:
        """Add a component.

        Raises:
            PluginError: for a bad name or a non-callable factory;
                DuplicateComponentError for a name that another plugin already
                registered (both plugins are named).
        """
        if kind not in self._components:
            raise PluginError(f"unknown component kind {kind!r}; valid: {', '.join(KINDS)}")
        if not isinstance(name, str) or not name or not set(name) <= _NAME_CHARS:
            raise PluginError(
                f"plugin {plugin!r} registered {kind} name {name!r}: names use a-z, 0-9, '-'"
            )
        if not callable(factory):
            raise PluginError(f"plugin {plugin!r} registered {kind} {name!r} with a non-callable")
        existing = self._components[kind].get(name)
        if existing is not None:
            raise DuplicateComponentError(
                f"{kind} {name!r} registered twice: by plugin {existing.plugin!r} "
                f"and by plugin {plugin!r}"
            )
        self._components[kind][name] = Component(kind, name, factory, plugin, dict(metadata))

    def get(self, kind: str, name: str) -> Component:
        """Look a component up.

        Raises:
            UnknownComponentError: ``unknown target 'x'; available: a, b``.
        """
        try:
            return self._components[kind][name]
        except KeyError:
            available = ", ".join(sorted(self._components.get(kind, {}))) or "(none installed)"
            broken = "; ".join(f"{plugin}: {why}" for plugin, why in sorted(self.broken.items()))
            hint = f" (plugins not loaded: {broken}; see 'tlkit plugins')" if broken else ""
            raise UnknownComponentError(
                f"unknown {kind} {name!r}; available: {available}{hint}"
            ) from None

    def names(self, kind: str) -> list[str]:
        """Registered names of one kind, sorted."""
        return sorted(self._components[kind])

    def of_plugin(self, plugin: str) -> dict[str, list[str]]:
        """The components a plugin registered, by kind."""
        return {
            kind: sorted(c.name for c in comps.values() if c.plugin == plugin)
            for kind, comps in self._components.items()
        }

    def __iter__(self) -> Iterator[Component]:
        for kind in KINDS:
            yield from self._components[kind].values()

    def remove_plugin(self, plugin: str) -> None:
        """Forget everything a plugin registered (used when its registration fails)."""
        for comps in self._components.values():
            for name in [n for n, c in comps.items() if c.plugin == plugin]:
                del comps[name]


def check_pairing(registry: Registry, arch: str, trainer: str) -> None:
    """Refuse a trainer that declares it cannot train ``arch``."""
    comp = registry.get("trainer", trainer)
    allowed = comp.metadata.get("architectures")
    if allowed and arch not in allowed:
        raise ConfigError(
            f"trainer {trainer!r} cannot train architecture {arch!r}; it trains: "
            f"{', '.join(allowed)}"
        )
