"""Suites, the isolated cell runner, resume after kill -9, shards and `advisor bench run` (a fake cell)."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

import advisor.bench.runner as runner
from advisor.bench.store.engine import Store, now
from advisor.bench.suite import Cell, load_suite, parse_shard, parse_suite, shard
from advisor.cli.bench import bench
from advisor.errors import InputError, UsageError

FAKE_CELL = Path(__file__).with_name("bench_fake_cell.py")
REAL_CELL_COMMAND = runner.cell_command

SUITE = """
name = "mini"
models = ["smollm2-135m-instruct"]
tasks = ["json_extract", "fictional_qa"]
seeds = [0]
time_limit_s = 20
train_limit = 8
eval_limit = 4

[techniques.prompting]
[techniques.bm25-rag]
[techniques.lora]
settings = { r = 8 }
"""

TROUBLE = (
    SUITE
    + """
[techniques.full-ft]
tasks = ["json_extract"]
settings = { mode = "crash" }

[techniques.ia3]
tasks = ["json_extract"]
time_limit_s = 1
settings = { mode = "sleep", sleep_s = 60 }

[techniques.qlora]
tasks = ["json_extract"]
settings = { mode = "skip" }

[techniques.bitfit]
tasks = ["json_extract"]
settings = { mode = "selfkill" }

[techniques.prompt-tuning]
tasks = ["json_extract"]
settings = { mode = "exit3" }

[techniques.prefix-tuning]
tasks = ["json_extract"]
settings = { mode = "garbage" }
"""
)


def fake_command(cell: Cell) -> list[str]:
    return [sys.executable, str(FAKE_CELL), "run", *runner.cell_args(cell)]


@pytest.fixture(autouse=True)
def _isolated(tmp_path, monkeypatch):
    """Never the user's results.db; every cell is the fake cell program."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ADVISOR_DB", f"sqlite:///{tmp_path / 'bench.db'}")
    monkeypatch.setattr(runner, "cell_command", fake_command)
    # The fake cell takes settings no real technique has (mode=crash...): skip the settings check.
    monkeypatch.setattr("advisor.train.technique.Technique.settings", lambda self, overrides: dict(overrides))
    for var in ("FAKE_CELL_DEGRADE", "FAKE_CELL_SLOWER", "FAKE_CELL_SLEEP", "FAKE_CELL_LOG"):
        monkeypatch.delenv(var, raising=False)


