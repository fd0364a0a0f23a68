"""The plugin contract: registration, precedence, checks, entry points, the public API and its docs."""

from __future__ import annotations

import ast
import inspect
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

import advisor
from advisor import hookimpl, hookspecs
from advisor.api import Detector, LogReader, Task, protocol_members
from advisor.cli import cli
from advisor.errors import PluginError
from advisor.plugins import DEFAULT_PLUGINS, Registry, get_plugin_manager, get_registry, set_registry

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "advisor-plugin-pii"
EVERYTHING = ROOT / "tests" / "data" / "plugin_everything"
HOOKS = sorted(n for n in dir(hookspecs) if n.startswith("advisor_"))
DOCS = (ROOT / "docs" / "plugins.md").read_text()


def fake_dist(where: Path, name: str, module: str) -> Path:
    """A ``.dist-info`` folder with an ``advisor`` entry point, as pip would write it."""
    dist = where / f"{name.replace('-', '_')}-0.1.0.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.1.0\n")
    (dist / "entry_points.txt").write_text(f"[advisor]\n{name} = {module}\n")
    return where


# -- built-ins ---------------------------------------------------------------------------------------------


def test_builtins_registered_and_described_by_path(registry):
    rows = {r["name"]: r for r in registry.describe()}
    assert set(DEFAULT_PLUGINS) <= set(rows)
    assert rows["advisor_plugins.readers.lmeval"]["hooks"] == ["advisor_register_log_readers"]
    assert rows["advisor.cli.memory"]["hooks"] == ["advisor_register_commands"]
    assert rows["advisor_plugins.detectors"]["builtin"] is True
    paths = {r["path"] for r in rows.values()}
    assert paths == {"diagnose", "memory", "train", "train, bench", "bench"}
    for folder in ("diagnosis", "memory", "train", "bench"):  # the folders show the same four paths
        assert (ROOT / "advisor" / folder).is_dir()


def test_plugins_command_json(run):
    result = run("plugins", "--json")
    assert result.exit_code == 0
    rows = json.loads(result.stdout)
    assert {"advisor_plugins.rules", "advisor.cli.bench"} <= {r["name"] for r in rows}
    assert [r["path"] for r in rows][:1] == ["diagnose"]


def test_the_process_has_one_registry(monkeypatch):
    set_registry(None)
    assert get_registry() is get_registry()


def test_disable_plugins_env(monkeypatch):
    monkeypatch.setenv("ADVISOR_DISABLE_PLUGINS", "advisor_plugins.readers.promptfoo, advisor_plugins.tasks")
    registry = Registry(get_plugin_manager(load_entry_points=False))
    names = {r["name"] for r in registry.describe()}
    assert "advisor_plugins.readers.promptfoo" not in names and "advisor_plugins.tasks" not in names
    assert "promptfoo" not in registry.readers
    assert registry.warnings() == []


def test_blocking_the_essential_plugins_is_said(monkeypatch, tmp_path):
    monkeypatch.setenv("ADVISOR_DISABLE_PLUGINS", "advisor_plugins.rules")
    set_registry(Registry(get_plugin_manager(load_entry_points=False)))
    log = tmp_path / "log.jsonl"
    log.write_text(
        json.dumps({"prompt": "Capital of Velmora?", "output": "Oslo", "reference": "Tarn"}) + "\n"
    )
    result = CliRunner().invoke(cli, ["diagnose", str(log)])
    assert result.exit_code == 0
    assert (
        "warning: ADVISOR_DISABLE_PLUGINS blocks advisor_plugins.rules (the default rules)" in result.stderr
    )


# -- checks on what plugins register -----------------------------------------------------------------------


def test_duplicate_names_are_an_error_naming_both_plugins(registry, register_inline):
    class Clash:
        @hookimpl
        def advisor_register_log_readers(self, register):
            class R:
                name = "jsonl"
                priority = 1

                def sniff(self, path, head):
                    return False

                def read(self, path, ctx):
                    return iter(())

            register(R())

    register_inline(Clash(), name="clash")
    with pytest.raises(
        PluginError, match="plugins 'advisor_plugins.readers.generic' and 'clash' both register"
    ):
        _ = registry.readers


