"""Component parameters: introspection, ``key=value`` parsing and validation.

A component's parameters are the annotated keyword arguments of its factory.
This module reads them (for ``tlkit describe`` and the manifest) and turns
strings typed on the command line into values of the annotated type.
"""

from __future__ import annotations

import inspect
import json
import types
import typing
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any, Literal, get_args, get_origin

from tlkit.errors import ConfigError

#: Parameters the host supplies itself, by component kind; users do not set them.
HOST_PARAMETERS: dict[str, frozenset[str]] = {
    "target": frozenset({"seed"}),
    "architecture": frozenset({"d", "seed", "dtype"}),
    "trainer": frozenset(),
    "probe": frozenset(),
}


@dataclass(frozen=True)
class ParameterSpec:
    """One parameter of a component factory.

    Attributes:
        name: keyword name.
        annotation: the resolved type annotation (``Any`` when missing).
        default: the default value, or ``inspect.Parameter.empty``.
    """

    name: str
    annotation: Any
    default: Any

    @property
    def required(self) -> bool:
        return self.default is inspect.Parameter.empty

    def type_name(self) -> str:
        return describe_type(self.annotation)


def parameter_specs(factory: Callable[..., Any]) -> dict[str, ParameterSpec]:
    """Read the keyword parameters of ``factory`` with resolved annotations."""
    target = factory.__init__ if inspect.isclass(factory) else factory
    try:
        hints = typing.get_type_hints(target)
    except Exception:  # unresolvable forward refs: fall back to raw annotations
        hints = getattr(target, "__annotations__", {})
    # A class's own signature can be hidden by a metaclass (flax nnx modules show
    # ``(*args, **kwargs)``), so read ``__init__`` directly.
    signature = inspect.signature(target)
    specs = {}
    for p in signature.parameters.values():
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD) or p.name == "self":
            continue
        specs[p.name] = ParameterSpec(p.name, hints.get(p.name, Any), p.default)
    return specs


def describe_type(annotation: Any) -> str:
    """A short human-readable name for a type annotation."""
    origin = get_origin(annotation)
    if origin is Literal:
        return " | ".join(repr(a) for a in get_args(annotation))
    if origin in (typing.Union, types.UnionType):
        return " | ".join(describe_type(a) for a in get_args(annotation))
    if origin in (list, tuple):
        args = get_args(annotation)
        inner = describe_type(args[0]) if args else "any"
        return f"list[{inner}]"
    if annotation is type(None):
        return "none"
    return getattr(annotation, "__name__", str(annotation))


def coerce(value: Any, annotation: Any, label: str) -> Any:
    """Convert ``value`` (often a string from the CLI) to ``annotation``.

    Args:
        value: the raw value; strings are parsed, other values are checked.
        annotation: the target type.
        label: how to name the parameter in an error, e.g.
            ``"parameter 'd' of target 'quadratic-feature'"``.

    Returns:
        The converted value.

    Raises:
        ConfigError: naming the parameter, the expected type and the bad value.
    """
    try:
        return _coerce(value, annotation)
    except (ValueError, TypeError):
        raise ConfigError(f"{label} expects {describe_type(annotation)}, got {value!r}") from None


def _coerce(value: Any, annotation: Any) -> Any:
    if annotation is Any or annotation is inspect.Parameter.empty:
        return _parse_scalar(value) if isinstance(value, str) else value
    origin = get_origin(annotation)
    if origin is Literal:
        choices = get_args(annotation)
        for choice in choices:
            if value == choice or (isinstance(value, str) and str(choice) == value):
                return choice
        raise ValueError(value)
    if origin in (typing.Union, types.UnionType):
        args = get_args(annotation)
        if type(None) in args and value in (None, "none", "None", "null"):
            return None
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _coerce(value, arg)
            except (ValueError, TypeError):
                continue
        raise ValueError(value)
    if origin in (list, tuple) or annotation in (list, tuple):
        if isinstance(value, str):
            text = value.strip()
            items = (
                json.loads(text)
                if text.startswith("[")
                else [v for v in text.split(",") if v.strip()]
            )
        elif isinstance(value, list | tuple):
            items = list(value)
        else:
            raise TypeError(value)
        args = get_args(annotation)
        inner = args[0] if args else Any
        out = [_coerce(v, inner) for v in items]
        return tuple(out) if (origin is tuple or annotation is tuple) else out
    if annotation is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "1", "yes", "on"):
            return True
        if isinstance(value, str) and value.lower() in ("false", "0", "no", "off"):
            return False
        raise ValueError(value)
    if annotation is int:
        if isinstance(value, bool):
            raise TypeError(value)
        if isinstance(value, int):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, str):
            text = value.strip()
            if "**" in text:  # allow 2**14, common when writing sample sizes
                base, exp = text.split("**", 1)
                return int(base) ** int(exp)
            try:
                return int(text)
            except ValueError:
                # "8.0" and "1e3" as TOML's 8.0 and 1e3 are: whole numbers only
                number = float(text)
                if not number.is_integer():
                    raise
                return int(number)
        raise TypeError(value)
    if annotation is float:
        if isinstance(value, bool):
            raise TypeError(value)
        if isinstance(value, int | float):
            return float(value)
        if isinstance(value, str):
            return float(value)
        raise TypeError(value)
    if annotation is str:
        if isinstance(value, str):
            return value
        raise TypeError(value)
    if annotation is dict or origin is dict:
        if isinstance(value, str):
            value = json.loads(value)
        if not isinstance(value, dict):
            raise TypeError(value)
        return value
    return value


