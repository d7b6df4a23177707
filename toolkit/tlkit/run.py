"""The :class:`Run`: a trained network with its target, config and data.

Data are never stored: they are regenerated from the config's ``data`` seed, so a
run loaded from disk sees exactly the data it was trained and tested on.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp

from tlkit.config import RunConfig
from tlkit.errors import ComponentError
from tlkit.sampling import BlockSource
from tlkit.types import Array, FitReport, Target, TrainData

#: fold_in tags of the data key, one per data split
_SPLITS = {"train": 0, "val": 1, "test": 2}


def split_key(config: RunConfig, split: str) -> jax.Array:
    """The PRNG key of one data split (``train``, ``val`` or ``test``)."""
    return jax.random.fold_in(jax.random.PRNGKey(config.seeds["data"]), _SPLITS[split])


def sample_split(target: Target, config: RunConfig, split: str, n: int) -> tuple[Array, Array]:
    """Sample one split of the run's data deterministically."""
    dtype = jnp.dtype(config.dtype)
    X, y = target.sample(split_key(config, split), n, dtype=dtype)
    check_sample(config.target.name, X, y, n, target.d, dtype)
    return X, y


def check_sample(name: str, X: Any, y: Any, n: int, d: int, dtype: Any) -> None:
    """Refuse samples that break the target contract (shapes and dtype are static).

    A wrong shape would otherwise surface as a JAX traceback deep in a trainer, or
    worse, train and save a network that cannot be loaded again.

    Raises:
        ComponentError: naming the target, what it returned and what was asked.
    """
    dtype = jnp.dtype(dtype)
    got = (tuple(getattr(X, "shape", ())), tuple(getattr(y, "shape", ())))
    dtypes = (getattr(X, "dtype", None), getattr(y, "dtype", None))
    if got != ((n, d), (n,)) or dtypes != (dtype, dtype):
        raise ComponentError(
            f"target {name!r}: sample(key, {n}, dtype={dtype.name}) returned X of shape "
            f"{got[0]} ({dtypes[0]}) and y of shape {got[1]} ({dtypes[1]}); the contract "
            f"is X ({n}, {d}) and y ({n},), both {dtype.name} (tlkit.testing.check_target "
            "checks the whole contract)"
        )


def train_blocks(target: Target, config: RunConfig) -> BlockSource:
    """The training split of a run with ``train_block_size`` set, as a block source."""
    assert config.train_block_size is not None
    return BlockSource(
        CheckedSampler(target, config.target.name),
        split_key(config, "train"),
        config.n_train,
        config.train_block_size,
        jnp.dtype(config.dtype),
    )


@dataclass(frozen=True)
class CheckedSampler:
    """A target's ``sample`` whose every draw is checked by :func:`check_sample`."""

    target: Target
    name: str

    def __call__(self, key: Array, n: int, dtype: Any = jnp.float32) -> tuple[Array, Array]:
        X, y = self.target.sample(key, n, dtype=dtype)
        check_sample(self.name, X, y, n, self.target.d, dtype)
        return X, y


@dataclass
class Run:
    """A run: config, target (with ground truth), network and training report.

    Attributes:
        config: the run configuration with all seeds resolved.
        target: the target, rebuilt from the config.
        model: the trained ``flax.nnx`` network.
        fit: the trainer's report (status, stage reports, choices).
        path: the run directory, if saved.
        component_params: resolved parameters of target/arch/trainer (defaults
            filled), as recorded in the manifest.
        results: the labelled probe results computed right after training
            (an ``xarray.Dataset``), if any.
    """

    config: RunConfig
    target: Target
    model: Any
    fit: FitReport
    path: Path | None = None
    component_params: dict[str, dict[str, Any]] = field(default_factory=dict)
    results: Any = None

    @property
    def dtype(self) -> jnp.dtype:
        return jnp.dtype(self.config.dtype)

    @property
    def arch_name(self) -> str:
        return self.config.arch.name

    @property
    def ok(self) -> bool:
        return self.fit.status == "ok"

    def train_data(self) -> TrainData:
        """The training and validation data the trainer saw."""
        return self._train_data

    @cached_property
    def _train_data(self) -> TrainData:
        X_val, y_val = sample_split(self.target, self.config, "val", self.config.n_val)
        key = jax.random.PRNGKey(self.config.seeds["train"])
        if self.config.train_block_size is not None:
            return TrainData(
                None, None, X_val, y_val, key, blocks=train_blocks(self.target, self.config)
            )
        X, y = sample_split(self.target, self.config, "train", self.config.n_train)
        return TrainData(X, y, X_val, y_val, key)

    def test_data(self) -> tuple[Array, Array]:
        """The held-out test set (``n_test`` points) that probes evaluate on."""
        return self._test_data

    @cached_property
    def _test_data(self) -> tuple[Array, Array]:
        return sample_split(self.target, self.config, "test", self.config.n_test)