def test_a_bad_object_is_refused_naming_the_plugin_and_what_is_missing(registry, register_inline):
    class Bad:
        @hookimpl
        def advisor_register_log_readers(self, register):
            class HalfReader:
                name = "half"

            register(HalfReader())

    register_inline(Bad(), name="half-plugin")
    with pytest.raises(
        PluginError, match=r"plugin 'half-plugin' registered a log reader that lacks priority, sniff, read"
    ):
        _ = registry.readers


@pytest.mark.parametrize(
    "hook, attr, bad",
    [
        ("advisor_register_detectors", "detectors", object()),
        ("advisor_register_techniques", "techniques", type("NotATechnique", (), {"name": "x"})()),
        ("advisor_register_tasks", "tasks", type("NoPath", (), {"name": "t"})()),
        ("advisor_register_rules", "rule_sources", 42),
    ],
)
def test_every_registration_hook_checks_its_objects(registry, register_inline, hook, attr, bad):
    plugin = type("P", (), {hook: hookimpl(staticmethod(lambda register: register(bad)))})()
    register_inline(plugin, name="bad-plugin")
    with pytest.raises(PluginError, match="plugin 'bad-plugin' registered"):
        _ = getattr(registry, attr)


def test_an_exception_in_a_plugin_is_a_plugin_error(registry, register_inline):
    class Broken:
        @hookimpl
        def advisor_register_tasks(self, register):
            raise RuntimeError("tasks folder missing")

    register_inline(Broken(), name="broken")
    with pytest.raises(PluginError, match="plugin 'broken' failed in advisor_register_tasks: RuntimeError"):
        _ = registry.tasks


def test_a_broken_plugin_is_one_line_on_the_command_line(register_inline, pm, run):
    class Broken:
        @hookimpl
        def advisor_register_techniques(self, register):
            raise ImportError("No module named 'vllm'")

    register_inline(Broken(), name="broken")
    set_registry(Registry(pm))
    result = CliRunner().invoke(cli, ["techniques"])
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines() == [
        "error: plugin 'broken' failed in advisor_register_techniques: ImportError: No module named 'vllm'"
    ]


# -- installed through an entry point, as pip installs a plugin ---------------------------------------------


@pytest.fixture
def everything(tmp_path, monkeypatch):
    """The everything plugin, discovered through its entry point, loaded before the built-ins as pip's are."""
    monkeypatch.syspath_prepend(str(EVERYTHING))
    monkeypatch.syspath_prepend(str(fake_dist(tmp_path / "site", "advisor-everything", "advisor_everything")))
    registry = Registry(get_plugin_manager())
    set_registry(registry)
    registry.add_commands(cli)
    names = [name for name, _ in registry.pm.list_name_plugin()]
    assert names.index("advisor-everything") < names.index("advisor_plugins.rules")  # loaded first
    log = tmp_path / "log.tsv"
    log.write_text("Capital of Velmora?\tBREL IS THE CAPITAL\tTarn\nCapital of Oskov?\tBrel\tNarn\n")
    yield registry, log
    cli.commands.pop("everything-hello", None)


def _json(*args) -> dict | list:
    result = CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


#: each hook, and the test that registers a plugin through an entry point and sees it used
ENTRY_POINT_TESTS = {
    "advisor_register_log_readers": "test_entry_point_reader_and_detector",
    "advisor_register_detectors": "test_entry_point_reader_and_detector",
    "advisor_register_rules": "test_entry_point_rule_replaces_a_builtin_rule",
    "advisor_register_techniques": "test_entry_point_technique_and_task",
    "advisor_register_tasks": "test_entry_point_technique_and_task",
    "advisor_register_commands": "test_entry_point_command",
}


def test_every_hook_is_tested_through_an_entry_point():
    assert sorted(ENTRY_POINT_TESTS) == HOOKS
    for test in ENTRY_POINT_TESTS.values():
        assert callable(globals()[test])


