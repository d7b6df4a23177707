"""The CLI over the fake plugin (CliRunner); real entry points are in test_end_to_end.py."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from tlkit.cli import cli
from tlkit.pipeline import load_run
from tlkit.results import open_results


@pytest.fixture
def invoke(host):
    runner = CliRunner()

    def _invoke(*args):
        return runner.invoke(cli, list(args), obj=host, catch_exceptions=False)

    return _invoke


TRAIN = (
    "train",
    "--target",
    "linear",
    "--arch",
    "linear-net",
    "--n-train",
    "64",
    "--n-val",
    "16",
    "--n-test",
    "64",
)


def test_plugins_json(invoke):
    result = invoke("plugins", "--json")
    assert result.exit_code == 0
    (fake,) = json.loads(result.output)
    assert fake["name"] == "fake" and fake["error"] is None
    assert fake["components"]["target"] == ["linear"]
    assert set(fake) >= {"name", "version", "components", "error"}


def test_plugins_table(invoke):
    result = invoke("plugins")
    assert result.exit_code == 0 and "linear-net" in result.output


def test_describe(invoke):
    result = invoke("describe", "target", "linear")
    assert result.exit_code == 0
    assert "-p d=<int>   (default 4)" in result.output
    assert "seed" not in result.output.split("\n", 2)[2]
    short = invoke("describe", "arch", "linear-net")  # as in --arch
    assert short.exit_code == 0 and short.output.startswith("architecture linear-net (plugin")


def test_train_then_analyze_same_metrics(invoke, tmp_path):
    out = tmp_path / "run"
    result = invoke(*TRAIN, "-p", "noise_std=0.2", "--seed", "2", "--out", str(out))
    assert result.exit_code == 0, result.output
    trained = [l for l in result.output.splitlines() if l.strip().startswith("mse_mse")]
    result = invoke("analyze", str(out))
    assert result.exit_code == 0, result.output
    analyzed = [l for l in result.output.splitlines() if l.strip().startswith("mse_mse")]
    assert trained == analyzed and trained


def test_train_from_config_file(invoke, tmp_path):
    cfg = tmp_path / "run.toml"
    cfg.write_text(
        'n_train = 32\nn_val = 8\nn_test = 32\n[target]\nname = "linear"\n'
        '[target.params]\nd = 3\n[arch]\nname = "linear-net"\n'
    )
    result = invoke("train", "--config", str(cfg), "--out", str(tmp_path / "r"))
    assert result.exit_code == 0, result.output
    manifest = json.loads((tmp_path / "r" / "manifest.json").read_text())
    assert manifest["config"]["target"]["params"]["d"] == 3


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (("--target", "nope"), "unknown target 'nope'; available: linear"),
        (("-p", "d=abc"), "parameter 'd' of target 'linear' expects int, got 'abc'"),
        (("-p", "d=0"), "target 'linear': d must be >= 1, got 0"),
        (
            ("-p", "zzz=1"),
            "unknown parameter 'zzz'; valid: target 'linear': d, noise_std; "
            "architecture 'linear-net': scale; trainer 'lstsq': blow_up, min_n, ridge",
        ),
        (("-p", "min_n=100"), "trainer 'lstsq': needs n_train >= min_n = 100, got 64"),
        (("--n-train", "-5"), "n_train must be positive, got -5"),
        (("--train-block-size", "0"), "train_block_size must be positive, got 0"),
        (("--probe", "nope"), "unknown probe 'nope'; available: mse, never"),
        (("--probe", "mse", "--probe", "mse"), "--probe mse given twice; name each probe once"),
    ],
)
def test_bad_input_exit_2_one_line(invoke, tmp_path, extra, message):
    out = tmp_path / "run"
    result = invoke(*TRAIN, *extra, "--out", str(out))
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [f"error: {message}"]
    assert not out.exists() and list(tmp_path.iterdir()) == []


def test_unwritable_output(invoke, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    result = invoke(*TRAIN, "--out", str(blocker / "run"))
    assert result.exit_code == 2 and result.output.startswith("error: cannot create directory")


def test_existing_run_not_clobbered(invoke, tmp_path):
    out = tmp_path / "run"
    assert invoke(*TRAIN, "--out", str(out)).exit_code == 0
    result = invoke(*TRAIN, "--seed", "5", "--out", str(out))
    assert result.exit_code == 2 and "already exists" in result.output


@pytest.mark.parametrize("damage", ["missing", "truncated", "newer"])
def test_analyze_bad_run_dir(invoke, tmp_path, damage):
    out = tmp_path / "run"
    assert invoke(*TRAIN, "--out", str(out)).exit_code == 0
    manifest = out / "manifest.json"
    if damage == "missing":
        out = tmp_path / "elsewhere"
    elif damage == "truncated":
        manifest.write_text(manifest.read_text()[:40])
    else:
        manifest.write_text(
            manifest.read_text().replace('"schema_version": 1', '"schema_version": 7')
        )
    before = sorted(p.name for p in tmp_path.rglob("*"))
    result = invoke("analyze", str(out))
    assert result.exit_code == 2 and len(result.output.strip().splitlines()) == 1
    assert sorted(p.name for p in tmp_path.rglob("*")) == before


def test_analyze_sets_probe_parameters(invoke, tmp_path):
    import xarray as xr

    out = tmp_path / "run"
    assert invoke(*TRAIN, "--out", str(out)).exit_code == 0
    for args, name in (((), "normalized test MSE"), (("-p", "mse.kind=plain"), "plain test MSE")):
        result = invoke(
            "analyze", str(out), "--probe", "mse", *args, "--out", str(tmp_path / "r.nc")
        )
        assert result.exit_code == 0, result.output
        with xr.open_dataset(tmp_path / "r.nc") as ds:
            assert ds["mse_mse"].attrs["long_name"] == name
    result = invoke("analyze", str(out), "--probe", "mse", "-p", "kind=plain")  # bare key
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("-p", "kind=plain"), "-p sets parameters of the probes named by --probe"),
        (("--probe", "mse", "-p", "bogus=1"), "unknown parameter 'bogus'"),
        (("--probe", "mse", "-p", "kind=cubic"), "kind"),
        (("--probe", "nope", "-p", "kind=plain"), "nope"),
    ],
)
def test_analyze_bad_probe_parameters(invoke, tmp_path, args, message):
    out = tmp_path / "run"
    assert invoke(*TRAIN, "--out", str(out)).exit_code == 0
    before = sorted(p.name for p in tmp_path.rglob("*"))
    result = invoke("analyze", str(out), *args)
    assert result.exit_code == 2 and len(result.output.strip().splitlines()) == 1, result.output
    assert message in result.output
    assert sorted(p.name for p in tmp_path.rglob("*")) == before


def test_force_replaces_only_a_run(invoke, tmp_path, monkeypatch):
    project = tmp_path / "project"
    project.mkdir()
    (project / "notes.txt").write_text("keep me")
    result = invoke(*TRAIN, "--out", str(project), "--force")
    assert result.exit_code == 2 and len(result.output.strip().splitlines()) == 1
    assert "is not a tlkit run directory" in result.output
    assert (project / "notes.txt").read_text() == "keep me"
    run = tmp_path / "run"
    assert invoke(*TRAIN, "--out", str(run)).exit_code == 0
    assert invoke(*TRAIN, "--seed", "3", "--out", str(run), "--force").exit_code == 0
    monkeypatch.chdir(run)
    result = invoke(*TRAIN, "--out", ".", "--force")
    assert result.exit_code == 2 and "is or contains the current directory" in result.output
    assert (run / "manifest.json").is_file()


def test_analyze_out_never_overwrites_other_files(invoke, tmp_path):
    run = tmp_path / "run"
    assert invoke(*TRAIN, "--out", str(run)).exit_code == 0
    manifest = (run / "manifest.json").read_text()
    for target in (run / "manifest.json", tmp_path / "notes.txt", tmp_path):
        if target.name == "notes.txt":
            target.write_text("keep me")
        before = target.read_text() if target.is_file() else None
        result = invoke("analyze", str(run), "--out", str(target))
        assert result.exit_code == 2 and len(result.output.strip().splitlines()) == 1
        assert before is None or target.read_text() == before
    assert (run / "manifest.json").read_text() == manifest
    # an earlier results file may be replaced
    assert invoke("analyze", str(run), "--out", str(run / "results.nc")).exit_code == 0
    assert invoke("analyze", str(run), "--out", str(tmp_path / "r.nc")).exit_code == 0
    assert invoke("analyze", str(run), "--out", str(tmp_path / "r.nc")).exit_code == 0


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda m: m["config"]["target"]["params"].update(d=3), "the architecture needs"),
        (lambda m: m.update(fit="x"), "corrupted manifest"),
        (lambda m: m["fit"].update(stages=[{"x": 1}]), "corrupted manifest"),
        (lambda m: m.update(state_files="x"), "corrupted manifest"),
    ],
)
def test_altered_manifest_is_refused(invoke, tmp_path, edit, message):
    run = tmp_path / "run"
    assert invoke(*TRAIN, "--out", str(run)).exit_code == 0
    manifest = json.loads((run / "manifest.json").read_text())
    edit(manifest)
    (run / "manifest.json").write_text(json.dumps(manifest))
    result = invoke("analyze", str(run))
    assert result.exit_code == 2 and len(result.output.strip().splitlines()) == 1, result.output
    assert message in result.output


def test_out_of_memory_is_one_line(invoke, host, tmp_path):
    args = list(TRAIN)
    args[args.index("--n-test") + 1] = "999999999999"  # ~30 TB of test inputs
    # the test set is drawn when probing, after training: the trained network is kept
    with pytest.warns(UserWarning, match=f"the trained run is saved in {tmp_path / 'run'};"):
        result = invoke(*args, "--out", str(tmp_path / "run"))
    assert result.exit_code == 1
    assert result.output.strip().splitlines()[-1].startswith("error: out of memory (")
    assert load_run(tmp_path / "run", host).ok


def test_a_group_without_its_command_prints_its_help(invoke):
    result = invoke("new")
    assert "Commands:" in result.output and "target" in result.output
    assert not result.output.startswith("error:")


def test_a_bare_memory_error_is_one_line(host):
    from tlkit.cli import TlkitGroup

    group = TlkitGroup("tlkit")

    @group.command("boom")
    def boom() -> None:
        raise MemoryError()

    result = CliRunner().invoke(group, ["boom"], obj=host)
    assert result.exit_code == 1
    assert result.output.strip().startswith("error: out of memory (MemoryError)")


def test_a_bad_option_of_tlkit_itself_is_one_line(host):
    result = CliRunner().invoke(cli, ["--bogus"], obj=host)
    assert result.exit_code == 2
    assert result.output.strip() == "error: No such option '--bogus'. (see 'cli --help')"


def test_new_target_refuses_a_name_already_installed(invoke, tmp_path):
    result = invoke("new", "target", "linear", "--dir", str(tmp_path))
    assert result.exit_code == 2
    assert result.output.strip() == (
        "error: a target named 'linear' is already installed (plugin 'fake'); choose another name"
    )
    assert list(tmp_path.iterdir()) == []
    result = invoke("new", "target", "staircase", "--dir", str(tmp_path))
    assert result.exit_code == 0, result.output
    assert (tmp_path / "tlkit-staircase" / "pyproject.toml").is_file()


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("fake", "error: a plugin named 'fake' is already installed (in-process); choose"),
        # its package would be the distribution tlkit-nets: pip would replace the real one
        ("nets", "error: a distribution 'tlkit-nets' is already installed: installing the new"),
        ("mine", "error: a Python package 'tlkit_mine' already exists; choose another name"),
        ("import", "error: 'import' is a Python keyword and cannot name the package; choose"),
    ],
)
def test_new_target_refuses_names_its_package_would_clash_on(
    invoke, tmp_path, monkeypatch, name, message
):
    pytest.importorskip("tlkit_nets")
    (tmp_path / "site" / "tlkit_mine").mkdir(parents=True)
    (tmp_path / "site" / "tlkit_mine" / "__init__.py").write_text("")
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    out = tmp_path / "out"
    result = invoke("new", "target", name, "--dir", str(out))
    assert result.exit_code == 2
    assert result.output.strip().startswith(message), result.output
    assert not out.exists()


def test_train_sets_probe_parameters_like_analyze(invoke, tmp_path):
    for name, param in (("a", "mse.kind=plain"), ("b", "kind=plain"), ("c", None)):
        extra = ["-p", param] if param else []
        result = invoke(*TRAIN, "--probe", "mse", *extra, "--out", str(tmp_path / name))
        assert result.exit_code == 0, result.output
    long_names = [
        open_results(tmp_path / name / "results.nc")["mse_mse"].attrs["long_name"] for name in "abc"
    ]
    assert long_names == ["plain test MSE", "plain test MSE", "normalized test MSE"]
    manifest = json.loads((tmp_path / "a" / "manifest.json").read_text())
    assert manifest["config"]["probes"] == [{"name": "mse", "params": {"kind": "plain"}}]
    # a probe parameter without --probe NAME has nowhere to go
    result = invoke(*TRAIN, "-p", "mse.kind=plain", "--out", str(tmp_path / "d"))
    assert result.exit_code == 2
    assert "unknown component 'mse'" in result.output


def test_new_target_prints_a_pip_command_that_can_be_pasted(invoke, tmp_path):
    out = tmp_path / "sp ace dir"
    result = invoke("new", "target", "staircase", "--dir", str(out))
    assert result.exit_code == 0, result.output
    path = out / "tlkit-staircase"
    assert result.output.strip().endswith(f"install it with: pip install -e '{path}'")


def test_describe_without_a_name_lists_the_names(invoke):
    result = invoke("describe", "target")
    assert result.exit_code == 2
    assert result.output.strip() == "error: missing target NAME; available: linear"
    result = invoke("describe", "arch")
    assert result.exit_code == 2
    assert result.output.strip().startswith("error: missing architecture NAME; available: ")
    assert "linear-net" in result.output


def test_demo_takes_the_force_its_errors_suggest(invoke, tmp_path, monkeypatch):
    from tlkit.errors import TlkitError

    seen = {}

    def fake_sweep(spec, out, **options):  # the demo's sweep, without running it
        seen.update(options)
        raise TlkitError("stopped by the test")

    monkeypatch.setattr("tlkit.sweeps.sweep", fake_sweep)
    result = invoke("demo", "--small", "--quiet", "--out", str(tmp_path / "d"), "--force")
    assert result.output.strip() == "error: stopped by the test"
    assert seen["force"] is True
    invoke("demo", "--small", "--quiet", "--out", str(tmp_path / "d"))
    assert seen["force"] is False


def test_bare_keys_reach_the_trainer_and_a_named_probe(invoke, tmp_path):
    # bare keys go to the run's components and to named probes alike
    out = str(tmp_path / "r")
    result = invoke(*TRAIN, "-p", "ridge=0.5", "--probe", "mse", "-p", "kind=plain", "--out", out)
    assert result.exit_code == 0, result.output
    manifest = json.loads((tmp_path / "r" / "manifest.json").read_text())
    assert manifest["config"]["trainer"]["params"]["ridge"] == 0.5
    assert manifest["config"]["probes"] == [{"name": "mse", "params": {"kind": "plain"}}]


def test_printout_of_a_one_layer_matrix_keeps_its_values(capsys):
    """A two-layer network's CKA matrix is 1 x 1 (layer x layer_other): the printout
    names both layers and gives the number, as it does for a per-layer vector."""
    import numpy as np
    import xarray as xr
    from tlkit.cli import _print_results

    layers = {"layer": ["h1"], "layer_other": ["h1"]}
    ds = xr.Dataset(
        {
            "cka_linear": (("layer", "layer_other"), np.array([[0.75]])),
            "cka_null": (
                ("layer", "layer_other", "quantile"),
                np.array([[[0.1, 0.2, 0.3]]]),
            ),
            "r2": (("n_train", "layer"), np.array([[0.5]])),
        },
        coords={**layers, "quantile": [0.05, 0.5, 0.95], "n_train": [64]},
    )
    _print_results(ds)
    printed = capsys.readouterr().out.splitlines()
    lines = {line.split()[0]: line.split(None, 1)[1] for line in printed}
    assert lines["cka_linear"] == "layer=h1, layer_other=h1: 0.75"
    assert lines["cka_null"] == (
        "layer=h1, layer_other=h1: quantile=0.05: 0.1, quantile=0.5: 0.2, quantile=0.95: 0.3"
    )
    assert lines["r2"] == "layer=h1: 0.5"
