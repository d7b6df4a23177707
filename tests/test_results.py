from __future__ import annotations

import inspect
import json

import numpy as np
import pytest
import tlkit
import xarray as xr
from fakes import fake_config
from tlkit import results
from tlkit.config import ComponentConfig
from tlkit.errors import TlkitError
from tlkit.types import ProbeOutput


def test_runs_combine_into_a_grid(host):
    datasets = [
        tlkit.train(fake_config(n_train=n, seed=s), host=host).results
        for n in (32, 64)
        for s in (0, 1, 2)
    ]
    grid = results.combine(datasets)
    assert grid["mse_mse"].sizes == {"arch": 1, "trainer": 1, "d": 1, "n_train": 2, "seed": 3}
    assert list(grid["n_train"].values) == [32, 64]
    assert grid["mse_mse"].attrs["probe"] == "mse"
    summary = grid.tlkit.seed_summary("mse_mse")
    np.testing.assert_allclose(summary["median"].values, grid["mse_mse"].median("seed").values)
    table = grid.squeeze(["trainer", "d"]).tlkit.table(["mse_mse"])
    assert list(table.index) == [32, 64]


def test_combine_takes_results_files_as_well_as_datasets(host, tmp_path):
    datasets = [tlkit.train(fake_config(n_train=n), host=host).results for n in (32, 64)]
    path = results.save_dataset(datasets[1], tmp_path / "r64.nc")
    mixed = results.combine([datasets[0], str(path)])
    xr.testing.assert_identical(mixed, results.combine(datasets))
    with pytest.raises(TlkitError, match="missing.nc"):
        results.combine([tmp_path / "missing.nc"])


def test_netcdf_round_trip_and_atomic(host, tmp_path):
    ds = tlkit.train(fake_config(), host=host).results
    path = results.save_dataset(ds, tmp_path / "sub" / "r.nc")
    back = results.open_results(path)
    xr.testing.assert_identical(back, ds)
    assert back.tlkit.config["n_train"] == 64
    assert "jax" in back.tlkit.versions
    assert [p.name for p in (tmp_path / "sub").iterdir()] == ["r.nc"]


def test_variable_naming_and_dims_check():
    assert results.variable_name("ridge-probe", "r2") == "ridge_probe_r2"
    with pytest.raises(TlkitError, match="declared dims"):
        results.to_dataarray(ProbeOutput(np.zeros(3), ()), "p")


def test_open_results_errors(tmp_path):
    with pytest.raises(TlkitError, match="results file not found"):
        results.open_results(tmp_path / "missing.nc")
    bad = tmp_path / "bad.nc"
    bad.write_text("not netcdf")
    with pytest.raises(TlkitError, match="cannot read results file"):
        results.open_results(bad)


def test_collapse_keeps_the_one_present_value(host):
    a = tlkit.train(fake_config(), host=host).results
    b = tlkit.train(
        fake_config(
            arch={"name": "linear-net", "params": {"scale": 2.0}},
            trainer={"name": "lstsq", "params": {"ridge": 0.0}},
        ),
        host=host,
    ).results
    b = b.assign_coords(arch=["other-net"], trainer=["other-trainer"])
    grid = results.combine([a, b])
    assert grid.sizes["trainer"] == 2 and int(grid["mse_mse"].notnull().sum()) == 2
    flat = grid.tlkit.collapse("trainer")
    assert "trainer" not in flat.dims
    np.testing.assert_array_equal(
        flat["mse_mse"].sel(arch="other-net").values.ravel(), b["mse_mse"].values.ravel()
    )
    assert list(flat["fit_status"].values.ravel()) == ["ok", "ok"]
    with pytest.raises(TlkitError, match="cannot collapse 'seed'"):
        results.combine([a, a.assign_coords(seed=[9])]).expand_dims(x=[0]).tlkit.collapse("seed")


