"""The host enforces the plugin contracts while running: one line naming the component.

A plugin that breaks its contract (a probe that raises or returns malformed outputs, a
trainer that returns no FitReport, a target whose samples have the wrong shape) is
reported as a :class:`ComponentError` naming the component and its plugin; a trained
network is never lost to a failing probe.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pytest
import tlkit
from click.testing import CliRunner
from fakes import LeastSquares, LinearTarget, fake_config
from tlkit.cli import cli
from tlkit.errors import ComponentError, ConfigError
from tlkit.pipeline import load_run
from tlkit.results import open_results
from tlkit.types import FitReport, ProbeOutput, StageReport


def _scalar(value, **kw):
    return ProbeOutput(value, long_name="a test quantity", **kw)


#: probe return values that break the contract, and the reason the host gives
MALFORMED = {
    "not-a-mapping": (3.0, "returned float, not a mapping of quantity -> ProbeOutput"),
    "empty": ({}, "returned no quantities"),
    "not-probe-output": ({"x": 3.0}, "quantity 'x': got float, not ProbeOutput (tlkit.types)"),
    "bad-name": ({"Bad Name": _scalar(1.0)}, "quantity 'Bad Name': names use lower case"),
    "shape": (
        {"x": _scalar(np.zeros((3, 2)), dims=("layer",))},
        "quantity 'x': values have shape (3, 2) but dims are ('layer',)",
    ),
    "coords": (
        {"x": _scalar(np.zeros(3), dims=("layer",), coords={"layer": [0, 1]})},
        "quantity 'x': coord 'layer' has 2 entries for an axis of 3",
    ),
    "run-dim": (
        {"x": _scalar(np.zeros(2), dims=("seed",))},
        "quantity 'x': run-level dims ['seed'] are added by the host",
    ),
    "inf": ({"x": _scalar(np.inf)}, "quantity 'x': values contain +-inf"),
    "strings": ({"x": _scalar(np.array(["a"]), dims=("layer",))}, "values must be real"),
}


def _returning(value):
    """A probe factory (no parameters) whose probe returns ``value``."""

    def factory():
        return lambda run: value

    return factory


class ContractPlugin:
    @tlkit.hookimpl
    def tlkit_register_probes(self, register):
        for name, (value, _) in MALFORMED.items():
            register(f"p-{name}", _returning(value))

        def make_raising():
            def probe(run):
                raise RuntimeError("boom inside\nthe probe")

            return probe

        register("p-raise", make_raising)

    @tlkit.hookimpl
    def tlkit_register_targets(self, register):
        register("wide-x", WideX)
        register("column-y", ColumnY)
        register("float64-y", Float64Y)

    @tlkit.hookimpl
    def tlkit_register_trainers(self, register):
        register("returns-none", ReturnsNone, architectures=["linear-net"])
        register("dict-stage", DictStage, architectures=["linear-net"])
        register("object-info", ObjectInfo, architectures=["linear-net"])
        register("gives-up", GivesUp, architectures=["linear-net"])


class WideX(LinearTarget):
    def sample(self, key, n, dtype=jnp.float32):
        X, y = super().sample(key, n, dtype)
        return jnp.concatenate([X, X], axis=1), y


class ColumnY(LinearTarget):
    def sample(self, key, n, dtype=jnp.float32):
        X, y = super().sample(key, n, dtype)
        return X, y[:, None]


class Float64Y(LinearTarget):
    def sample(self, key, n, dtype=jnp.float32):
        X, y = super().sample(key, n, dtype)
        return X, y.astype(jnp.float64)


class ReturnsNone(LeastSquares):
    def fit(self, model, data, on_stage):
        super().fit(model, data, on_stage)


class DictStage(LeastSquares):
    def fit(self, model, data, on_stage):
        on_stage({"stage": "fit"})


class ObjectInfo(LeastSquares):
    def fit(self, model, data, on_stage):
        on_stage(StageReport("fit", info={"solver": object()}))


class GivesUp(LeastSquares):
    """Fits, then reports failure: the weights it leaves are finite."""

    def fit(self, model, data, on_stage):
        super().fit(model, data, on_stage)
        return FitReport("failed", "gave up on purpose", [], {})


@pytest.fixture
def chost(host):
    host.add_plugin(ContractPlugin(), name="contracts", version="0.0")
    host.ensure_registered()
    yield host
    host.remove_plugin("contracts")


@pytest.mark.parametrize("name", sorted(MALFORMED))
def test_malformed_probe_outputs_are_one_line_and_keep_the_results(chost, tmp_path, name):
    out = tmp_path / "run"
    tlkit.train(fake_config(), out=out, host=chost)
    before = (out / "results.nc").read_bytes()
    with pytest.raises(ComponentError) as err:
        tlkit.analyze(out, probes=[f"p-{name}"], host=chost)
    message = str(err.value)
    assert message.startswith(f"probe 'p-{name}' (plugin 'contracts') broke the probe contract: ")
    assert MALFORMED[name][1] in message
    assert (out / "results.nc").read_bytes() == before


def test_a_probe_that_raises_never_costs_the_trained_network(chost, tmp_path):
    out = tmp_path / "run"
    with pytest.raises(ComponentError) as err:
        tlkit.train(fake_config(), out=out, probes=["mse", "p-raise"], host=chost)
    assert str(err.value) == (
        "probe 'p-raise' (plugin 'contracts') raised RuntimeError: boom inside the probe "
        f"(the trained run is saved in {out}; probe it again with 'tlkit analyze {out}')"
    )
    assert isinstance(err.value.__cause__, RuntimeError)  # for TLKIT_TRACEBACK
    run = load_run(out, chost)
    assert run.ok and not (out / "results.nc").exists()
    ds = tlkit.analyze(out, probes=["mse"], host=chost)
    assert np.isfinite(float(ds["mse_mse"].squeeze()))
    assert "mse_mse" in open_results(out / "results.nc")


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("wide-x", "X of shape (32, 8) (float32) and y of shape (32,) (float32)"),
        ("column-y", "X of shape (32, 4) (float32) and y of shape (32, 1) (float32)"),
        ("float64-y", "X of shape (32, 4) (float32) and y of shape (32,) (float64)"),
    ],
)
def test_a_target_whose_samples_break_the_contract_is_refused_before_training(
    chost, tmp_path, target, message
):
    out = tmp_path / "run"
    with pytest.raises(ComponentError) as err:
        tlkit.train(fake_config(target={"name": target, "params": {"d": 4}}), out=out, host=chost)
    assert str(err.value) == (
        f"target {target!r}: sample(key, 32, dtype=float32) returned {message}; the contract "
        "is X (32, 4) and y (32,), both float32 (tlkit.testing.check_target checks the whole "
        "contract)"
    )
    assert not out.exists()


@pytest.mark.parametrize(
    ("trainer", "message"),
    [
        ("returns-none", "fit() must return a tlkit.types.FitReport, got NoneType"),
        ("dict-stage", "on_stage() takes a tlkit.types.StageReport, got dict"),
        ("object-info", "stage 'fit' info['solver'] cannot be saved in the manifest"),
    ],
)
def test_a_trainer_that_breaks_the_contract_is_one_line(chost, tmp_path, trainer, message):
    out = tmp_path / "run"
    with pytest.raises(ComponentError) as err:
        tlkit.train(fake_config(trainer=trainer), out=out, host=chost)
    assert str(err.value).startswith(f"trainer {trainer!r}: {message}")
    assert not out.exists()


def test_the_cli_prints_one_line_or_with_tlkit_traceback_where(chost, tmp_path, monkeypatch):
    args = ["train", "--target", "linear", "--arch", "linear-net", "--n-train", "64"]
    args += ["--n-val", "32", "--n-test", "64", "--probe", "p-raise", "--out", str(tmp_path / "a")]
    monkeypatch.delenv("TLKIT_TRACEBACK", raising=False)
    result = CliRunner().invoke(cli, args, obj=chost)
    assert result.exit_code == 2
    assert result.stderr.splitlines()[-1:] == [
        "error: probe 'p-raise' (plugin 'contracts') raised RuntimeError: boom inside the "
        f"probe (the trained run is saved in {tmp_path / 'a'}; probe it again with 'tlkit "
        f"analyze {tmp_path / 'a'}') (TLKIT_TRACEBACK=1 shows where)"
    ]
    monkeypatch.setenv("TLKIT_TRACEBACK", "1")
    args[-1] = str(tmp_path / "b")
    result = CliRunner().invoke(cli, args, obj=chost)
    assert result.exit_code == 2
    assert "Traceback (most recent call last)" in result.stderr
    assert 'raise RuntimeError("boom inside\\nthe probe")' in result.stderr
    assert result.stderr.splitlines()[-1].startswith("error: probe 'p-raise'")


def test_check_probe_applies_the_hosts_rules(chost):
    from tlkit.testing import check_probe

    run = tlkit.train(fake_config(), probes=[], host=chost)
    for value, reason in MALFORMED.values():
        with pytest.raises(AssertionError) as err:
            check_probe(lambda run, value=value: value, run)
        assert reason in str(err.value)


def test_a_run_reported_failed_has_nan_probe_values_even_with_finite_weights(chost):
    run = tlkit.train(fake_config(trainer="gives-up"), probes=["mse"], host=chost)
    assert np.all(np.isfinite(np.asarray(run.model.w[...])))
    assert run.results["fit_status"].item() == "failed"
    assert run.results["fit_reason"].item() == "gave up on purpose"
    assert np.isnan(run.results["mse_mse"].item())
    assert run.results["mse_mse"].attrs["long_name"]  # still labelled


def test_a_bad_probe_parameter_is_refused_before_training(chost, tmp_path, monkeypatch):
    def no_training(*args, **kwargs):
        raise AssertionError("trained before the probes were checked")

    monkeypatch.setattr(LeastSquares, "fit", no_training)
    bad = {"name": "mse", "params": {"kind": "bogus"}}
    with pytest.raises(ConfigError, match="parameter 'kind' of probe 'mse'"):
        tlkit.train(fake_config(), out=tmp_path / "run", probes=[bad], host=chost)
    assert not (tmp_path / "run").exists()


class Overflows(LeastSquares):
    """Diverges to weights whose predictions overflow float32, and says so."""

    def fit(self, model, data, on_stage):
        super().fit(model, data, on_stage)
        model.w[...] = jnp.full_like(model.w[...], 1e30)
        return FitReport("failed", "diverged on purpose", [], {})


def test_a_diverged_run_whose_probe_gives_inf_is_recorded_not_raised(chost):
    chost.add_plugin(OverflowPlugin(), name="overflow")
    run = tlkit.train(fake_config(trainer="overflows"), probes=["mse"], host=chost)
    assert run.results["fit_status"].item() == "failed"
    assert np.isnan(run.results["mse_mse"].item())


class OverflowPlugin:
    @tlkit.hookimpl
    def tlkit_register_trainers(self, register):
        register("overflows", Overflows, architectures=["linear-net"])


def test_ctrl_c_while_probing_says_where_the_saved_run_is(chost, tmp_path):
    class Interrupting:
        @tlkit.hookimpl
        def tlkit_register_probes(self, register):
            def make():
                def probe(run):
                    raise KeyboardInterrupt

                return probe

            register("p-interrupt", make)

    chost.add_plugin(Interrupting(), name="interrupting")
    out = tmp_path / "run"
    with (
        pytest.warns(UserWarning, match=f"the trained run is saved in {out}; probe it with"),
        pytest.raises(KeyboardInterrupt),
    ):
        tlkit.train(fake_config(), out=out, probes=["p-interrupt"], host=chost)
    assert load_run(out, chost).ok
