from __future__ import annotations

import pytest
from tlkit.config import RunConfig, derive_seed
from tlkit.errors import ConfigError


def test_seeds_derived_and_recorded():
    cfg = RunConfig(target="t", arch="a", seed=5)
    assert set(cfg.seeds) == {"target", "data", "init", "train"}
    assert cfg.seeds["data"] == derive_seed(5, "data")
    assert len(set(cfg.seeds.values())) == 4
    assert RunConfig(target="t", arch="a", seed=6).seeds != cfg.seeds


def test_explicit_seed_overrides():
    cfg = RunConfig(target="t", arch="a", seed=5, seeds={"target": 11})
    assert cfg.seeds["target"] == 11


def test_toml_round_trip(tmp_path):
    cfg = RunConfig(
        target={"name": "quadratic-feature", "params": {"d": 16, "link": "relu"}},
        arch={"name": "three-layer", "m1": 64},
        trainer="layer-wise",
        probes=["test"],
        n_train=2048,
        dtype="float64",
    )
    path = tmp_path / "run.toml"
    path.write_text(cfg.to_toml())
    back = RunConfig.from_toml(path)
    assert back.to_dict() == cfg.to_dict()
    assert back.arch.params == {"m1": 64}


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"n_train": 0}, "n_train must be positive, got 0"),
        ({"n_test": -3}, "n_test must be positive, got -3"),
        ({"n_train": "many"}, "n_train must be an integer, got 'many'"),
        ({"n_test": 2**64}, r"n_test must be below 2\*\*63, got 18446744073709551616"),
        ({"dtype": "float16"}, "dtype must be one of float32, float64, got 'float16'"),
        ({"seed": -1}, r"seed must be an integer in \[0, 2\*\*63\), got -1"),
        ({"seed": 2**64}, r"seed must be an integer in \[0, 2\*\*63\)"),
        ({"seeds": {"bogus": 1}}, "unknown seed role 'bogus'"),
        ({"seeds": 5}, "seeds must be a table of role = seed, got 5"),
        ({"seeds": {"data": "x"}}, r"seeds.data must be an integer in \[0, 2\*\*63\), got 'x'"),
        ({"seeds": {"data": -5}}, r"seeds.data must be an integer in \[0, 2\*\*63\), got -5"),
    ],
)
def test_validation_messages(fields, message):
    with pytest.raises(ConfigError, match=message):
        RunConfig(target="t", arch="a", **fields)


def test_unknown_field_and_missing_entries():
    with pytest.raises(ConfigError, match="unknown config field 'ntrain'"):
        RunConfig.from_dict({"target": "t", "arch": "a", "ntrain": 3})
    with pytest.raises(ConfigError, match="config needs a 'arch' entry"):
        RunConfig.from_dict({"target": "t"})


def test_toml_that_is_not_utf8(tmp_path):
    path = tmp_path / "run.toml"
    path.write_bytes(b"\xff\xfe n_train = 3")
    with pytest.raises(ConfigError, match="is not UTF-8 text"):
        RunConfig.from_toml(path)


def test_bad_toml(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text("target = [unclosed")
    with pytest.raises(ConfigError, match="is not valid TOML"):
        RunConfig.from_toml(path)
    with pytest.raises(ConfigError, match="config file not found"):
        RunConfig.from_toml(tmp_path / "missing.toml")


def test_probes_must_be_a_list():
    with pytest.raises(
        ConfigError, match="probes must be a list of probe names or tables, got 'test'"
    ):
        RunConfig(target="t", arch="a", probes="test")


def test_empty_config_path_is_an_error():
    with pytest.raises(ConfigError, match="config file path is empty"):
        RunConfig.from_toml("")
