"""Run configurations: dataclasses, validation, TOML in and out.

A :class:`RunConfig` names a target, an architecture, a trainer and probes, each
with parameters, plus sample sizes, precision and seeds. Every seed the run uses
is resolved from the master ``seed`` and recorded, so the manifest alone rebuilds
the run.
"""

from __future__ import annotations

import dataclasses
import json
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from tlkit.errors import ConfigError
from tlkit.params import jsonable

DTYPES = ("float32", "float64")
SEED_ROLES = ("target", "data", "init", "train")


@dataclass
class ComponentConfig:
    """A component by registered name, with its parameters."""

    name: str
    params: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def parse(cls, value: Any, what: str) -> ComponentConfig:
        if isinstance(value, ComponentConfig):
            return value
        if isinstance(value, str):
            return cls(value, {})
        if isinstance(value, Mapping) and isinstance(value.get("name"), str):
            params = value.get("params", {})
            extra = {k: v for k, v in value.items() if k not in ("name", "params")}
            if not isinstance(params, Mapping):
                raise ConfigError(f"{what}.params must be a table, got {params!r}")
            return cls(value["name"], {**dict(params), **extra})
        raise ConfigError(f"{what} must be a name or a table with 'name', got {value!r}")


def parse_probes(probes: Any) -> list[ComponentConfig]:
    """A list of probe configs from a list, or from one probe (a name or a table).

    A bare string is one probe name, never its characters.

    Raises:
        ConfigError: an entry that is not a name or a table with ``name``.
    """
    if isinstance(probes, str | ComponentConfig | Mapping):
        probes = [probes]
    try:
        items = list(probes)
    except TypeError:
        raise ConfigError(f"probes must be a list of names or tables, got {probes!r}") from None
    return [ComponentConfig.parse(p, "probes") for p in items]


def is_seed(value: Any) -> bool:
    """An integer in [0, 2**63): results store seeds as 64-bit integers."""
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 2**63


def derive_seed(seed: int, role: str) -> int:
    """A seed for one role (target, data, init, train) from the master seed.

    Independent of the architecture and trainer, so runs that differ only in the
    network see the same target and the same data.
    """
    state = np.random.SeedSequence([seed, SEED_ROLES.index(role)]).generate_state(1)
    return int(state[0] & 0x7FFFFFFF)


@dataclass
class RunConfig:
    """Everything that defines one run.

    Attributes:
        target, arch, trainer: components; ``trainer`` ``None`` picks the
            architecture's default trainer.
        probes: probes to run after training (empty: the default probes).
        n_train: training points (a trainer may split them, e.g. into D1 and D2).
        n_val: validation points for hyperparameter selection.
        n_test: test points for probes.
        seed: master seed.
        seeds: per-role seeds; missing roles are derived from ``seed``.
        dtype: ``float32`` (default) or ``float64``.
        train_block_size: ``None`` (default): the training split is one draw of
            ``n_train`` points. An integer ``B``: it is drawn as independent blocks of
            ``B`` points, block ``i`` from its own key (:mod:`tlkit.sampling`), so a
            streaming trainer (``layer-wise`` with finite ``m2``) holds one block of D1
            at a time: its stage-1 memory does not grow with ``n_train`` (D2 is still
            held; with ``n2`` fixed, nothing grows). Same
            distribution, different draw: results differ from the default mode by
            sampling noise only.
    """

    target: ComponentConfig
    arch: ComponentConfig
    trainer: ComponentConfig | None = None
    probes: list[ComponentConfig] = field(default_factory=list)
    n_train: int = 4096
    n_val: int = 2**15
    n_test: int = 2**15
    seed: int = 0
    seeds: dict[str, int] = field(default_factory=dict)
    dtype: str = "float32"
    train_block_size: int | None = None

    def __post_init__(self) -> None:
        self.target = ComponentConfig.parse(self.target, "target")
        self.arch = ComponentConfig.parse(self.arch, "arch")
        if self.trainer is not None:
            self.trainer = ComponentConfig.parse(self.trainer, "trainer")
        if not isinstance(self.probes, list | tuple):
            raise ConfigError(
                f"probes must be a list of probe names or tables, got {self.probes!r}"
            )
        self.probes = [ComponentConfig.parse(p, "probes") for p in self.probes]
        for name in ("n_train", "n_val", "n_test"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int):
                raise ConfigError(f"{name} must be an integer, got {value!r}")
            if value <= 0:
                raise ConfigError(f"{name} must be positive, got {value}")
            if value >= 2**63:  # array sizes are int64
                raise ConfigError(f"{name} must be below 2**63, got {value}")
        if not is_seed(self.seed):
            raise ConfigError(f"seed must be an integer in [0, 2**63), got {self.seed!r}")
        if not isinstance(self.seeds, dict):
            raise ConfigError(f"seeds must be a table of role = seed, got {self.seeds!r}")
        for role, value in self.seeds.items():
            if not is_seed(value):
                raise ConfigError(f"seeds.{role} must be an integer in [0, 2**63), got {value!r}")
        block = self.train_block_size
        if block is not None and (isinstance(block, bool) or not isinstance(block, int)):
            raise ConfigError(f"train_block_size must be an integer, got {block!r}")
        if block is not None and block <= 0:
            raise ConfigError(f"train_block_size must be positive, got {block}")
        if self.dtype not in DTYPES:
            raise ConfigError(f"dtype must be one of {', '.join(DTYPES)}, got {self.dtype!r}")
        unknown = set(self.seeds) - set(SEED_ROLES)
        if unknown:
            raise ConfigError(
                f"unknown seed role {sorted(unknown)[0]!r}; valid: {', '.join(SEED_ROLES)}"
            )
        self.seeds = {
            role: int(self.seeds[role]) if role in self.seeds else derive_seed(self.seed, role)
            for role in SEED_ROLES
        }

    # -- (de)serialization -------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """A JSON/TOML-ready dictionary (``None`` trainer and block size omitted)."""
        out = jsonable(dataclasses.asdict(self))
        # omitted when None, so configs written before the field existed read the same
        for optional in ("trainer", "train_block_size"):
            if out[optional] is None:
                del out[optional]
        return out

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RunConfig:
        """Build from a dictionary, rejecting unknown keys by name."""
        valid = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - valid)
        if unknown:
            raise ConfigError(
                f"unknown config field {unknown[0]!r}; valid: {', '.join(sorted(valid))}"
            )
        for required in ("target", "arch"):
            if required not in data:
                raise ConfigError(f"config needs a {required!r} entry")
        return cls(**dict(data))

    @classmethod
    def from_toml(cls, path: str | Path) -> RunConfig:
        """Read a TOML config file."""
        if not str(path).strip():
            raise ConfigError("config file path is empty")
        try:
            with open(path, "rb") as fh:
                data = tomllib.load(fh)
        except FileNotFoundError:
            raise ConfigError(f"config file not found: {path}") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None
        except UnicodeDecodeError:
            raise ConfigError(f"config file {path} is not UTF-8 text (TOML must be)") from None
        return cls.from_dict(data)

    def to_toml(self) -> str:
        import tomli_w

        data = self.to_dict()
        return tomli_w.dumps(_drop_none(data))


def _drop_none(value: Any) -> Any:
    """TOML has no null: drop ``None`` entries (they mean 'default')."""
    if isinstance(value, dict):
        return {k: _drop_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_drop_none(v) for v in value]
    return value
