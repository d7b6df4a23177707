"""Plugin loading through real entry points (a distribution on sys.path)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest
from tlkit.errors import PluginError, UnknownComponentError
from tlkit.plugins import PluginHost

GOOD = """
import tlkit

class Target:
    def __init__(self, *, d: int = 2, seed: int = 0):
        self.d = d
        self.params = {"d": d, "seed": seed}

@tlkit.hookimpl
def tlkit_register_targets(register):
    register("ep-target", Target, description="from an entry point")
"""

BROKEN_IMPORT = "raise RuntimeError('this plugin is broken on purpose')\n"

BROKEN_REGISTER = """
import tlkit

@tlkit.hookimpl
def tlkit_register_targets(register):
    register("half-registered", lambda seed=0: None)
    raise ValueError("registration exploded")
"""

MISSPELLED = """
import tlkit

@tlkit.hookimpl
def tlkit_register_targetz(register):
    pass
"""


def make_distribution(site, dist, module, source, ep_name=None):
    """A minimal installed distribution: dist-info with an entry point, plus a module."""
    info = site / f"{dist}-0.3.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 0.3\n")
    (info / "entry_points.txt").write_text(f"[tlkit]\n{ep_name or dist} = {module}\n")
    (site / f"{module}.py").write_text(textwrap.dedent(source))


@pytest.fixture
def site(tmp_path, monkeypatch):
    site = tmp_path / "site"
    site.mkdir()
    make_distribution(site, "good-plugin", "good_plugin_mod", GOOD, "good")
    make_distribution(site, "broken-plugin", "broken_plugin_mod", BROKEN_IMPORT, "broken")
    make_distribution(site, "bad-register", "bad_register_mod", BROKEN_REGISTER, "badreg")
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.delenv("TLKIT_LOAD_PLUGINS", raising=False)
    monkeypatch.delenv("TLKIT_DISABLE_PLUGINS", raising=False)
    monkeypatch.delenv("TLKIT_STRICT_PLUGINS", raising=False)
    return site


def test_entry_points_load_and_broken_ones_are_reported(site):
    host = PluginHost(strict=False)
    registry = host.ensure_registered()
    assert "ep-target" in registry.names("target")
    good = host.plugins["good"]
    assert good.error is None and good.version == "0.3" and good.distribution == "good-plugin"
    assert good.components["target"] == ["ep-target"]
    assert host.plugins["broken"].error == "RuntimeError: this plugin is broken on purpose"
    assert "registration exploded" in host.plugins["badreg"].error
    # what the failing plugin registered before raising is withdrawn
    assert "half-registered" not in registry.names("target")


def test_strict_mode_makes_a_broken_plugin_fatal(site, monkeypatch):
    monkeypatch.setenv("TLKIT_STRICT_PLUGINS", "1")
    with pytest.raises(PluginError, match="plugin 'broken' failed to load: RuntimeError"):
        PluginHost().ensure_registered()


def test_allow_list(site, monkeypatch):
    monkeypatch.setenv("TLKIT_LOAD_PLUGINS", "good")
    host = PluginHost(strict=False)
    assert set(host.plugins) == {"good"}


def test_allow_list_names_missing_plugin(site, monkeypatch):
    monkeypatch.setenv("TLKIT_LOAD_PLUGINS", "good,nonexistent")
    host = PluginHost(strict=False)
    assert "not installed" in host.plugins["nonexistent"].error
    with pytest.raises(
        UnknownComponentError, match=r"plugins not loaded: nonexistent: .*not installed"
    ):
        host.ensure_registered().get("target", "missing")


def test_deny_list(site, monkeypatch):
    monkeypatch.setenv("TLKIT_DISABLE_PLUGINS", "broken,badreg")
    host = PluginHost(strict=False)
    assert "broken" not in host.plugins and "badreg" not in host.plugins
    assert "good" in host.plugins


def test_misspelled_hook_is_a_reported_error(tmp_path, monkeypatch):
    site = tmp_path / "site2"
    site.mkdir()
    make_distribution(site, "typo-plugin", "typo_plugin_mod", MISSPELLED, "typo")
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.setenv("TLKIT_LOAD_PLUGINS", "typo")
    host = PluginHost(strict=False)
    assert "tlkit_register_targetz" in host.plugins["typo"].error
    assert not host.pm.has_plugin("typo")


CLASHING = """
import tlkit

class Target:
    def __init__(self, *, d: int = 2, seed: int = 0):
        self.d = d

