"""The plugin's registration hook and its factories' parameter contract."""

from __future__ import annotations

import inspect

from tlkit.params import parameter_specs, resolve_parameters
from tlkit.plugins import PluginHost
from tlkit_probes import plugin

EXPECTED = {
    "test",
    "feature",
    "ridge-probe",
    "cka",
    "weight-overlap",
    "agop",
    "feature-energy",
    "kernel-ridge",
    "rf-ridge",
    "poly-ridge",
    "theory",
}


def registered() -> dict[str, tuple]:
    seen: dict[str, tuple] = {}
    plugin.tlkit_register_probes(
        register=lambda name, factory, **meta: seen.update({name: (factory, meta)})
    )
    return seen


def test_registers_every_probe_once_with_two_defaults() -> None:
    seen = registered()
    assert set(seen) == EXPECTED
    assert {n for n, (_, m) in seen.items() if m.get("default")} == {"test", "feature"}
    assert all(m.get("description") for _, m in seen.values())


def test_the_installed_entry_point_registers_every_probe() -> None:
    # through the "tlkit" entry point, as the CLI loads it (not the hook called directly)
    host = PluginHost(load_entry_points=True, strict=True)
    registry = host.ensure_registered()
    assert set(registry.of_plugin("probes")["probe"]) == EXPECTED
    direct = registered()
    for name in EXPECTED:
        component = registry.get("probe", name)
        assert component.plugin == "probes"
        assert component.factory is direct[name][0]
        assert component.description
        assert bool(component.metadata.get("default")) == (name in {"test", "feature"})


def test_factories_have_annotated_defaults_and_build_with_them() -> None:
    for name, (factory, _) in registered().items():
        for spec in parameter_specs(factory).values():
            assert not spec.required, f"{name}: parameter {spec.name} has no default"
            assert spec.annotation is not inspect.Parameter.empty, f"{name}: {spec.name}"
        params = resolve_parameters(factory, {}, f"probe {name!r}")
        assert callable(factory(**params))


def test_cli_style_strings_are_coerced() -> None:
    factory, _ = registered()["ridge-probe"]
    params = resolve_parameters(factory, {"ridges": "0.1,1", "budget_mb": "8"}, "probe")
    assert params["ridges"] == [0.1, 1.0] and params["budget_mb"] == 8