def test_a_plugin_that_fails_to_import_is_named(tmp_path, monkeypatch):
    (tmp_path / "broken_plugin.py").write_text("import vllm_that_is_not_installed\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.syspath_prepend(str(fake_dist(tmp_path / "site", "advisor-broken", "broken_plugin")))
    with pytest.raises(
        PluginError, match="the installed plugin 'advisor-broken' failed to load: ModuleNotFound"
    ):
        get_plugin_manager()
    monkeypatch.setenv("ADVISOR_DISABLE_PLUGINS", "advisor-broken")
    assert get_plugin_manager().get_plugin("advisor-broken") is None  # the way out the message names


def test_entry_point_reader_and_detector(everything):
    _, log = everything
    report = _json("diagnose", log, "--json")
    assert report["summary"]["reader"] == "tsv-everything"
    assert [r["subtype"] for r in report["records"]][:1] == ["shouting"]


def test_entry_point_rule_replaces_a_builtin_rule(everything):
    _, log = everything
    recs = {r["technique"]: r for r in _json("diagnose", log, "--json")["recommendations"]}
    assert recs["prompting"]["rule"] == "ladder.prompting"
    assert recs["prompting"]["rationale"] == "Prompting, as the everything plugin words it."
    assert recs["tone-filter"]["rank"] == 1 and recs["tone-filter"]["kind"] == "prompting"


def test_entry_point_technique_and_task(everything):
    _, log = everything
    assert "echo-everything" in {t["name"] for t in _json("techniques", "--json")}
    assert "everything_task" in {t["name"] for t in _json("tasks", "--json")}
    tried = _json("diagnose", log, "--tried", "echo-everything,merge-linear,tone-filter", "--json")
    assert "tone-filter" not in {r["technique"] for r in tried["recommendations"]}


def test_entry_point_command(everything):
    result = CliRunner().invoke(cli, ["everything-hello"])
    assert result.stdout == "hello from the everything plugin\n"


def test_tried_accepts_every_registered_technique_and_suggests_on_a_typo(run, tmp_path):
    log = tmp_path / "log.jsonl"
    log.write_text(
        json.dumps({"prompt": "Capital of Velmora?", "output": "Oslo", "reference": "Tarn"}) + "\n"
    )
    assert run("diagnose", log, "--tried", "merge-linear,p-tuning", "--json").exit_code == 0
    result = CliRunner().invoke(cli, ["diagnose", str(log), "--tried", "merge-linaer"])
    assert result.exit_code == 2 and "did you mean 'merge-linear'" in result.stderr


def test_example_plugin_through_its_entry_point(tmp_path):
    """The example in examples/advisor-plugin-pii, in a fresh process, found through its entry point."""
    env = dict(os.environ)
    site = fake_dist(tmp_path, "advisor-plugin-pii", "advisor_pii")
    env["PYTHONPATH"] = os.pathsep.join([str(site), str(EXAMPLE), env.get("PYTHONPATH", "")])

    def advisor_cli(*args):
        return subprocess.run(
            [sys.executable, "-m", "advisor.cli", *map(str, args)],
            env=env,
            capture_output=True,
            text=True,
            cwd=ROOT,
        )

    listed = advisor_cli("plugins", "--json")
    assert listed.returncode == 0, listed.stderr
    pii = next(r for r in json.loads(listed.stdout) if r["name"] == "advisor-plugin-pii")
    assert pii["distribution"] == "advisor-plugin-pii 0.1.0"
    assert pii["hooks"] == ["advisor_register_detectors", "advisor_register_rules"]
    assert pii["path"] == "diagnose"

    demo = ROOT / "examples" / "pii-demo.jsonl"
    with_plugin = json.loads(advisor_cli("diagnose", demo, "--json").stdout)
    assert [r["subtype"] for r in with_plugin["records"][:3]] == ["pii-leak", "wrong-fact", "pii-leak"]
    assert with_plugin["recommendations"][0]["technique"] == "output-filter"
    assert with_plugin["recommendations"][0]["rationale"].startswith("2 outputs contain personal data")

    env["ADVISOR_DISABLE_PLUGINS"] = "advisor-plugin-pii"
    without = json.loads(advisor_cli("diagnose", demo, "--json").stdout)
    assert "pii-leak" not in [r["subtype"] for r in without["records"]]
    assert "output-filter" not in [r["technique"] for r in without["recommendations"]]


# -- the public API ----------------------------------------------------------------------------------------


def _builtin_plugin_files() -> list[Path]:
    files = sorted((ROOT / "plugins").rglob("*.py"))
    files += [ROOT / "advisor" / "cli" / "memory.py", ROOT / "advisor" / "cli" / "bench.py"]
    return files


def test_builtin_plugins_import_only_the_public_api():
    """The built-ins are written as a third-party plugin is: ``from advisor import NAME`` and nothing else."""
    offenders = []
    for path in _builtin_plugin_files():
        if path.parent.name in ("fictional_qa", "json_extract", "instruction_following"):
            continue  # lm-eval helpers of the task data, not plugin code
        if (
            path.parent.name == "cli"
        ):  # the built-in commands are core modules; they only register through the hook
            continue
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("advisor."):
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno} from {node.module} import ...")
            elif isinstance(node, ast.ImportFrom) and node.module == "advisor":
                offenders += [
                    f"{path.relative_to(ROOT)}:{node.lineno} {a.name} is not in advisor.__all__"
                    for a in node.names
                    if a.name not in advisor.__all__
                ]
            elif isinstance(node, ast.Import):
                offenders += [
                    f"{path.relative_to(ROOT)}:{node.lineno} import {a.name}"
                    for a in node.names
                    if a.name.startswith("advisor.")
                ]
    assert offenders == []