@tlkit.hookimpl
def tlkit_register_targets(register):
    register("quadratic-feature", Target, description="same name as a built-in target")
    register("clash-only", Target, description="a name of its own")
"""


def test_a_name_clash_keeps_the_built_in_and_drops_only_the_newcomers_component(site, monkeypatch):
    pytest.importorskip("tlkit_targets")
    # entry points load by name, and "aaa" sorts before the built-in "targets"
    make_distribution(site, "clash-plugin", "clash_plugin_mod", CLASHING, "aaa-clash")
    host = PluginHost(strict=False)
    with pytest.warns(UserWarning, match="'quadratic-feature' registered twice"):
        registry = host.ensure_registered()
    assert registry.get("target", "quadratic-feature").plugin == "targets"
    assert host.plugins["targets"].error is None
    assert "single-index" in registry.names("target")  # the built-in plugin is whole
    clash = host.plugins["aaa-clash"]
    assert clash.error is None and registry.get("target", "clash-only").plugin == "aaa-clash"
    assert clash.conflicts == [
        "target 'quadratic-feature' registered twice: by plugin 'targets' and by plugin "
        "'aaa-clash' (kept the first)"
    ]
    monkeypatch.setenv("TLKIT_STRICT_PLUGINS", "1")
    monkeypatch.setenv("TLKIT_DISABLE_PLUGINS", "broken,badreg")
    with pytest.raises(PluginError, match="'quadratic-feature' registered twice"):
        PluginHost().ensure_registered()


def test_a_second_distribution_with_a_built_in_entry_point_name_is_the_one_refused(
    site, monkeypatch
):
    pytest.importorskip("tlkit_targets")
    # its entry point is called "targets", like tlkit-targets'; pluggy can hold only one
    make_distribution(site, "aaa-copycat", "copycat_plugin_mod", CLASHING, "targets")
    host = PluginHost(strict=False)
    registry = host.ensure_registered()
    assert host.plugins["targets"].error is None
    assert host.plugins["targets"].distribution == "tlkit-targets"
    assert registry.get("target", "quadratic-feature").plugin == "targets"
    assert "single-index" in registry.names("target")  # the built-in plugin is whole
    copycat = host.plugins["targets (aaa-copycat)"]
    assert copycat.error == (
        "PluginError: entry-point name 'targets' is already used by distribution "
        "'tlkit-targets'; rename the entry point under [project.entry-points.tlkit] in "
        "'aaa-copycat''s pyproject.toml"
    )
    assert "clash-only" not in registry.names("target")
    monkeypatch.setenv("TLKIT_STRICT_PLUGINS", "1")
    monkeypatch.setenv("TLKIT_DISABLE_PLUGINS", "broken,badreg")
    with pytest.raises(PluginError, match="entry-point name 'targets' is already used"):
        PluginHost()


BAD_SIGNATURE = """
import tlkit

@tlkit.hookimpl
def tlkit_register_targets(reg):
    pass
"""


def test_a_bad_hook_signature_is_reported_with_pluggys_reason(tmp_path, monkeypatch):
    site = tmp_path / "site3"
    site.mkdir()
    make_distribution(site, "sig-plugin", "sig_plugin_mod", BAD_SIGNATURE, "sig")
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.setenv("TLKIT_LOAD_PLUGINS", "sig")
    error = PluginHost(strict=False).plugins["sig"].error
    # pluggy says what is wrong on the lines after its first: all of it, on one line
    assert "\n" not in error and "{'reg'}" in error and "tlkit_register_targets" in error


def test_every_command_warns_about_a_plugin_that_did_not_load(site):
    env = {**os.environ, "PYTHONPATH": str(site), "TLKIT_LOAD_PLUGINS": "good,broken"}
    run = subprocess.run(
        [sys.executable, "-m", "tlkit", "describe", "target", "ep-target"],
        capture_output=True,
        text=True,
        env=env,
    )
    assert run.returncode == 0, run.stderr
    assert run.stderr.splitlines() == [
        "warning: plugin 'broken' not loaded: RuntimeError: this plugin is broken on purpose "
        "(see 'tlkit plugins')"
    ]
    # `tlkit plugins` shows it in its table instead
    listing = subprocess.run(
        [sys.executable, "-m", "tlkit", "plugins"], capture_output=True, text=True, env=env
    )
    assert "warning" not in listing.stderr and "broken on purpose" in listing.stdout
