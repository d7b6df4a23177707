"""The plugin through its entry point: what it registers, and every architecture's contract."""

from __future__ import annotations

import pytest
from nets_testlib import QuadraticTargetPlugin
from tlkit.params import parameter_specs
from tlkit.plugins import PluginHost
from tlkit.testing import check_architecture

ARCHES = {"three-layer", "two-layer", "three-layer-wang"}
TRAINERS = {"layer-wise", "one-step", "random-features", "joint"}


@pytest.fixture(scope="module")
def host() -> PluginHost:
    h = PluginHost()
    # a target of the tests' own, so that these tests need no target plugin
    h.add_plugin(QuadraticTargetPlugin(), name="nets-tests")
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


@pytest.mark.parametrize(
    ("trainer", "message"),
    [
        (
            {"name": "layer-wise", "params": {"n1": 100, "n2": 100}},
            "trainer 'layer-wise': n1 + n2 must be at most n_train = 128 with both >= 1; "
            "got n1=100, n2=100",
        ),
        (
            {"name": "random-features", "params": {"n2": 200}},
            "trainer 'random-features': n2 must be at most n_train = 128, got 200",
        ),
    ],
)
def test_data_splits_larger_than_a_sweep_cell_fail_before_the_sweep(
    host: PluginHost, tmp_path, trainer, message
) -> None:
    # Each trainer checks its splits against every cell's n_train up front, so a
    # too-small cell is a one-line config error, not a failed cell found mid-sweep.
    import tlkit
    from tlkit.errors import ConfigError

    arch = "three-layer" if trainer["name"] == "layer-wise" else "two-layer"
    spec = {
        "seeds": [0],
        "base": {
            "target": {"name": "nets-test-quadratic", "params": {"d": 4}},
            "arch": {
                "name": arch,
                "params": {"m1": 8, "m2": 8} if arch == "three-layer" else {"m": 8},
            },
            "trainer": trainer,
            "n_val": 64,
            "n_test": 64,
        },
        "grid": {"n_train": [512, 128]},
    }
    with pytest.raises(ConfigError) as caught:
        tlkit.sweep(spec, tmp_path / "sw", host=host, progress="none")
    assert str(caught.value) == f"sweep cell [n_train=128]: {message}"
    assert not (tmp_path / "sw").exists()
