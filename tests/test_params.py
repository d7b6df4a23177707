from __future__ import annotations

from typing import Literal

import pytest
from tlkit.errors import ConfigError
from tlkit.params import coerce, resolve_parameters, route_parameters


def target_factory(
    *,
    d: int = 16,
    seed: int = 0,
    link: Literal["relu", "tanh"] = "relu",
    noise_std: float = 0.0,
    coeffs: list[float] | None = None,
    flag: bool = False,
):
    return None


def arch_factory(*, d: int, seed: int, dtype: str, m1: int = 8, noise_std: float = 1.0):
    return None


@pytest.mark.parametrize(
    ("raw", "annotation", "expected"),
    [
        ("16", int, 16),
        ("2**14", int, 16384),
        ("0.5", float, 0.5),
        ("3", float, 3.0),
        ("true", bool, True),
        ("off", bool, False),
        ("tanh", Literal["relu", "tanh"], "tanh"),
        ("1,2.5", list[float], [1.0, 2.5]),
        ("[1, 2]", list[int], [1, 2]),
        ("none", float | None, None),
        ("2", float | None, 2.0),
        # whole numbers written as floats, on the CLI as in TOML (8.0 there is a float)
        ("8.0", int, 8),
        ("1e3", int, 1000),
        (8.0, int, 8),
    ],
)
def test_coerce(raw, annotation, expected):
    assert coerce(raw, annotation, "x") == expected


@pytest.mark.parametrize(
    ("raw", "annotation"),
    [
        ("abc", int),
        ("1.5", int),
        ("inf", int),
        ("nan", int),
        ("maybe", bool),
        ("sigmoid", Literal["relu", "tanh"]),
        (True, int),
    ],
)
def test_coerce_rejects_with_parameter_name(raw, annotation):
    with pytest.raises(ConfigError, match=r"parameter 'd' expects"):
        coerce(raw, annotation, "parameter 'd'")


def test_resolve_fills_defaults_and_rejects_unknown():
    out = resolve_parameters(target_factory, {"d": "8"}, "target 't'", frozenset({"seed"}))
    assert out == {"d": 8, "link": "relu", "noise_std": 0.0, "coeffs": None, "flag": False}
    with pytest.raises(
        ConfigError, match=r"unknown parameter 'm1' for target 't'; valid: coeffs, d"
    ):
        resolve_parameters(target_factory, {"m1": 3}, "target 't'", frozenset({"seed"}))
    with pytest.raises(ConfigError, match="parameter 'd' of target 't' expects int, got 'x'"):
        resolve_parameters(target_factory, {"d": "x"}, "target 't'", frozenset({"seed"}))


def test_host_parameters_cannot_be_set():
    with pytest.raises(ConfigError, match="unknown parameter 'seed'"):
        resolve_parameters(target_factory, {"seed": 1}, "target 't'", frozenset({"seed"}))


def _factories():
    return {
        "target": ("target 't'", target_factory, frozenset({"seed"})),
        "arch": ("architecture 'a'", arch_factory, frozenset({"d", "seed", "dtype"})),
    }


def test_route_unique_prefixed_and_ambiguous():
    routed = route_parameters(
        ["d=8", "m1=4", "arch.noise_std=0.1", "target.noise_std=0"], _factories()
    )
    assert routed == {
        "target": {"d": "8", "noise_std": "0"},
        "arch": {"m1": "4", "noise_std": "0.1"},
    }
    with pytest.raises(
        ConfigError,
        match=r"accepted by several components; write target.noise_std or arch.noise_std",
    ):
        route_parameters(["noise_std=1"], _factories())
    with pytest.raises(ConfigError, match=r"unknown parameter 'zzz'; valid: target 't': "):
        route_parameters(["zzz=1"], _factories())
    with pytest.raises(ConfigError, match="not of the form key=value"):
        route_parameters(["d"], _factories())
    with pytest.raises(ConfigError, match="unknown component 'net'"):
        route_parameters(["net.m1=3"], _factories())


def test_a_parameter_given_twice_takes_the_last_value():
    # a script's defaults first, then the user's: the later one is meant
    routed = route_parameters(["d=8", "target.d=16", "m1=4", "m1=5"], _factories())
    assert routed == {"target": {"d": "16"}, "arch": {"m1": "5"}}


def test_a_bare_key_goes_to_a_fallback_component_only_if_no_other_takes_it():
    def trainer(ridge: float = 0.0) -> None: ...

    def probe(ridge: float = 1.0, points: int = 8) -> None: ...

    factories = {
        "trainer": ("trainer 't'", trainer, frozenset()),
        "ridge-probe": ("probe 'ridge-probe'", probe, frozenset()),
    }
    with pytest.raises(ConfigError, match="accepted by several components"):
        route_parameters(["ridge=0.5"], factories)
    routed = route_parameters(["ridge=0.5", "points=4"], factories, fallback={"ridge-probe"})
    assert routed == {"trainer": {"ridge": "0.5"}, "ridge-probe": {"points": "4"}}
    explicit = route_parameters(["ridge-probe.ridge=2"], factories, fallback={"ridge-probe"})
    assert explicit["ridge-probe"] == {"ridge": "2"}
