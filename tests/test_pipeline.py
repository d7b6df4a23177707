from __future__ import annotations

import json

import numpy as np
import pytest
import tlkit
import xarray as xr
from fakes import fake_config
from tlkit.errors import ConfigError, TlkitError, UnknownComponentError


def test_train_in_memory_and_metrics(host):
    run = tlkit.train(
        fake_config(target={"name": "linear", "params": {"d": 4, "noise_std": 0.5}}), host=host
    )
    assert run.ok and run.path is None
    X, y = run.train_data().X, run.train_data().y
    # independent reference: NumPy least squares on the same data, evaluated on the test set
    w = np.linalg.lstsq(np.asarray(X, np.float64), np.asarray(y, np.float64), rcond=None)[0]
    Xt, _ = run.test_data()
    f_star = np.asarray(run.target.function(Xt), np.float64)
    ref = np.mean((np.asarray(Xt, np.float64) @ w - f_star) ** 2) / np.var(f_star)
    got = float(run.results["mse_mse"].squeeze())
    np.testing.assert_allclose(got, ref, rtol=1e-4)


def test_same_seed_same_data_across_architectures(host):
    a = tlkit.train(fake_config(), host=host, probes=[])
    b = tlkit.train(
        fake_config(trainer={"name": "lstsq", "params": {"ridge": 1.0}}), host=host, probes=[]
    )
    np.testing.assert_array_equal(a.train_data().X, b.train_data().X)
    np.testing.assert_array_equal(a.test_data()[0], b.test_data()[0])
    c = tlkit.train(fake_config(seed=4), host=host, probes=[])
    assert not np.array_equal(a.train_data().X, c.train_data().X)


def test_saved_run_reanalyzed_bitwise(host, tmp_path):
    cfg = fake_config(target={"name": "linear", "params": {"d": 4, "noise_std": 0.3}})
    run = tlkit.train(cfg, host=host, out=tmp_path / "r")
    loaded = tlkit.load_run(tmp_path / "r", host=host)
    np.testing.assert_array_equal(np.asarray(loaded.model.w[...]), np.asarray(run.model.w[...]))
    np.testing.assert_array_equal(
        np.asarray(loaded.model.fixed[...]), np.asarray(run.model.fixed[...])
    )
    assert loaded.model.empty[...].shape == (0, 4) and loaded.model.empty[...].dtype == np.float32
    ds = tlkit.analyze(tmp_path / "r", host=host)
    stored = xr.open_dataset(tmp_path / "r" / "results.nc", engine="h5netcdf").load()
    assert ds["mse_mse"].item() == run.results["mse_mse"].item() == stored["mse_mse"].item()
    assert loaded.config.to_dict() == run.config.to_dict()
    assert loaded.fit.stages[1].curves["train_mse"].dims == ("step",)


def test_manifest_records_everything(host, tmp_path):
    tlkit.train(fake_config(), host=host, out=tmp_path / "r")
    manifest = json.loads((tmp_path / "r" / "manifest.json").read_text())
    assert manifest["schema_version"] == 1
    assert {"tlkit", "jax", "flax"} <= set(manifest["versions"])
    assert manifest["config"]["seeds"].keys() == {"target", "data", "init", "train"}
    assert manifest["components"]["trainer"]["params"] == {
        "ridge": 0.0,
        "blow_up": False,
        "min_n": 0,
    }
    assert manifest["components"]["target"]["plugin"] == "fake"
    assert manifest["fit"]["choices"] == {"solver": "lstsq"}
    assert not list(tmp_path.glob(".*tmp*")), "temporary directories left behind"


def test_failed_training_is_recorded_not_raised(host):
    run = tlkit.train(
        fake_config(trainer={"name": "lstsq", "params": {"blow_up": True}}), host=host
    )
    assert run.fit.status == "failed" and "NaN" in run.fit.reason
    assert run.results["fit_status"].item() == "failed"
    assert np.isnan(run.results["mse_mse"].item())


def test_not_applicable_probe_is_skipped(host):
    with pytest.warns(
        UserWarning, match="probe 'never' skipped: fake networks have no learned feature"
    ):
        ds = tlkit.analyze(
            tlkit.train(fake_config(), host=host, probes=[]), ["never", "mse"], host=host
        )
    assert "mse_mse" in ds and not any(v.startswith("never") for v in ds.data_vars)
    assert "never" in json.loads(ds.attrs["skipped_probes"])


@pytest.mark.parametrize(
    ("overrides", "error", "message"),
    [
        ({"target": "nope"}, UnknownComponentError, "unknown target 'nope'; available: linear"),
        (
            {"arch": "nope"},
            UnknownComponentError,
            "unknown architecture 'nope'; available: linear-net",
        ),
        (
            {"probes": ["nope"]},
            UnknownComponentError,
            "unknown probe 'nope'; available: mse, never",
        ),
        (
            {"target": {"name": "linear", "params": {"d": 0}}},
            ConfigError,
            "target 'linear': d must be >= 1",
        ),
        ({"target": {"name": "linear", "params": {"d": "x"}}}, ConfigError, "expects int, got 'x'"),
        (
            {"arch": {"name": "linear-net", "params": {"scale": -1}}},
            ConfigError,
            "scale must be > 0",
        ),
        ({"n_train": 0}, ConfigError, "n_train must be positive"),
    ],
)
def test_bad_input_is_one_clear_error(host, tmp_path, overrides, error, message):
    with pytest.raises(error, match=message):
        tlkit.train(fake_config(**overrides), host=host, out=tmp_path / "r")
    assert not (tmp_path / "r").exists()


def test_existing_output_not_overwritten_without_force(host, tmp_path):
    out = tmp_path / "r"
    tlkit.train(fake_config(), host=host, out=out)
    before = (out / "manifest.json").read_text()
    with pytest.raises(TlkitError, match="already exists"):
        tlkit.train(fake_config(seed=9), host=host, out=out)
    assert (out / "manifest.json").read_text() == before
    tlkit.train(fake_config(seed=9), host=host, out=out, force=True)
    assert json.loads((out / "manifest.json").read_text())["config"]["seed"] == 9


def test_make_config_overrides():
    from tlkit.pipeline import make_config

    cfg = make_config(fake_config(), target_params={"d": 7}, seed=11)
    assert cfg.target.params == {"d": 7} and cfg.seed == 11


def test_stage_info_scalars_are_results_variables(host, tmp_path):
    cfg = fake_config(trainer={"name": "lstsq", "params": {"ridge": 0.5}})
    run = tlkit.train(cfg, host=host, out=tmp_path / "r")
    ds = run.results
    assert float(ds["fit_lstsq_fit_ridge"].squeeze()) == 0.5
    X, y = np.asarray(run.train_data().X), np.asarray(run.train_data().y)
    mse = np.mean((np.asarray(run.model(X), np.float64) - y) ** 2)  # NumPy reference
    np.testing.assert_allclose(float(ds["fit_lstsq_check_train_mse"].squeeze()), mse, rtol=1e-5)
    assert ds["fit_lstsq_fit_ridge"].attrs["probe"] == "fit:lstsq:fit"
    # kept through a saved run's re-analysis, and not counted as metrics
    again = tlkit.analyze(tmp_path / "r", host=host)
    assert float(again["fit_lstsq_fit_ridge"].squeeze()) == 0.5
    assert "fit_lstsq_fit_ridge" not in ds.tlkit.metrics()
