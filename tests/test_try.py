"""Tasks from user data (datasets, eval logs, task YAMLs), their scoring and split, and ``advisor try``.

The end-to-end test runs ``advisor try`` on a tiny random Llama saved to a folder: real cells (one
``advisor run`` process each, lm-eval included), a real store, per-document scores and intervals.
"""

from __future__ import annotations

import json
import random
import sqlite3
from pathlib import Path

import pytest

from advisor.errors import InputError, UsageError
from advisor.train import scoring, trial
from advisor.train.usertask import Example, TaskOptions, read_examples, resolve_task, split
from tests.conftest import write_jsonl


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("ADVISOR_CACHE", str(tmp_path / "cache"))


def _qa_rows(n: int = 40, seed: int = 1) -> list[dict]:
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        a, b = rng.randint(1, 50), rng.randint(1, 50)
        rows.append({"id": f"q{i}", "question": f"what is {a} plus {b}", "gold": str(a + b)})
    return rows


def _log_rows(n: int = 40) -> list[dict]:
    rng = random.Random(2)
    rows = []
    for row in _qa_rows(n):
        out = str(int(row["gold"]) + rng.choice([0, 1, 10]))
        rows.append({**row, "output": f"The answer is {out}", "passed": out == row["gold"]})
    return rows


# -- scoring -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("metric", "output", "reference", "expected"),
    [
        ("exact", "  Paris. ", "paris", 1.0),
        ("exact", "The capital is Paris", "Paris", 0.0),
        ("contains", "The capital is Paris.", "Paris", 1.0),
        ("contains", "Parisian food", "Paris", 0.0),
        ("number", "It costs 1,250.00 euros", "1250", 1.0),
        ("number", "first 3 then 4", "3", 0.0),
        ("json", 'Here: ```json\n{"b": 2, "a": 1}\n```', '{"a": 1, "b": 2}', 1.0),
        ("json", '{"a": 1}', '{"a": 2}', 0.0),
        ("regex:ORDER=(\\w+)", "ORDER=A17;QTY=2", "a17", 1.0),
        ("regex:^ORDER=", "order=A17", "anything", 0.0),
    ],
)
def test_each_metric_scores_as_documented(metric, output, reference, expected):
    assert scoring.score(metric, output, reference) == expected


def test_alternatives_count_and_unknown_metrics_are_refused():
    assert scoring.score("exact", "NYC", "New York", ["nyc"]) == 1.0
    with pytest.raises(UsageError, match="unknown metric 'fuzzy'"):
        scoring.check_metric("fuzzy")
    with pytest.raises(UsageError, match="not a regular expression"):
        scoring.check_metric("regex:(")


def test_metric_is_the_one_that_reproduces_the_logs_verdicts():
    rows = [(r["output"], r["gold"], [], r["passed"]) for r in _log_rows()]
    metric, agreement = scoring.metric_from_log(rows)
    assert metric == "number" and agreement == 1.0
    # a log that fails nearly everything: "fail everything" must not win, and no number metric for
    # references that hold no numbers
    hosts = [
        (f"The host is {n}.corp.net" if i < 3 else "I do not know", f"{n}.corp.net", [], i < 3)
        for i, n in enumerate(f"{a}{b}" for a in "abcdefgh" for b in "xyzvw")
    ]
    assert scoring.metric_from_log(hosts) == ("contains", 1.0)
    assert scoring.guess_metric(['{"a": 1}', "[1, 2]"]) == "json"
    assert scoring.guess_metric(["12", "3.5 kg"]) == "number"
    assert scoring.guess_metric(["Paris", "12"]) == "exact"


# -- split and task sources ----------------------------------------------------------------------------


def test_split_is_by_document_seeded_and_stratified():
    examples = [
        Example(key=f"d{i // 2}", prompt=f"p{i}", reference="r", stratum="pass" if i < 20 else "fail")
        for i in range(60)
    ]
    train, test = split(examples, 0.3, seed=0)
    assert {e.key for e in train}.isdisjoint({e.key for e in test})
    assert len(train) + len(test) == 60
    assert {e.stratum for e in test} == {"pass", "fail"}  # both strata are represented
    again, _ = split(examples, 0.3, seed=0)
    other, _ = split(examples, 0.3, seed=1)
    assert [e.key for e in again] == [e.key for e in train]
    assert [e.key for e in other] != [e.key for e in train]


def test_a_split_that_would_leave_a_side_empty_is_refused():
    with pytest.raises(UsageError, match="test split would be empty"):
        split([Example("only", "p", "r")], 0.3, seed=0)