def _parse_scalar(text: str) -> Any:
    for parse in (int, float):
        try:
            return parse(text)
        except ValueError:
            pass
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    return text


def resolve_parameters(
    factory: Callable[..., Any],
    given: Mapping[str, Any],
    label: str,
    host_parameters: frozenset[str] = frozenset(),
) -> dict[str, Any]:
    """Validate ``given`` against ``factory``'s parameters and fill in defaults.

    Args:
        factory: the component factory.
        given: parameters set by the user (strings or values).
        label: the component, for errors, e.g. ``"target 'quadratic-feature'"``.
        host_parameters: parameters the host fills in (not user-settable).

    Returns:
        Every user-settable parameter with its coerced value, defaults included, so
        that the manifest records the full set.

    Raises:
        ConfigError: for an unknown parameter (listing the valid ones), a wrong
            type, or a required parameter that is missing.
    """
    specs = {k: v for k, v in parameter_specs(factory).items() if k not in host_parameters}
    unknown = sorted(set(given) - set(specs))
    if unknown:
        valid = ", ".join(sorted(specs)) or "(none)"
        raise ConfigError(f"unknown parameter {unknown[0]!r} for {label}; valid: {valid}")
    resolved: dict[str, Any] = {}
    for name, spec in specs.items():
        if name in given:
            resolved[name] = coerce(given[name], spec.annotation, f"parameter {name!r} of {label}")
        elif spec.required:
            raise ConfigError(f"{label} needs parameter {name!r} ({spec.type_name()})")
        else:
            resolved[name] = spec.default
    return resolved


def jsonable(value: Any) -> Any:
    """Convert tuples and NumPy scalars so that ``value`` round-trips through JSON."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if hasattr(value, "item") and callable(value.item) and getattr(value, "shape", None) == ():
        return value.item()
    return value


def route_parameters(
    pairs: list[str],
    factories: Mapping[str, tuple[str, Callable[..., Any], frozenset[str]]],
    fallback: Collection[str] = (),
) -> dict[str, dict[str, str]]:
    """Send ``key=value`` strings to the component that declares ``key``.

    ``kind.key=value`` (e.g. ``target.d=16``) names the component explicitly; a bare
    ``key=value`` goes to the single component whose factory accepts ``key``.

    Args:
        pairs: the raw ``key=value`` strings.
        factories: ``{kind: (label, factory, host_parameters)}`` for the components
            of the run, e.g. ``{"target": ("target 'q'", fn, frozenset({"seed"}))}``.
        fallback: kinds that get a bare key only when no other kind accepts it
            (``tlkit train``'s probes: ``-p ridges=...`` stays the trainer's).

    Returns:
        ``{kind: {key: raw value}}``.

    Raises:
        ConfigError: malformed pair, unknown kind, a key no component accepts, or a
            key several components accept (asking for a prefix). A parameter given
            twice takes the last value (a script's defaults, then the user's).
    """
    routed: dict[str, dict[str, str]] = {kind: {} for kind in factories}
    accepted = {kind: set(parameter_specs(fn)) - host for kind, (_, fn, host) in factories.items()}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ConfigError(f"parameter {pair!r} is not of the form key=value")
        kind, dot, rest = key.partition(".")
        if dot and kind in factories:
            routed[kind][rest] = value  # given twice: the last one wins, as options do
            continue
        if dot:
            raise ConfigError(
                f"parameter {pair!r}: unknown component {kind!r}; valid: {', '.join(factories)}"
            )
        owners = [k for k, names in accepted.items() if key in names and k not in fallback]
        if not owners:
            owners = [k for k, names in accepted.items() if key in names]
        if len(owners) == 1:
            routed[owners[0]][key] = value
        elif owners:
            options = " or ".join(f"{k}.{key}" for k in owners)
            raise ConfigError(
                f"parameter {key!r} is accepted by several components; write {options}"
            )
        else:
            listing = "; ".join(
                f"{factories[k][0]}: {', '.join(sorted(v)) or '(none)'}"
                for k, v in accepted.items()
            )
            raise ConfigError(f"unknown parameter {key!r}; valid: {listing}")
    return routed
