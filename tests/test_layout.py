"""The installed layout: package data, catalog commands, deprecated import paths, the extras split."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
import tomllib
import warnings
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_examples_lists_the_bundled_log_inside_the_package(run):
    listed = json.loads(run("examples", "--json").stdout)
    folder = Path(listed["lm-eval-smollm2"])
    assert folder.is_relative_to(ROOT / "advisor")  # package data, not a checkout-only folder
    assert run("examples", "lm-eval-smollm2").stdout.strip() == str(folder)
    report = json.loads(run("diagnose", folder, "--json").stdout)
    assert report["summary"]["reader"] == "lm-eval" and report["recommendations"]


def test_a_log_with_several_tasks_gets_a_plan_per_task(run):
    """A factual task and a format task get different first steps (the quick suite measured why)."""
    folder = run("examples", "lm-eval-smollm2").stdout.strip()
    report = json.loads(run("diagnose", folder, "--params", "135M", "--json").stdout)
    plans = report["plans"]
    assert set(plans) == {"fictional_qa", "json_extract", "instruction_following"}

    def first_beyond_prompting(task):
        return next(r for r in plans[task] if r["kind"] != "prompting")

    assert first_beyond_prompting("fictional_qa")["technique"] == "bm25-rag"
    assert first_beyond_prompting("json_extract")["kind"] == "peft"
    assert "Plan per task" in run("diagnose", folder).stdout


def test_a_single_task_log_has_no_separate_plan(run, tmp_path):
    log = tmp_path / "log.jsonl"
    log.write_text(
        json.dumps({"prompt": "Capital of Velmora?", "output": "Oslo", "reference": "Tarn"}) + "\n"
    )
    report = json.loads(run("diagnose", log, "--json").stdout)
    assert report["plans"] == {} and report["recommendations"]


def test_examples_unknown_name_suggests(tmp_path):
    from click.testing import CliRunner

    from advisor.cli import cli

    result = CliRunner().invoke(cli, ["examples", "lm-eval-smolm2"])
    assert result.exit_code == 2 and "did you mean 'lm-eval-smollm2'" in result.stderr


def test_tasks_command_lists_registered_tasks_with_their_data(run):
    rows = {r["name"]: r for r in json.loads(run("tasks", "--json").stdout)}
    assert set(rows) == {"fictional_qa", "json_extract", "instruction_following"}
    for row in rows.values():
        assert (Path(row["path"]) / "task.yaml.in").is_file()
    assert Path(rows["fictional_qa"]["corpus"]).is_dir()


def test_help_shows_the_four_paths_and_registered_names(run):
    top = run("--help").stdout
    for path in ("diagnose", "memory", "train", "try", "bench"):
        assert f"\n  {path} " in top
    words = " ".join(run("run", "--help").stdout.split())
    assert "see docs/try.md. Registered: fictional_qa, json_extract, instruction_following." in words


def test_bundled_suites_and_rules_are_package_data():
    from importlib.resources import files

    suites = {p.name for p in (files("advisor.bench") / "suites").iterdir()}
    assert {"smoke.toml", "quick.toml", "nightly.toml"} <= suites
    assert (files("advisor_plugins.rules") / "default.toml").is_file()


def test_pyproject_ships_the_package_data_and_splits_the_extras():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    core = " ".join(project["project"]["dependencies"])
    for heavy in ("torch", "transformers", "sqlalchemy", "matplotlib", "scipy", "alembic"):
        assert heavy not in core, heavy
    extras = project["project"]["optional-dependencies"]
    assert {"train", "bench", "all"} <= set(extras)
    data = project["tool"]["setuptools"]["package-data"]
    assert "*.toml" in data["advisor.bench.suites"]
    for task in ("fictional_qa", "json_extract", "instruction_following"):
        assert "task.yaml.in" in data[f"advisor_plugins.tasks.{task}"]


@pytest.mark.parametrize(
    ("old", "name"), [("advisor.technique", "Technique"), ("advisor.training", "TrainConfig")]
)
def test_old_import_paths_still_work_with_a_deprecation_warning(old, name):
    sys.modules.pop(old, None)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        module = importlib.import_module(old)
    assert getattr(module, name) is getattr(importlib.import_module("advisor"), name)
    assert any(issubclass(w.category, DeprecationWarning) for w in caught)


def test_diagnosing_a_log_does_not_import_torch(tmp_path):
    log = tmp_path / "log.jsonl"
    log.write_text(json.dumps({"prompt": "2+2?", "output": "5", "reference": "4"}) + "\n")
    code = "\n".join(
        [
            "import sys",
            "from advisor.cli import main",
            "sys.argv = ['advisor', 'diagnose', sys.argv[1], '--json']",
            "try:",
            "    main()",
            "except SystemExit:",
            "    pass",
            "assert 'torch' not in sys.modules, 'torch was imported'",
        ]
    )
    proc = subprocess.run([sys.executable, "-c", code, str(log)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
