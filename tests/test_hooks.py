"""Every hook is called by a test here (named test_hook_<hook>) and documented in docs/hooks.md."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import click
import pytest
import tlkit
from fakes import LinearTarget, fake_config
from tlkit import hookspecs
from tlkit.plugins import PluginHost

ROOT = Path(__file__).resolve().parents[1]


def hook_names():
    return sorted(
        n for n, f in inspect.getmembers(hookspecs, inspect.isfunction) if n.startswith("tlkit_")
    )


def test_docs_page_lists_exactly_the_hooks():
    text = (ROOT / "docs" / "hooks.md").read_text()
    documented = sorted(re.findall(r"^## `(tlkit_\w+)`", text, flags=re.M))
    assert documented == hook_names()
    for name in hook_names():
        signature = str(inspect.signature(getattr(hookspecs, name)))
        args = [
            a.split(":")[0].strip()
            for a in signature.strip("()").split(",")
            if a.split("->")[0].strip()
        ]
        section = text.split(f"## `{name}`", 1)[1].split("\n## ", 1)[0]
        for arg in args:
            if arg:
                assert f"`{arg}`" in section, f"docs/hooks.md: {name} does not document {arg!r}"


def test_every_hook_has_a_test():
    tests = {
        n
        for n, _ in inspect.getmembers(inspect.getmodule(test_every_hook_has_a_test))
        if n.startswith("test_hook_")
    }
    missing = [n for n in hook_names() if f"test_hook_{n}" not in tests]
    assert not missing, f"hooks without a test_hook_<name> test: {missing}"


def test_every_hook_is_typed_and_documented():
    for name in hook_names():
        fn = getattr(hookspecs, name)
        assert fn.__doc__ and "Args:" in fn.__doc__, name
        sig = inspect.signature(fn)
        assert all(p.annotation is not inspect.Parameter.empty for p in sig.parameters.values()), (
            name
        )


class Recorder:
    def __init__(self):
        self.events = []

    @tlkit.hookimpl
    def tlkit_run_started(self, config, run_dir):
        self.events.append(("started", config.n_train, run_dir))

    @tlkit.hookimpl
    def tlkit_stage_finished(self, stage, stage_index):
        self.events.append(("stage", stage.stage, stage_index))

    @tlkit.hookimpl
    def tlkit_run_finished(self, run, results):
        self.events.append(("finished", run.fit.status, results is not None))


def _record(host, tmp_path=None):
    rec = Recorder()
    host.add_plugin(rec, name="recorder")
    out = tmp_path / "run" if tmp_path else None
    tlkit.train(fake_config(), host=host, out=out)
    host.remove_plugin("recorder")
    return rec.events


def test_hook_tlkit_run_started(host, tmp_path):
    events = _record(host, tmp_path)
    assert events[0] == ("started", 64, tmp_path / "run")


def test_hook_tlkit_stage_finished(host):
    events = _record(host)
    assert [e for e in events if e[0] == "stage"] == [("stage", "fit", 0), ("stage", "check", 1)]


def test_hook_tlkit_run_finished(host):
    assert _record(host)[-1] == ("finished", "ok", True)


def _registered(host, kind):
    return host.ensure_registered().names(kind)


def test_hook_tlkit_register_targets(host):
    assert _registered(host, "target") == ["linear"]


def test_hook_tlkit_register_architectures(host):
    assert _registered(host, "architecture") == ["linear-net"]


def test_hook_tlkit_register_trainers(host):
    assert _registered(host, "trainer") == ["lstsq"]


def test_hook_tlkit_register_probes(host):
    assert _registered(host, "probe") == ["mse", "never"]


def test_hook_tlkit_register_commands():
    class CommandPlugin:
        @tlkit.hookimpl
        def tlkit_register_commands(self, cli):
            @cli.command("hello")
            def hello():
                click.echo("hi")

    host = PluginHost(load_entry_points=False)
    host.add_plugin(CommandPlugin(), name="cmds")
    group = click.Group("tlkit")
    host.register_commands(group)
    assert "hello" in group.commands
    assert host.plugins["cmds"].components["command"] == ["hello"]


def test_register_commands_failure_is_reported():
    class Broken:
        @tlkit.hookimpl
        def tlkit_register_commands(self, cli):
            raise RuntimeError("no commands today")

    host = PluginHost(load_entry_points=False, strict=False)
    host.add_plugin(Broken(), name="broken-cmds")
    host.register_commands(click.Group("tlkit"))
    assert "no commands today" in host.plugins["broken-cmds"].error


def test_a_plugin_command_never_replaces_an_existing_one():
    class Hijack:
        @tlkit.hookimpl
        def tlkit_register_commands(self, cli):
            @cli.command("train")
            def train():
                click.echo("HIJACKED")

            @cli.command("extra")
            def extra():
                click.echo("mine")

    builtin = click.Command("train", callback=lambda: None)
    group = click.Group("tlkit", commands={"train": builtin})
    host = PluginHost(load_entry_points=False, strict=False)
    host.add_plugin(Hijack(), name="hijack")
    with pytest.warns(UserWarning, match="command 'train' already exists; the first is kept"):
        host.register_commands(group)
    assert group.commands["train"] is builtin
    assert host.plugins["hijack"].components["command"] == ["extra"]
    assert host.plugins["hijack"].conflicts == ["command 'train' already exists (kept the first)"]


def test_a_command_hook_that_raises_withdraws_the_plugin(host):
    class HalfCommands:
        @tlkit.hookimpl
        def tlkit_register_targets(self, register):
            register("half-target", LinearTarget)

        @tlkit.hookimpl
        def tlkit_register_commands(self, cli):
            @cli.command("half")
            def half():
                pass

            raise RuntimeError("no more commands")

    host.add_plugin(HalfCommands(), name="half")
    registry = host.ensure_registered()
    assert "half-target" in registry.names("target")
    group = click.Group("tlkit")
    host.register_commands(group)
    assert "half" not in group.commands
    assert "half-target" not in registry.names("target")
    assert "no more commands" in registry.broken["half"]
    assert "no more commands" in host.plugins["half"].error


def test_an_observer_that_raises_is_one_line_naming_its_plugin(host, tmp_path):
    from tlkit.errors import ComponentError

    class BrokenLogger:
        @tlkit.hookimpl
        def tlkit_stage_finished(self, stage):
            raise OSError("log server\ndown")

    host.add_plugin(BrokenLogger(), name="logger")
    with pytest.raises(ComponentError) as err:
        tlkit.train(fake_config(), out=tmp_path / "run", host=host)
    assert str(err.value) == (
        "plugin 'logger': its tlkit_stage_finished hook raised OSError: log server down"
    )
    assert isinstance(err.value.__cause__, OSError)
    assert not (tmp_path / "run").exists()


class NoParameters:
    """A factory class without an __init__ of its own: nothing to warn about."""


def test_a_class_factory_without_init_is_not_warned_about():
    class Plain:
        @tlkit.hookimpl
        def tlkit_register_probes(self, register):
            register("plain", NoParameters)

    host = PluginHost(load_entry_points=False, strict=False)
    host.add_plugin(Plain(), name="plain-plugin")
    host.ensure_registered()  # warnings are errors in the tests
    assert "plain" in host.registry.names("probe")


@pytest.mark.parametrize(
    ("factory", "message"),
    [
        (lambda d=8, seed=0: None, "parameter 'd' of its factory has no type annotation"),
        (lambda seed=0, **kw: None, "its factory takes **kwargs"),
    ],
)
def test_a_factory_that_breaks_the_parameter_rules_is_warned_about(factory, message):
    class Loose:
        @tlkit.hookimpl
        def tlkit_register_targets(self, register):
            register("loose", factory)

    host = PluginHost(load_entry_points=False, strict=False)
    host.add_plugin(Loose(), name="loose-plugin")
    expected = re.escape(f"plugin 'loose-plugin': target 'loose': {message}")
    with pytest.warns(UserWarning, match=expected):
        host.ensure_registered()
    assert "loose" in host.registry.names("target")  # it still works
