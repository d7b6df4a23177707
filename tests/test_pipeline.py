from __future__ import annotations

import json

import numpy as np
import pytest
import tlkit
import xarray as xr
from fakes import NormProbePlugin, fake_config
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


def test_analyzing_a_saved_run_again_keeps_the_probes_not_rerun(host, tmp_path):
    host.add_plugin(NormProbePlugin(), name="norm", version="0.0")
    try:
        out = tmp_path / "run"
        noisy = fake_config(target={"name": "linear", "params": {"d": 4, "noise_std": 0.3}})
        run = tlkit.train(noisy, out=out, probes=["mse", "norm"], host=host)
        trained = xr.open_dataset(out / "results.nc").load()
        w_norm = float(np.linalg.norm(np.asarray(run.model.w[...], np.float64)))
        assert trained["norm_l2"].item() == pytest.approx(w_norm)

        # one more probe (here: one that does not apply) - the rest is kept
        with pytest.warns(UserWarning, match="probe 'never' skipped"):
            ds = tlkit.analyze(out, probes=["never"], host=host)
        on_disk = xr.open_dataset(out / "results.nc").load()
        xr.testing.assert_identical(ds, on_disk)
        xr.testing.assert_identical(on_disk["mse_mse"], trained["mse_mse"])
        xr.testing.assert_identical(on_disk["norm_l2"], trained["norm_l2"])
        assert json.loads(on_disk.attrs["skipped_probes"]) == {
            "never": "fake networks have no learned feature"
        }

        # a probe run again with other parameters replaces its own results only
        tlkit.analyze(out, probes=[{"name": "mse", "params": {"kind": "plain"}}], host=host)
        on_disk = xr.open_dataset(out / "results.nc").load()
        assert on_disk["mse_mse"].attrs["long_name"] == "plain test MSE"
        assert on_disk["mse_mse"].item() != trained["mse_mse"].item()
        xr.testing.assert_identical(on_disk["norm_l2"], trained["norm_l2"])
        assert "never" in json.loads(on_disk.attrs["skipped_probes"])

        # --out writes exactly the probes asked for, and the run's file is untouched
        only = tlkit.analyze(out, probes=["norm"], out=tmp_path / "norm.nc", host=host)
        assert set(only.data_vars) == {"norm_l2", "fit_status", "fit_reason"} | {
            v for v in only.data_vars if v.startswith("fit_")
        }
        assert "mse_mse" not in xr.open_dataset(tmp_path / "norm.nc").load()
    finally:
        host.remove_plugin("norm")


def test_a_run_is_not_rebuilt_with_another_plugins_component_of_the_same_name(host, tmp_path):
    tlkit.train(fake_config(), out=tmp_path / "r", host=host)
    manifest = json.loads((tmp_path / "r" / "manifest.json").read_text())
    assert manifest["components"]["target"]["plugin"] == "fake"
    manifest["components"]["target"]["plugin"] = "tlkit-elsewhere"
    (tmp_path / "r" / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(TlkitError) as caught:
        tlkit.load_run(tmp_path / "r", host=host)
    assert str(caught.value) == (
        f"{tmp_path / 'r'} was trained with target 'linear' of plugin 'tlkit-elsewhere', but "
        "that name now comes from plugin 'fake'; load it without that plugin "
        "(TLKIT_DISABLE_PLUGINS=fake)"
    )


def test_one_probe_may_be_given_as_a_bare_name(host, tmp_path):
    run = tlkit.train(fake_config(), probes="mse", host=host)
    assert "mse_mse" in run.results
    with pytest.raises(ConfigError, match="probes must be a list of names or tables, got 3"):
        tlkit.train(fake_config(), probes=3, host=host)
    tlkit.train(fake_config(), out=tmp_path / "r", probes=[], host=host)
    with pytest.raises(TlkitError, match=r"already exists; choose another output or replace it"):
        tlkit.train(fake_config(), out=tmp_path / "r", host=host)


def test_a_read_only_run_says_to_write_its_results_elsewhere(host, tmp_path, monkeypatch):
    import tlkit.pipeline

    run_dir = tmp_path / "r"
    tlkit.train(fake_config(), host=host, out=run_dir)
    real = tlkit.pipeline.ensure_writable_dir

    def read_only_run(directory):
        if directory == run_dir:
            raise TlkitError(f"output directory is not writable: {directory}")
        real(directory)

    # as root the tests cannot make a directory unwritable: the check itself says no
    monkeypatch.setattr(tlkit.pipeline, "ensure_writable_dir", read_only_run)
    with pytest.raises(TlkitError) as err:
        tlkit.analyze(run_dir, probes=["mse"], host=host)
    assert str(err.value) == (
        f"output directory is not writable: {run_dir}; write the results elsewhere with "
        "--out FILE (Python: out=...)"
    )
    mine = tmp_path / "mine.nc"
    assert "mse_mse" in tlkit.analyze(run_dir, probes=["mse"], out=mine, host=host)
    assert mine.is_file()


class _ScaledProbePlugin:
    """A probe with a typed parameter, as command lines give it: text."""

    @tlkit.hookimpl
    def tlkit_register_probes(self, register):
        def make_scaled(scale: int = 1):
            def probe(run):
                return {"value": tlkit.types.ProbeOutput(float(scale))}

            return probe

        register("scaled", make_scaled)


def test_probe_parameters_given_as_text_are_recorded_as_the_values_used(host, tmp_path):
    host.add_plugin(_ScaledProbePlugin(), name="scaled")
    try:
        run = tlkit.train(
            fake_config(),
            host=host,
            out=tmp_path / "r",
            probes=[{"name": "scaled", "params": {"scale": "10"}}],
        )
    finally:
        host.remove_plugin("scaled")
    assert run.results["scaled_value"].item() == 10.0
    manifest = json.loads((tmp_path / "r" / "manifest.json").read_text())
    assert manifest["config"]["probes"] == [{"name": "scaled", "params": {"scale": 10}}]
    assert run.results.tlkit.config["probes"] == manifest["config"]["probes"]