def test_combine_runs_with_different_layers_and_curve_grids(host):
    """Variables keep their own dims; differing coordinates are united, not broadcast."""
    a = tlkit.train(fake_config(), host=host).results
    b = tlkit.train(
        fake_config(trainer={"name": "lstsq", "params": {"ridge": 2.0}}), host=host
    ).results
    b = b.assign_coords(arch=["other-net"], step=[5, 6])  # another curve grid
    layer_a = xr.DataArray([[[[[0.5]]]]], dims=("arch", "trainer", "d", "n_train", "seed"))
    a = a.assign(per_layer=layer_a.expand_dims(layer=["h1"]).transpose(..., "layer"))
    grid = results.combine([a, b])
    assert grid["fit_lstsq_train_mse"].sizes["step"] == 4
    assert grid["per_layer"].dims == ("arch", "trainer", "d", "n_train", "seed", "layer")
    assert "layer" not in grid["mse_mse"].dims
    clash = b.assign(mse_mse=b["mse_mse"].expand_dims(extra=[0]))
    with pytest.raises(TlkitError, match="cannot combine variable 'mse_mse'"):
        results.combine([a, clash])


def test_combined_versions_list_what_differs(host):
    # cells run on different machines: keys that agree stay, the others list each value
    runs = [tlkit.train(fake_config(seed=s), host=host).results for s in (0, 1, 2)]
    same = results.combine(runs).tlkit.versions
    assert same == runs[0].tlkit.versions
    devices = ("gpu: NVIDIA H200", "cpu: cpu", "cpu: cpu")
    for run, device in zip(runs, devices, strict=True):
        versions = {**run.tlkit.versions, "jax_device": device}
        run.attrs["versions"] = json.dumps(versions, sort_keys=True)
    merged = results.combine(runs).tlkit.versions
    assert merged["jax_device"] == "cpu: cpu | gpu: NVIDIA H200"
    assert {k: v for k, v in merged.items() if k != "jax_device"} == {
        k: v for k, v in same.items() if k != "jax_device"
    }


def test_combine_refuses_datasets_that_would_overwrite_each_other():
    coords = {"arch": ["three-layer"], "seed": [0, 1]}
    a = xr.Dataset({"mse": (("arch", "seed"), [[1.0, 2.0]])}, coords=coords)
    b = xr.Dataset(
        {"mse": (("arch", "seed"), [[3.0]])}, coords={"arch": ["three-layer"], "seed": [1]}
    )
    with pytest.raises(TlkitError) as caught:
        results.combine([a, b])
    assert str(caught.value).startswith(
        "dataset 2 overlaps an earlier one: both hold 'mse' at arch=three-layer, seed=1;"
    )
    # a dimension that tells them apart makes them combine
    both = results.combine([a.expand_dims(target=["quad"]), b.expand_dims(target=["sign"])])
    assert both["mse"].sel(target="sign", seed=1).item() == 3.0
    assert both["mse"].sel(target="quad", seed=1).item() == 2.0


def test_import_tlkit_alone_gives_datasets_the_accessor():
    # a fresh interpreter: in this one, tlkit.results is long imported
    import subprocess
    import sys

    code = "import tlkit, xarray as xr; print(type(xr.Dataset().tlkit).__name__)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "TlkitAccessor"


def test_merging_refuses_a_probe_axis_given_other_values():
    def run_ds(**variables):
        ds = xr.Dataset(
            {"fit_status": (("seed",), np.array(["ok"], dtype=object))}, coords={"seed": [0]}
        )
        for name, (probe, degrees) in variables.items():
            da = xr.DataArray(np.ones((1, len(degrees))), dims=("seed", "degree"))
            ds[name] = da.assign_coords(degree=degrees).assign_attrs(probe=probe)
        return ds

    old = run_ds(theory_c=("theory", list(range(7))))
    same_axis = run_ds(energy_e=("energy", list(range(7))))
    merged = results.merge_probe_results(old, same_axis, ["energy"])
    assert {"theory_c", "energy_e"} <= set(merged.data_vars)
    other_axis = run_ds(energy_e=("energy", [0, 1, 2]))
    with pytest.raises(TlkitError, match=r"'theory_c' is kept over degree = \[0, 1, 2, 3"):
        results.merge_probe_results(old, other_axis, ["energy"])
    # the probe that owned the axis, run again with a shorter one, simply replaces it
    rerun = results.merge_probe_results(old, run_ds(theory_c=("theory", [0, 1])), ["theory"])
    assert rerun["theory_c"].sizes["degree"] == 2


