from __future__ import annotations

import pytest
from tlkit.errors import PluginError, UnknownComponentError
from tlkit.registry import Registry


def factory(*, d: int = 3):
    return d


def test_unknown_component_lists_available():
    reg = Registry()
    reg.register("target", "b-target", factory, "p1")
    reg.register("target", "a-target", factory, "p1")
    with pytest.raises(
        UnknownComponentError, match=r"unknown target 'x'; available: a-target, b-target"
    ):
        reg.get("target", "x")


def test_unknown_component_when_none_installed():
    with pytest.raises(UnknownComponentError, match=r"available: \(none installed\)"):
        Registry().get("probe", "x")


def test_duplicate_names_both_plugins():
    reg = Registry()
    reg.register("probe", "cka", factory, "first")
    with pytest.raises(
        PluginError, match=r"'cka' registered twice: by plugin 'first' and by plugin 'second'"
    ):
        reg.register("probe", "cka", factory, "second")


# "." would make `-p NAME.key=value` ambiguous; "_" is what the message says is not allowed
@pytest.mark.parametrize("bad", ["", "Has Space", "UPPER", 3, "my_trainer", "v1.2"])
def test_bad_names_rejected(bad):
    with pytest.raises(PluginError, match="names use a-z, 0-9, '-'"):
        Registry().register("target", bad, factory, "p")


def test_non_callable_rejected():
    with pytest.raises(PluginError, match="non-callable"):
        Registry().register("target", "t", 42, "p")


def test_of_plugin_and_remove():
    reg = Registry()
    reg.register("target", "t", factory, "p")
    reg.register("probe", "q", factory, "p")
    assert reg.of_plugin("p")["target"] == ["t"]
    reg.remove_plugin("p")
    assert reg.names("target") == [] and reg.names("probe") == []


def test_parameters_are_introspected():
    reg = Registry()
    reg.register("target", "t", factory, "p", description="a target")
    comp = reg.get("target", "t")
    assert comp.description == "a target"
    assert comp.parameters()["d"].default == 3
