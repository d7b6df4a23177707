"""Training splits drawn in blocks (``train_block_size``): the block source and the run."""

from __future__ import annotations

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import tlkit
from fakes import LinearTarget, fake_config
from tlkit.config import RunConfig
from tlkit.errors import ConfigError
from tlkit.run import split_key
from tlkit.sampling import BlockSource


def _reference_rows(target, key, n, block, dtype=jnp.float64):
    """The split by definition: block i = sample(fold_in(key, i), block), concatenated."""
    parts = [
        target.sample(jax.random.fold_in(key, i), block, dtype=dtype) for i in range(-(-n // block))
    ]
    X = np.concatenate([np.asarray(p[0]) for p in parts])[:n]
    y = np.concatenate([np.asarray(p[1]) for p in parts])[:n]
    return X, y


@pytest.mark.parametrize(("start", "stop"), [(0, 23), (5, 6), (7, 19), (10, 10), (0, 0), (16, 23)])
def test_rows_are_the_concatenated_blocks(start, stop):
    target = LinearTarget(d=3, seed=1, noise_std=0.1)
    key = jax.random.PRNGKey(4)
    source = BlockSource(target.sample, key, 23, 8, jnp.float64)
    X_ref, y_ref = _reference_rows(target, key, 23, 8)
    X, y = source.rows(start, stop)
    np.testing.assert_array_equal(np.asarray(X), X_ref[start:stop])
    np.testing.assert_array_equal(np.asarray(y), y_ref[start:stop])
    assert X.shape == (stop - start, 3)
    chunks = list(source.chunks(start, stop))
    assert sum(c[0].shape[0] for c in chunks) == stop - start
    assert all(c[0].shape[0] <= 8 for c in chunks)  # one block at a time
    assert source.n_blocks == 3 and source.block(2)[0].shape == (7, 3)


def test_out_of_range_rows_and_blocks_raise():
    source = BlockSource(LinearTarget(d=2).sample, jax.random.PRNGKey(0), 10, 4)
    with pytest.raises(IndexError, match="rows 3..11 out of range 0..10"):
        source.rows(3, 11)
    with pytest.raises(IndexError, match="block 3 out of range 0..2"):
        source.block(3)


def test_run_in_block_mode_draws_its_split_in_blocks(host, tmp_path):
    cfg = fake_config(train_block_size=50, n_train=130)
    run = tlkit.train(cfg, host=host, out=tmp_path / "r")
    data = run.train_data()
    assert data.blocks is not None and data.n_train == 130
    key = split_key(run.config, "train")
    X_ref, y_ref = _reference_rows(run.target, key, 130, 50, jnp.float32)
    np.testing.assert_array_equal(np.asarray(data.X), X_ref)
    np.testing.assert_array_equal(np.asarray(data.y), y_ref)
    # the mode is part of the recorded config: a loaded run sees the same data
    manifest = json.loads((tmp_path / "r" / "manifest.json").read_text())
    assert manifest["config"]["train_block_size"] == 50
    loaded = tlkit.load_run(tmp_path / "r", host=host)
    np.testing.assert_array_equal(np.asarray(loaded.train_data().X), np.asarray(data.X))
    # a different draw from the default mode (same distribution)
    default = tlkit.train(fake_config(n_train=130), host=host, probes=[])
    assert not np.allclose(np.asarray(default.train_data().X), np.asarray(data.X))


def test_block_size_is_omitted_from_configs_by_default():
    assert "train_block_size" not in RunConfig(target="t", arch="a").to_dict()
    assert RunConfig(target="t", arch="a", train_block_size=64).to_dict()["train_block_size"] == 64


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (0, "train_block_size must be positive, got 0"),
        (True, "train_block_size must be an integer, got True"),
        ("big", "train_block_size must be an integer, got 'big'"),
    ],
)
def test_bad_block_size(value, message):
    with pytest.raises(ConfigError, match=message):
        RunConfig(target="t", arch="a", train_block_size=value)