def write(tmp_path: Path, text: str, name: str = "suite.toml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def invoke(*args):
    return CliRunner().invoke(bench, [str(a) for a in args], catch_exceptions=False)


def run_json(*args) -> dict:
    result = invoke("run", *args, "--quiet", "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


# -- suites --------------------------------------------------------------------------------------------------


def test_suite_expands_the_matrix_with_overrides(tmp_path):
    suite = load_suite(write(tmp_path, TROUBLE))
    assert suite.name == "mini" and len(suite.cells) == 12
    lora = next(c for c in suite.cells if c.technique == "lora")
    assert lora.settings == {"train_limit": 8, "eval_limit": 4, "r": 8} and lora.time_limit_s == 20
    ia3 = next(c for c in suite.cells if c.technique == "ia3")
    assert ia3.time_limit_s == 1 and ia3.task == "json_extract"


def test_config_hash_is_stable_and_covers_only_the_configuration():
    a = Cell(model="m", task="t", technique="lora", seed=0, settings={"r": 8, "lr": 0.1}, time_limit_s=5)
    b = Cell(
        model="m",
        task="t",
        technique="lora",
        seed=0,
        settings={"lr": 0.1, "r": 8},
        time_limit_s=99,
        model_path="/elsewhere",
        gpus=4,
    )
    assert a.config_hash == b.config_hash and len(a.config_hash) == 64
    assert (
        a.config_hash != Cell(model="m", task="t", technique="lora", seed=1, settings=a.settings).config_hash
    )
    assert (
        a.config_hash != Cell(model="m", task="t", technique="lora", seed=0, settings={"r": 16}).config_hash
    )


@pytest.mark.parametrize(
    "text, message",
    [
        ("models = [", "not valid TOML"),
        (
            'models = ["m"]\ntasks = ["json_extract"]\n[techniques.lora]\nsettngs = {}',
            "did you mean 'settings'",
        ),
        (
            'models = ["m"]\ntasks = ["json_extract"]\n[techniques.lorra]',
            "unknown technique 'lorra'; did you mean 'lora'",
        ),
        ('tasks = ["json_extract"]\n[techniques.lora]', "'models' is required"),
        ('models = ["m"]\ntasks = ["json_extract"]', "at least one"),
        ('models = ["m"]\ntasks = ["json_extrct"]\n[techniques.lora]', "did you mean 'json_extract'"),
        ('models = ["m"]\ntasks = ["json_extract"]\ntime_limit_s = -1\n[techniques.lora]', "positive number"),
    ],
)
def test_bad_suites_are_input_errors(tmp_path, text, message):
    with pytest.raises(InputError, match=message):
        load_suite(write(tmp_path, text))


def test_a_suite_can_name_user_data_as_a_task(tmp_path):
    data = tmp_path / "my_data.jsonl"
    data.write_text('{"question": "q", "answer": "a"}\n')
    suite = write(tmp_path, f'models = ["m"]\ntasks = ["{data}"]\n[techniques.lora]\n')
    [cell] = load_suite(suite, known_tasks={"json_extract"}).cells
    assert cell.task == str(data)
    assert runner.cell_args(cell)[runner.cell_args(cell).index("--task") + 1] == str(data)


def test_bundled_suites_load():
    sizes = {
        name: len(load_suite(name).cells) for name in ("smoke", "quick", "nightly")
    }  # every-technique: tests/test_suite_settings.py
    assert sizes["smoke"] < sizes["quick"] < sizes["nightly"]
    quick = {c.technique for c in load_suite("quick").cells}
    assert {
        "prompting",
        "few-shot",
        "bm25-rag",
        "embedding-rag",
        "lora",
        "ia3",
        "prompt-tuning",
        "full-ft",
    } <= quick
    with pytest.raises(UsageError, match="did you mean 'smoke'"):
        load_suite("smok")


def test_shards_split_deterministically_and_completely(tmp_path):
    cells = load_suite(write(tmp_path, TROUBLE)).cells
    parts = [shard(cells, (i, 3)) for i in (1, 2, 3)]
    assert sorted(c.config_hash for p in parts for c in p) == sorted(c.config_hash for c in cells)
    assert [len(p) for p in parts] == [4, 4, 4]
    assert shard(cells, (2, 3)) == parts[1]
    assert parse_shard("2/3") == (2, 3) and parse_shard(None) is None
    for bad in ("0/3", "4/3", "x", "1/0", "1-2"):
        with pytest.raises(UsageError, match="shard"):
            parse_shard(bad)


# -- cell commands and outcomes ------------------------------------------------------------------------------


def test_cell_command_follows_the_contract():
    cell = Cell(
        model="smollm2-135m-instruct",
        task="json_extract",
        technique="lora",
        seed=2,
        settings={"train_limit": 8, "r": 8, "fused": True, "modules": ["q", "v"], "name": "x"},
    )
    command = REAL_CELL_COMMAND(cell)
    assert command[command.index("run") + 1 :] == [
        "--technique",
        "lora",
        "--task",
        "json_extract",
        "--model",
        "smollm2-135m-instruct",
        "--seed",
        "2",
        "--set",
        "fused=true",
        "--set",
        "modules=q,v",  # a comma list: what `--set` parses for list and comma-string settings (targets)
        "--set",
        "name=x",
        "--set",
        "r=8",
        "--train-limit",
        "8",
        "--json",
    ]
    multi = REAL_CELL_COMMAND(
        Cell(model="m", task="t", technique="full-ft", seed=0, model_path="/models/8b", gpus=4)
    )
    assert Path(multi[0]).name == "accelerate" and multi[1:4] == ["launch", "--num_processes", "4"]
    assert multi[multi.index("--model") + 1] == "/models/8b"


@pytest.mark.parametrize(
    "rc, stdout, stderr, status, error",
    [
        (-9, "", "", "killed", "killed by SIGKILL (out of memory?)"),
        (137, "", "", "killed", "killed by SIGKILL"),
        (-15, "", "", "killed", "killed by SIGTERM"),
        (
            2,
            "",
            "Traceback...\nValueError: bad model\n",
            "failed",
            "exit code 2: Traceback...\nValueError: bad model",
        ),
        (0, "hello\n", "", "failed", "no JSON result"),
        (0, '{"status": "weird"}', "", "failed", "status 'weird'"),
        (0, 'log line\n{"status": "skipped", "reason": "needs CUDA"}\n', "", "skipped", "needs CUDA"),
    ],
)
def test_outcomes(rc, stdout, stderr, status, error):
    out = runner.interpret(rc, stdout, stderr, started=now(), ended=now())
    assert out.status.value == status and error in out.error


def test_per_document_scores_are_kept_when_they_can_be_stored():
    result = {
        "status": "ok",
        "metrics": {"quality_after": 0.5},
        "documents": {
            "before": {"0": 0.0, "1": 1, "2": True, "3": "1.0", "4": float("nan"), "5": None},
            "after": {7: 1.0, "x" * 300: 0.25, "8": float("inf")},
            "during": {"0": 1.0},
        },
    }
    out = runner.interpret(0, json.dumps(result), "", started=now(), ended=now())
    assert out.documents == {"before": {"0": 0.0, "1": 1.0}, "after": {"7": 1.0, "x" * 200: 0.25}}
    for documents in (None, [], "x", {"after": []}, {"before": {}}):
        old = runner.interpret(
            0, json.dumps({**result, "documents": documents}), "", started=now(), ended=now()
        )
        assert old.status.value == "ok" and old.documents == {}
    without = {k: v for k, v in result.items() if k != "documents"}  # cells from before the key
    assert runner.interpret(0, json.dumps(without), "", started=now(), ended=now()).documents == {}


def test_a_suite_with_failing_cells_records_each_and_finishes(tmp_path):
    summary = run_json(write(tmp_path, TROUBLE))
    assert summary["cells"] == 12
    assert summary["counts"] == {"ok": 6, "failed": 3, "timeout": 1, "skipped": 1, "killed": 1}
    with Store() as store:
        cells = {c.technique: c for c in store.cells(summary["run_id"])}
        run = store.run(summary["run_id"])
    assert run.ended_at is not None and run.host and "python" in run.packages
    assert "RuntimeError: full-ft blew up on purpose" in cells["full-ft"].error
    assert cells["ia3"].status == "timeout" and "time limit of 1 s" in cells["ia3"].error
    assert cells["ia3"].duration_s < 15  # the sleeping cell was killed, not waited for
    assert cells["qlora"].status == "skipped" and cells["qlora"].error == "needs CUDA"
    assert cells["bitfit"].status == "killed"
    assert cells["prompt-tuning"].error.endswith("error: no such model")
    assert cells["lora"].metrics["trainable_params"] == 460_800 and cells["lora"].kind == "peft"
    assert cells["lora"].quality_metric == "exact_match,flexible-extract"
    assert "train_time_s" not in cells["prompting"].metrics  # null metrics are not stored
    with Store() as store:
        documents = store.documents(summary["run_id"])
        store_cells = store.cells(summary["run_id"])
    [lora_json] = [c for c in store_cells if c.technique == "lora" and c.task == "json_extract"]
    lora = documents[lora_json.config_hash]
    assert set(lora) == {"before", "after"} and len(lora["after"]) == 30
    assert sum(lora["before"].values()) == 6 and sum(lora["after"].values()) == 20  # 0.20 and 0.65 of 30
    assert cells["qlora"].config_hash not in documents  # skipped: no documents
    assert cells["full-ft"].config_hash not in documents  # crashed


def test_twice_then_compare_then_a_degraded_metric_fails(tmp_path, monkeypatch):
    suite = write(tmp_path, SUITE)
    run_json(suite)
    run_json(suite)
    same = invoke("compare")
    assert same.exit_code == 0, same.output
    monkeypatch.setenv("FAKE_CELL_DEGRADE", "lora:json_extract:0.3")
    run_json(suite)
    worse = invoke("compare", "--json")
    assert worse.exit_code == 1
    assert (
        "regression: lora on json_extract (smollm2-135m-instruct): quality_after 0.650 -> 0.350"
        in worse.stderr
    )
    assert "McNemar p=" in worse.stderr and "on 30 paired documents" in worse.stderr
    report = json.loads(worse.stdout)
    assert [r["cell"] for r in report["regressions"]] == ["lora on json_extract (smollm2-135m-instruct)"]
    # the degraded cell's documents followed its score: about 10 of the 20 right ones became wrong
    [lora] = [c for c in report["cells"] if c["technique"] == "lora" and c["task"] == "json_extract"]
    [quality] = [m for m in lora["metrics"] if m["name"] == "quality_after"]
    assert quality["test"] == "McNemar" and quality["paired_documents"] == 30
    assert quality["p_value"] < 0.01


def test_resume_after_kill_9_finishes_without_duplicates(tmp_path):
    suite = write(tmp_path, SUITE.replace("seeds = [0]", "seeds = [0, 1]"))  # 12 cells
    db = tmp_path / "bench.db"
    log = tmp_path / "calls.log"
    script = (
        f"import sys; import advisor.bench.runner as r; sys.path.insert(0, {str(FAKE_CELL.parent)!r}); "
        f"from test_bench_runner import fake_command; r.cell_command = fake_command; "
        f"from advisor.cli.bench import bench; bench(['run', {str(suite)!r}, '--quiet'])"
    )
    env = {**os.environ, "FAKE_CELL_SLEEP": "0.3", "FAKE_CELL_LOG": str(log)}
    proc = subprocess.Popen([sys.executable, "-c", script], env=env, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 30
    stored = 0
    while time.monotonic() < deadline and stored < 4:
        time.sleep(0.1)
        try:
            with sqlite3.connect(db) as conn:
                stored = conn.execute("SELECT count(*) FROM cells").fetchone()[0]
        except sqlite3.OperationalError:
            continue  # not created yet
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert 4 <= stored < 12, proc.stderr.read().decode()
    time.sleep(0.5)  # the orphaned cell (if any) dies with its runner: PR_SET_PDEATHSIG

    summary = run_json(suite, "--resume")
    assert summary["already_done"] >= 4 and summary["cells"] == 12
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT run_id, config_hash FROM cells").fetchall()
        runs = conn.execute("SELECT run_id, ended_at FROM runs").fetchall()
    assert len(runs) == 1 and runs[0][1] is not None  # the same run, now finished
    assert len(rows) == 12 and len({h for _, h in rows}) == 12
    calls = log.read_text().splitlines()
    assert len(calls) <= 13  # every cell ran once, bar the one the kill interrupted
    again = run_json(suite, "--resume")
    assert again["already_done"] == 12 and again["counts"] == {}


def test_shards_fill_one_named_run(tmp_path):
    suite = write(tmp_path, TROUBLE)
    first = run_json(suite, "--shard", "1/2", "--run-name", "nightly-42")
    second = run_json(suite, "--shard", "2/2", "--run-name", "nightly-42")
    assert first["run_id"] == second["run_id"] and first["cells"] + second["cells"] == 12
    with Store() as store:
        assert len(store.cells(first["run_id"])) == 12
        assert store.run("nightly-42").ended_at is not None


def test_retry_failed_reruns_only_the_failures(tmp_path, monkeypatch):
    suite = write(
        tmp_path, SUITE + '\n[techniques.full-ft]\ntasks = ["json_extract"]\nsettings = { mode = "crash" }\n'
    )
    run_json(suite)
    log = tmp_path / "calls.log"
    monkeypatch.setenv("FAKE_CELL_LOG", str(log))
    again = run_json(suite, "--resume", "--retry-failed")
    assert again["counts"] == {"failed": 1} and log.read_text().split() == ["full-ft", "json_extract", "0"]


def test_usage_errors_are_one_line_exit_2(tmp_path):
    suite = write(tmp_path, SUITE)
    for args, message in (
        (["run", suite, "--shard", "5/2"], "--shard 5/2"),
        (["run", tmp_path / "missing.toml"], "does not exist"),
        (["compare", "7", "8"], "unknown run '7'"),
        (["report", "x", "--out", tmp_path / "r"], "unknown run 'x'"),
    ):
        result = invoke(*args)
        assert result.exit_code == 2 and result.stderr.startswith("error: ") and message in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1


def test_progress_goes_to_stderr_not_into_json(tmp_path):
    result = invoke("run", write(tmp_path, SUITE), "--json")
    assert result.exit_code == 0
    assert json.loads(result.stdout)["counts"] == {"ok": 6}
    assert "ok lora on json_extract" in " ".join(result.stderr.split())


def test_the_default_store_is_results_db_in_the_working_directory(tmp_path, monkeypatch):
    monkeypatch.delenv("ADVISOR_DB")
    run_json(write(tmp_path, SUITE))
    assert (tmp_path / "results.db").is_file()  # tmp_path is the working directory of this test


def test_parse_suite_without_plugin_lookups():
    suite = parse_suite(
        {"name": "x", "models": ["m"], "tasks": ["anything"], "techniques": {"mine": {}}},
        known_techniques=set(),
        known_tasks=set(),
    )
    assert [(c.technique, c.task, c.seed) for c in suite.cells] == [("mine", "anything", 0)]


def test_dry_run_lists_the_cells_and_their_commands_and_runs_nothing(tmp_path, monkeypatch):
    log = tmp_path / "cells.log"
    monkeypatch.setenv("FAKE_CELL_LOG", str(log))
    suite = write(tmp_path, SUITE)
    result = invoke("run", suite, "--dry-run")
    assert result.exit_code == 0 and "suite mini: 6 cell(s); nothing was run" in result.stderr
    assert "lora on json_extract (smollm2-135m-instruct, seed 0)" in result.stdout
    assert "--technique lora --task json_extract" in result.stdout and "--set r=8" in result.stdout
    data = json.loads(invoke("run", suite, "--dry-run", "--json", "--shard", "1/2").stdout)
    assert data["suite"] == "mini" and len(data["cells"]) == 3
    assert all(c["command"][-1] == "--json" and len(c["config_hash"]) == 64 for c in data["cells"])
    assert not log.exists() and not (tmp_path / "bench.db").exists()


@pytest.mark.parametrize(("still_degraded", "exit_code"), [(True, 1), (False, 0)])
def test_compare_confirm_fails_only_on_what_the_rerun_repeats(
    tmp_path, monkeypatch, still_degraded, exit_code
):
    suite = write(tmp_path, SUITE)
    run_json(suite)
    monkeypatch.setenv("FAKE_CELL_DEGRADE", "lora:json_extract:0.3")
    run_json(suite)
    if not still_degraded:  # a flake: the code is fine, the re-run shows it
        monkeypatch.delenv("FAKE_CELL_DEGRADE")
    log = tmp_path / "cells.log"
    monkeypatch.setenv("FAKE_CELL_LOG", str(log))
    result = invoke("compare", "--confirm", "--json")
    assert result.exit_code == exit_code, result.output
    assert log.read_text().split() == ["lora", "json_extract", "0"]  # only the flagged cell ran again
    confirm = json.loads(result.stdout)["confirm"]
    assert bool(confirm["confirmed"]) is still_degraded
    assert bool(confirm["not_confirmed"]) is not still_degraded
    label = "lora on json_extract (smollm2-135m-instruct)"
    expected = f"regression (confirmed): {label}" if still_degraded else f"suspect (not failing): {label}"
    assert expected in result.stderr