def test_every_public_name_exists():
    for name in advisor.__all__:
        assert getattr(advisor, name) is not None, name


# -- the docs match the contract ----------------------------------------------------------------------------


def _documented_signatures() -> dict[str, str]:
    return dict(re.findall(r"^### `(advisor_\w+)\((.*?)\)`", DOCS, re.M))


def test_every_hook_is_documented_with_its_signature():
    documented = _documented_signatures()
    assert sorted(documented) == HOOKS
    for name in HOOKS:
        params = ", ".join(inspect.signature(getattr(hookspecs, name)).parameters)
        assert documented[name] == params, name


def _table_members(hook: str) -> list[str]:
    """The member names in the first table of a hook's section of docs/plugins.md."""
    section = DOCS.split(f"### `{hook}(")[1].split("\n### ")[0]
    rows = re.findall(r"^\| `([A-Za-z_]+)", section, re.M)
    return rows


@pytest.mark.parametrize(
    "hook, protocol",
    [
        ("advisor_register_log_readers", LogReader),
        ("advisor_register_detectors", Detector),
        ("advisor_register_tasks", Task),
    ],
)
def test_protocol_members_match_the_docs_table(hook, protocol):
    assert _table_members(hook) == list(protocol_members(protocol))


def test_technique_members_in_the_docs_exist_on_the_base_class():
    members = _table_members("advisor_register_techniques")
    assert {"name", "kind", "requires", "memory_method", "apply"} <= set(members)
    for member in members:
        assert hasattr(advisor.Technique, member), member


def test_every_hook_has_a_docstring_saying_when_it_is_called():
    for name in HOOKS:
        doc = inspect.getdoc(getattr(hookspecs, name)) or ""
        assert re.search(r"Called once (per process|when)", doc), name
        assert len(doc) > 200, name


def test_hook_parameters_are_typed_with_the_protocols():
    hints = {name: inspect.signature(getattr(hookspecs, name)).parameters for name in HOOKS}
    assert "LogReader" in str(hints["advisor_register_log_readers"]["register"].annotation)
    assert "Detector" in str(hints["advisor_register_detectors"]["register"].annotation)
    assert "Task" in str(hints["advisor_register_tasks"]["register"].annotation)
    assert "Technique" in str(hints["advisor_register_techniques"]["register"].annotation)
    assert "RuleSource" in str(hints["advisor_register_rules"]["register"].annotation)