def test_a_dataset_becomes_a_task_folder_that_lm_eval_can_load(tmp_path):
    data = write_jsonl(tmp_path / "qa.jsonl", _qa_rows())
    task = resolve_task(str(data), None, TaskOptions(test_fraction=0.25))
    assert task.metric == "number" and (task.train_size, task.test_size) == (30, 10)
    train = [json.loads(x) for x in (task.path / "train.jsonl").read_text().splitlines()]
    test = [json.loads(x) for x in (task.path / "test.jsonl").read_text().splitlines()]
    assert {r["doc"] for r in train}.isdisjoint({r["doc"] for r in test})
    assert resolve_task(str(data), None, TaskOptions(test_fraction=0.25)).path == task.path  # stable
    assert resolve_task(task.name, None).path == task.path  # cells find it by name
    pytest.importorskip("lm_eval")
    from advisor.train.evaluate import load_task

    loaded = load_task(task, tmp_path / "work")
    assert loaded.primary == "score,none" and len(loaded.data.train) == 30
    assert loaded.data.train[0]["prompt"].startswith("what is")


def test_an_eval_log_is_read_and_the_user_is_warned_it_trains_on_the_eval_set(tmp_path):
    log = write_jsonl(tmp_path / "log.jsonl", _log_rows())
    examples, is_log = read_examples(log)
    assert is_log and len(examples) == 40 and examples[0].output
    task = resolve_task(str(log), None, TaskOptions())
    assert any("being used for training" in n for n in task.notes)
    assert any("reproduces 100%" in n for n in task.notes)


def test_explicit_train_and_test_files(tmp_path):
    rows = _qa_rows()
    train = write_jsonl(tmp_path / "train.jsonl", rows[:30])
    test = write_jsonl(tmp_path / "test.jsonl", rows[30:])
    task = resolve_task(None, None, TaskOptions(train=train, test=test, metric="exact"))
    assert (task.train_size, task.test_size, task.metric) == (30, 10, "exact")
    with pytest.raises(UsageError, match="both --train FILE and --test FILE"):
        resolve_task(None, None, TaskOptions(train=train))


def test_an_lm_eval_yaml_is_used_as_it_is(tmp_path):
    yaml = tmp_path / "mytask.yaml"
    yaml.write_text("task: my_task\ndataset_path: json\n")
    task = resolve_task(str(yaml), None)
    assert task.name == "my_task" and task.yaml_file == yaml.resolve()
    (tmp_path / "group.yaml").write_text("group: g\n")
    with pytest.raises(InputError, match="no 'task: NAME' line"):
        resolve_task(str(tmp_path / "group.yaml"), None)


def test_bad_data_gets_one_clear_error(tmp_path):
    no_ref = write_jsonl(tmp_path / "noref.jsonl", [{"question": "q"}])
    with pytest.raises(InputError, match="no reference field"):
        resolve_task(str(no_ref), None)
    with pytest.raises(UsageError, match="unknown task 'nosuchtask'"):
        resolve_task("nosuchtask", None)
    with pytest.raises(InputError, match="no such file"):
        resolve_task("missing/data.jsonl", None)
    with pytest.raises(UsageError, match="--test-fraction"):
        TaskOptions(test_fraction=1.5)


# -- choosing, limits, statistics ------------------------------------------------------------------


class _Rec:
    def __init__(self, technique, rank):
        self.technique, self.rank = technique, rank


def test_choose_skips_what_cannot_run_here_and_says_why(registry):
    recs = [
        _Rec(n, i + 1)
        for i, n in enumerate(["prompting", "structured-output", "bm25-rag", "qlora", "merge-ties", "lora"])
    ]
    chosen, skipped = trial.choose(
        recs, registry, corpus=None, train_size=100, device="cpu", top=None, techniques=[]
    )
    assert [n for n, _ in chosen] == ["prompting", "lora"]
    reasons = {s["technique"]: s["reason"] for s in skipped}
    assert "no technique plugin" in reasons["structured-output"]
    assert "--corpus" in reasons["bm25-rag"]
    assert "CUDA" in reasons["qlora"]
    assert "several fine-tuned models" in reasons["merge-ties"]
    with pytest.raises(UsageError, match="--top 3: only 2"):
        trial.choose(recs, registry, corpus=None, train_size=100, device="cpu", top=3, techniques=[])
    _, few = trial.choose(recs, registry, corpus=None, train_size=3, device="cpu", top=None, techniques=[])
    assert "too little training data" in {s["technique"]: s["reason"] for s in few}["lora"]


