"""What float32 means: tlkit asks JAX for full-precision matrix products everywhere."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import jax
import pytest
import tlkit
from fakes import fake_config


def _precision_in_fresh_process(
    value: str | None, jax_value: str | None = None
) -> subprocess.CompletedProcess:
    names = ("TLKIT_MATMUL_PRECISION", "JAX_DEFAULT_MATMUL_PRECISION")
    env = {k: v for k, v in os.environ.items() if k not in names}
    if value is not None:
        env["TLKIT_MATMUL_PRECISION"] = value
    if jax_value is not None:
        env["JAX_DEFAULT_MATMUL_PRECISION"] = jax_value
    code = "import jax, tlkit; tlkit.get_host(); print(jax.config.jax_default_matmul_precision)"
    return subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=False
    )


def test_import_sets_highest_precision_and_manifests_record_it_and_the_device(host, tmp_path):
    assert jax.config.jax_default_matmul_precision == "highest"
    tlkit.train(fake_config(), host=host, out=tmp_path / "r")
    manifest = json.loads((tmp_path / "r" / "manifest.json").read_text())
    assert manifest["versions"]["jax_matmul_precision"] == "highest"
    device = jax.devices()[0]
    assert manifest["versions"]["jax_device"] == f"{device.platform}: {device.device_kind}"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, "highest"),
        ("tensorfloat32", "tensorfloat32"),
        (" High ", "high"),
        ("default", "None"),
    ],
)
def test_environment_variable_overrides(value, expected):
    result = _precision_in_fresh_process(value)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == expected


def test_a_users_jax_setting_wins_unless_tlkit_is_told():
    assert _precision_in_fresh_process(None, "bfloat16").stdout.strip() == "bfloat16"
    assert _precision_in_fresh_process("highest", "bfloat16").stdout.strip() == "highest"


MESSAGE = (
    "TLKIT_MATMUL_PRECISION must be one of highest, high, tensorfloat32, bfloat16, default, "
    "got 'fp8'"
)


def test_bad_environment_variable_warns_in_python_and_keeps_highest():
    result = _precision_in_fresh_process("fp8")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "highest"
    assert f"UserWarning: {MESSAGE}; using 'highest'" in result.stderr


def test_bad_environment_variable_is_one_line_and_status_2_from_the_cli():
    env = {**os.environ, "TLKIT_MATMUL_PRECISION": "fp8"}
    result = subprocess.run(
        [sys.executable, "-W", "ignore", "-m", "tlkit", "plugins"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr.strip() == f"error: {MESSAGE}"


def test_empty_environment_variable_counts_as_unset():
    assert _precision_in_fresh_process("").stdout.strip() == "highest"
