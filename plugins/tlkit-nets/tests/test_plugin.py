"""The plugin through its entry point: what it registers, and every architecture's contract."""

from __future__ import annotations

import pytest
from tlkit.params import parameter_specs
from tlkit.plugins import PluginHost
from tlkit.testing import check_architecture

ARCHES = {"three-layer", "two-layer", "three-layer-wang"}
TRAINERS = {"layer-wise", "one-step", "random-features", "joint"}


@pytest.fixture(scope="module")
def host() -> PluginHost:
    h = PluginHost()
    h.ensure_registered()
    return h


def test_registered_names(host: PluginHost) -> None:
    info = next(p for p in host.working_plugins() if p.name == "nets")
    assert set(info.components["architecture"]) == ARCHES
    assert set(info.components["trainer"]) == TRAINERS


def test_trainer_pairings(host: PluginHost) -> None:
    for arch in ARCHES:
        trainers = host.registry.get("architecture", arch).metadata["trainers"]
        for trainer in trainers:
            allowed = host.registry.get("trainer", trainer).metadata["architectures"]
            assert arch in allowed, (arch, trainer)
    assert host.registry.get("architecture", "three-layer").metadata["trainers"][0] == "layer-wise"


@pytest.mark.parametrize("name", sorted(ARCHES))
def test_every_architecture_passes_the_contract(host: PluginHost, name: str) -> None:
    factory = host.registry.get("architecture", name).factory
    small = {"m1": 6, "m2": 10} if name == "three-layer" else {}
    small = {"m": 6} if name == "two-layer" else small
    small = {"m2": 10} if name == "three-layer-wang" else small
    check_architecture(
        factory(d=4, seed=0, dtype="float32", **small), 4, factory=factory, params=small
    )


@pytest.mark.parametrize("kind", ["architecture", "trainer"])
def test_parameters_are_annotated_with_defaults(host: PluginHost, kind: str) -> None:
    host_params = {"d", "seed"}
    for name in host.registry.names(kind):
        component = host.registry.get(kind, name)
        if component.plugin != "nets":
            continue
        for spec in parameter_specs(component.factory).values():
            if spec.name in host_params:
                continue
            assert not spec.required, (name, spec.name)
            assert spec.annotation is not None, (name, spec.name)