def test_time_budget_scales_the_sizes_down_and_says_so():
    cells = [("lora", "peft"), ("prompting", "prompting")]
    train, test, why = trial.limits(500, 200, cells, train_limit=None, eval_limit=None, budget_s=None)
    assert (train, test, why) == (200, 60, None)
    small_train, small_test, why = trial.limits(
        500, 200, cells, train_limit=None, eval_limit=None, budget_s=300
    )
    assert small_train < 200 and small_test < 60 and "time budget 5 min" in why
    assert trial.parse_duration("1h30m") == 5400 and trial.parse_duration("90") == 90
    with pytest.raises(UsageError):
        trial.parse_duration("soon")


def test_paired_interval_and_verdicts():
    before = {str(i): 0.0 for i in range(30)}
    better = {str(i): 1.0 if i < 20 else 0.0 for i in range(30)}
    gain, low, high, n = trial.paired_interval(before, better)
    assert n == 30 and gain == pytest.approx(20 / 30) and low > 0
    assert trial.verdict(low, high) == "helps"
    _, low, high, _ = trial.paired_interval(before, {str(i): 1.0 if i < 1 else 0.0 for i in range(30)})
    assert trial.verdict(low, high) == "no measurable effect"
    rows = [
        {"technique": "a", "rank": 1, "verdict": "no measurable effect", "gain": 0.0},
        {"technique": "b", "rank": 2, "verdict": "helps", "gain": 0.67},
    ]
    lines = trial.order_check(rows, {"a": before, "b": better})
    assert "overturned" in lines[0] and "b (+0.67" in lines[0]


# -- the command -------------------------------------------------------------------------------------------


def test_a_log_without_failures_has_nothing_to_fix(tmp_path, run):
    rows = [{**r, "output": r["gold"], "passed": True} for r in _qa_rows(10)]
    log = write_jsonl(tmp_path / "good.jsonl", rows)
    result = run("try", log, "--db", tmp_path / "r.db")
    assert result.exit_code == 0 and "nothing to fix" in result.output
    assert not (tmp_path / "r.db").exists()


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--model", "not/a/model/folder"], "is not a local model folder"),
        (["--metric", "fuzzy"], "unknown metric"),
        (["--top", "9"], "--top 9: only"),
    ],
)
def test_bad_input_is_one_line_and_stores_nothing(tmp_path, extra, message):
    import subprocess
    import sys

    log = write_jsonl(tmp_path / "log.jsonl", _log_rows())
    db = tmp_path / "r.db"
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            "from advisor.cli import main; main()",
            "try",
            str(log),
            "--db",
            str(db),
            *extra,
        ],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2, proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and message in errors[0] and "Traceback" not in proc.stderr
    assert not db.exists()


def _tiny_model_folder(path: Path) -> Path:
    transformers = pytest.importorskip("transformers")
    import torch

    from tests.test_techniques import tiny_model, tiny_tokenizer

    tok = tiny_tokenizer()
    torch.manual_seed(0)
    tiny_model(tok).save_pretrained(path)
    tok.save_pretrained(path)
    assert isinstance(transformers.AutoConfig.from_pretrained(path), transformers.LlamaConfig)
    return path


def test_try_end_to_end_on_a_tiny_model(tmp_path, run):
    pytest.importorskip("lm_eval")
    pytest.importorskip("peft")
    model = _tiny_model_folder(tmp_path / "tiny")
    log = write_jsonl(tmp_path / "log.jsonl", _log_rows(24))
    db = tmp_path / "r.db"
    args = ["try", log, "--model", model, "-t", "prompting", "-t", "lora", "--train-limit", "8"]
    result = run(*args, "--eval-limit", "4", "--db", db, "--json")
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert set(out) >= {"log", "model", "task", "baseline", "techniques", "skipped", "order", "run", "db"}
    rows = {r["technique"]: r for r in out["techniques"]}
    assert set(rows) == {"prompting", "lora"}
    for row in rows.values():
        assert row["status"] == "ok" and row["documents"] == 4
        assert row["low"] <= row["gain"] <= row["high"]
        assert row["verdict"] in ("helps", "no measurable effect", "hurts")
    assert rows["lora"]["train_time_s"] > 0
    with sqlite3.connect(db) as con:
        (cells,) = con.execute("select count(*) from cells").fetchone()
        (docs,) = con.execute("select count(*) from documents").fetchone()
    assert cells == 2 and docs == 2 * 2 * 4  # two cells, before and after, four test documents
    again = json.loads(run(*args, "--eval-limit", "4", "--db", db, "--json", "--resume").stdout)
    assert again["run"] == out["run"]  # resumed: nothing ran twice
    with sqlite3.connect(db) as con:
        assert con.execute("select count(*) from cells").fetchone() == (2,)
