from __future__ import annotations

import inspect
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from advisor import hookspecs
from advisor.errors import PluginError
from advisor.plugins import DEFAULT_PLUGINS, collect, describe, get_plugin_manager

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "advisor-plugin-pii"
HOOKS = sorted(n for n in dir(hookspecs) if n.startswith("advisor_"))


def test_builtins_registered_and_described(pm):
    rows = {r["name"]: r for r in describe(pm)}
    assert set(DEFAULT_PLUGINS) <= set(rows)
    assert rows["advisor_plugins.readers.lmeval"]["hooks"] == ["advisor_register_log_readers"]
    assert rows["advisor_plugins.detectors.detectors"]["builtin"] is True


def test_plugins_command_json(run):
    result = run("plugins", "--json")
    assert result.exit_code == 0
    names = {r["name"] for r in json.loads(result.stdout)}
    assert "advisor_plugins.rules" in names


def test_disable_plugins_env(monkeypatch):
    monkeypatch.setenv("ADVISOR_DISABLE_PLUGINS", "advisor_plugins.readers.promptfoo, advisor_plugins.tasks")
    pm = get_plugin_manager(load_entry_points=False)
    names = {r["name"] for r in describe(pm)}
    assert "advisor_plugins.readers.promptfoo" not in names and "advisor_plugins.tasks" not in names
    assert "promptfoo" not in collect(pm.hook.advisor_register_log_readers, "log reader")


def test_duplicate_names_are_an_error(pm, register_inline):
    from advisor import hookimpl

    class Clash:
        @hookimpl
        def advisor_register_log_readers(self, register):
            class R:
                name = "jsonl"

            register(R())

    register_inline(Clash())
    with pytest.raises(PluginError, match="two plugins register a log reader named 'jsonl'"):
        collect(pm.hook.advisor_register_log_readers, "log reader")


def test_command_hook_adds_a_cli_command(pm, register_inline):
    import click
    from click.testing import CliRunner

    from advisor import hookimpl
    from advisor.cli import cli

    class Cmd:
        @hookimpl
        def advisor_register_commands(self, cli):
            @cli.command(name="hello-test")
            def hello():
                click.echo("hello from a plugin")

    register_inline(Cmd())
    pm.hook.advisor_register_commands(cli=cli)
    try:
        assert CliRunner().invoke(cli, ["hello-test"]).stdout == "hello from a plugin\n"
    finally:
        cli.commands.pop("hello-test", None)


def _fake_install(tmp_path: Path) -> dict[str, str]:
    """Make the example plugin discoverable through a .dist-info, like pip would, without pip."""
    dist = tmp_path / "advisor_plugin_pii-0.1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: advisor-plugin-pii\nVersion: 0.1.0\n")
    (dist / "entry_points.txt").write_text("[advisor]\npii = advisor_pii\n")
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(tmp_path), str(EXAMPLE), env.get("PYTHONPATH", "")])
    return env


def _advisor(env, *args):
    return subprocess.run(
        [sys.executable, "-m", "advisor.cli", *map(str, args)],
        env=env,
        capture_output=True,
        text=True,
        cwd=ROOT,
    )


def test_example_plugin_through_its_entry_point(tmp_path):
    env = _fake_install(tmp_path)
    listed = _advisor(env, "plugins", "--json")
    assert listed.returncode == 0, listed.stderr
    pii = next(r for r in json.loads(listed.stdout) if r["name"] == "pii")
    assert pii["distribution"] == "advisor-plugin-pii 0.1.0"
    assert pii["hooks"] == ["advisor_register_detectors", "advisor_register_rules"]

    demo = ROOT / "examples" / "pii-demo.jsonl"
    with_plugin = json.loads(_advisor(env, "diagnose", demo, "--json").stdout)
    assert [r["subtype"] for r in with_plugin["records"][:3]] == ["pii-leak", "wrong-fact", "pii-leak"]
    assert with_plugin["recommendations"][0]["technique"] == "output-filter"
    assert with_plugin["recommendations"][0]["rationale"].startswith("2 outputs contain personal data")

    env["ADVISOR_DISABLE_PLUGINS"] = "pii"
    without = json.loads(_advisor(env, "diagnose", demo, "--json").stdout)
    assert "pii-leak" not in [r["subtype"] for r in without["records"]]
    assert "output-filter" not in [r["technique"] for r in without["recommendations"]]


def _documented_signatures() -> dict[str, str]:
    text = (ROOT / "docs" / "plugins.md").read_text()
    return dict(re.findall(r"^### `(advisor_\w+)\((.*?)\)`", text, re.M))


def test_every_hook_is_documented_with_its_signature():
    documented = _documented_signatures()
    assert sorted(documented) == HOOKS
    for name in HOOKS:
        params = ", ".join(inspect.signature(getattr(hookspecs, name)).parameters)
        assert documented[name] == params, name


def test_every_hook_has_a_docstring():
    for name in HOOKS:
        doc = inspect.getdoc(getattr(hookspecs, name)) or ""
        assert "Called" in doc and len(doc) > 120, name