def test_two_stages_reporting_a_curve_of_one_name_keep_both(host):
    from tlkit.types import FitReport, StageReport

    run = tlkit.train(fake_config(), probes=[], host=host)

    def curve(value):
        return ProbeOutput(np.full(2, value), ("step",), {"step": [0, 1]}, "1", "a loss")

    run.fit = FitReport(
        "ok",
        None,
        [
            StageReport("warmup", curves={"loss": curve(1.0)}),
            # the review's case: a stage reports a curve and a number of one name
            StageReport("main", info={"loss": 0.1}, curves={"loss": curve(2.0)}),
        ],
    )
    ds = results.label_run(run, {})
    assert ds["fit_lstsq_loss"].squeeze().values.tolist() == [1.0, 1.0]
    assert ds["fit_lstsq_main_loss_curve"].squeeze().values.tolist() == [2.0, 2.0]
    assert ds["fit_lstsq_main_loss"].item() == 0.1


def test_table_names_an_unknown_variable_and_says_how_to_fix_extra_dims(host):
    run = tlkit.train(fake_config(), host=host).results[["mse_mse"]]
    with pytest.raises(TlkitError, match="unknown variable 'mse_msee'; metrics here: mse_mse"):
        run.tlkit.table(["mse_msee"])
    two_trainers = xr.concat([run, run.assign_coords(trainer=["other"])], "trainer")
    with pytest.raises(TlkitError, match=r"\.tlkit\.collapse\('trainer'\) first"):
        two_trainers.tlkit.table(["mse_mse"])
    with pytest.raises(TlkitError, match=r"select one value of 'knob' first"):
        run.expand_dims(knob=[0, 1]).tlkit.table(["mse_mse"])


def test_seed_summary_names_an_unknown_or_non_numeric_variable(host):
    run = tlkit.train(fake_config(), host=host).results
    with pytest.raises(TlkitError, match="unknown variable 'mse_msee'; metrics here: mse_mse"):
        run.tlkit.seed_summary("mse_msee")
    with pytest.raises(TlkitError, match="'fit_status' is not numeric"):
        run.tlkit.seed_summary("fit_status")


def test_table_names_an_index_or_columns_that_is_not_a_dimension(host):
    run = tlkit.train(fake_config(), host=host).results
    with pytest.raises(TlkitError) as err:
        run.tlkit.table(["mse_mse"], index="n")
    assert str(err.value) == (
        "index 'n' is not a dimension of 'mse_mse'; its dimensions: arch, trainer, d, n_train, seed"
    )
    with pytest.raises(TlkitError, match="columns 'archs' is not a dimension of 'mse_mse'"):
        run.tlkit.table(["mse_mse"], columns="archs")
    # an axis selected away is still fine: the table has one axis less
    table = run.isel(arch=0).tlkit.table(["mse_mse"])
    assert list(table.columns) == ["mse_mse"]


def test_each_probe_variable_records_the_parameters_it_was_computed_with(host, tmp_path):
    from fakes import make_mse_probe

    run = tlkit.train(fake_config(), host=host)
    default = json.loads(run.results["mse_mse"].attrs["probe_params"])
    # the factory's own default, read from its signature (not from tlkit)
    assert default == {"kind": inspect.signature(make_mse_probe).parameters["kind"].default}

    plain = tlkit.analyze(run, [ComponentConfig("mse", {"kind": "plain"})], host=host)
    assert json.loads(plain["mse_mse"].attrs["probe_params"]) == {"kind": "plain"}
    back = results.open_results(results.save_dataset(plain, tmp_path / "plain.nc"))
    assert back["mse_mse"].attrs["probe_params"] == plain["mse_mse"].attrs["probe_params"]

    other = tlkit.train(fake_config(seed=1), host=host).results
    same = results.combine([run.results, other])
    assert same["mse_mse"].attrs["probe_params"] == run.results["mse_mse"].attrs["probe_params"]
    mixed = results.combine([run.results, back.assign_coords(seed=[1])])
    assert mixed["mse_mse"].attrs["probe_params"] == results.PROBE_PARAMS_DIFFER
    # a dataset that records none (an older file) makes it unknown, in either order
    older = other.copy()
    del older["mse_mse"].attrs["probe_params"]
    for pair in ([run.results, older], [older, run.results]):
        assert results.combine(pair)["mse_mse"].attrs["probe_params"] == (
            results.PROBE_PARAMS_DIFFER
        )
    assert "probe_params" not in results.combine([older])["mse_mse"].attrs
