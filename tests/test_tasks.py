"""The bundled benchmark tasks: data generator, lm-eval YAMLs, task plugin, scoring helpers, models."""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from advisor.errors import UsageError
from advisor.train.tasks import materialize_tasks

ROOT = Path(__file__).resolve().parents[1]
TASKS_DIR = ROOT / "plugins" / "tasks"
MAKE_DATA = ROOT / "benchmarks" / "make_task_data.py"
BUNDLED = ("fictional_qa", "json_extract", "instruction_following")


def _load(path: Path, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_generator_is_deterministic(tmp_path):
    for run in ("a", "b"):
        subprocess.run(
            [sys.executable, str(MAKE_DATA), "--out", str(tmp_path / run)], check=True, capture_output=True
        )
    first, second = _files(tmp_path / "a"), _files(tmp_path / "b")
    assert first == second
    for task in BUNDLED:
        assert f"{task}/train.jsonl" in first and f"{task}/test.jsonl" in first
    assert any(name.startswith("fictional_qa/corpus/") and name.endswith(".md") for name in first)


def test_committed_data_matches_generator(tmp_path):
    subprocess.run([sys.executable, str(MAKE_DATA), "--out", str(tmp_path)], check=True, capture_output=True)
    for task in BUNDLED:
        for split in ("train.jsonl", "test.jsonl"):
            assert (tmp_path / task / split).read_bytes() == (TASKS_DIR / task / split).read_bytes(), (
                f"{task}/{split} is stale: run python benchmarks/make_task_data.py"
            )


@pytest.mark.parametrize("task", BUNDLED)
def test_records_have_generic_fields(task):
    rows = [json.loads(line) for line in (TASKS_DIR / task / "test.jsonl").read_text("utf-8").splitlines()]
    assert 50 <= len(rows) <= 100
    assert len({r["id"] for r in rows}) == len(rows)
    for row in rows:
        assert ("question" in row and "answer" in row) or ("input" in row and "target" in row)
    if task == "instruction_following":
        assert all(row["constraint"] for row in rows)


def test_fictional_qa_answers_are_in_the_corpus():
    corpus = TASKS_DIR / "fictional_qa" / "corpus"
    for split in ("train.jsonl", "test.jsonl"):
        for line in (TASKS_DIR / "fictional_qa" / split).read_text("utf-8").splitlines():
            row = json.loads(line)
            doc = (corpus / f"{row['doc_id']}.md").read_text("utf-8")
            assert row["answer"] in doc, row
            # The fact is never in the prompt (a few guessable names aside: city-states, home towns).
            assert row["answer"] not in row["question"] or row["fact"] in {
                "headquarters",
                "capital",
                "currency_country",
            }


def test_materialize_writes_absolute_existing_paths(tmp_path):
    include = materialize_tasks(tmp_path / "tasks", [TASKS_DIR / t for t in BUNDLED])
    assert include.is_absolute()
    for task in BUNDLED:
        text = (include / task / f"{task}.yaml").read_text("utf-8")
        assert "@TRAIN_FILE@" not in text and "@TEST_FILE@" not in text
        assert re.search(rf"^task: {task}$", text, re.M)
        assert "dataset_path: json" in text and "test_split: test" in text and "fewshot_split: train" in text
        paths = re.findall(r"^\s+(train|test): (\".*\")$", text, re.M)
        assert [split for split, _ in paths] == ["train", "test"]
        for _, quoted in paths:
            path = Path(json.loads(quoted))
            assert path.is_absolute() and path.is_file()
        assert (include / task / "utils.py").is_file()


def test_materialize_subset_and_unknown(tmp_path):
    include = materialize_tasks(tmp_path, [TASKS_DIR / "json_extract"])
    assert sorted(p.name for p in include.iterdir()) == ["json_extract"]
    with pytest.raises(UsageError, match="not a task folder"):
        materialize_tasks(tmp_path, [tmp_path / "no_such_task"])


def test_task_plugin_registers_three_tasks():
    import advisor_plugins.tasks as plugin

    found: list = []
    plugin.advisor_register_tasks(register=found.append)
    by_name = {t.name: t for t in found}
    assert set(by_name) == set(BUNDLED)
    assert {t.failure_class for t in found} == {"factual", "format", "behaviour"}
    for task in found:
        assert task.description and (task.path / "task.yaml.in").is_file()
    assert by_name["fictional_qa"].corpus.is_dir()
    assert by_name["json_extract"].corpus is None


def test_resolve_model_rejects_bogus_names(tmp_path):
    from advisor.train.models import resolve_model

    for bogus in (str(tmp_path / "nope"), "not-a-model", "nobody-xyz/no-such-model-123"):
        with pytest.raises(UsageError, match="not a local model folder"):
            resolve_model(bogus)
    folder = tmp_path / "m"
    folder.mkdir()
    (folder / "config.json").write_text("{}")
    assert resolve_model(str(folder)) == folder


def test_json_extract_strict_vs_flexible():
    utils = _load(TASKS_DIR / "json_extract" / "utils.py", "json_extract_utils")
    doc = {"target": json.dumps({"name": "Maria Keller", "age": 34, "city": "Lisbon"})}
    bare = '{"city": "Lisbon", "age": 34, "name": "Maria Keller"}'
    fenced = 'Here is the JSON:\n```json\n{"name": "Maria Keller", "age": 34, "city": "Lisbon"}\n```'
    wrong = '{"name": "Maria Keller", "age": "34", "city": "Lisbon"}'
    outputs = [[bare], [fenced], [wrong], ["no json here {"]]
    strict = [r[0] for r in utils.strict_json(outputs, [doc] * 4)]
    flexible = [r[0] for r in utils.flexible_json(outputs, [doc] * 4)]
    score = lambda filtered: [utils.process_results(doc, [f])["exact_match"] for f in filtered]  # noqa: E731
    assert score(strict) == [1.0, 0.0, 0.0, 0.0]
    assert score(flexible) == [1.0, 1.0, 0.0, 0.0]
    assert utils.first_object_block('x {"a": "}{", "b": {"c": 1}} y') == '{"a": "}{", "b": {"c": 1}}'


def test_fictional_qa_scoring():
    utils = _load(TASKS_DIR / "fictional_qa" / "utils.py", "fictional_qa_utils")
    doc = {"answer": "Vorn Instruments"}
    assert utils.process_results(doc, ["vorn instruments."])["exact_match"] == 1.0
    assert utils.process_results(doc, ["She founded Vorn Instruments in 1901."])["exact_match"] == 1.0
    assert utils.process_results(doc, ["Vorn Industries"])["exact_match"] == 0.0
    assert utils.process_results({"answer": "2786"}, ["It has 2,786 employees."])["exact_match"] == 1.0
    assert utils.process_results({"answer": "27"}, ["It has 2786 employees."])["exact_match"] == 0.0
    # Echoing the question does not count as containing the answer.
    echo = {"answer": "Dadreirk", "question": "In which city is the company Dadreirk Shipping headquartered?"}
    assert utils.process_results(echo, ["Dadreirk Shipping is in Durban."])["exact_match"] == 0.0
    assert utils.process_results(echo, ["Dadreirk."])["exact_match"] == 1.0


@pytest.mark.parametrize(
    ("constraint", "arg", "good", "bad"),
    [
        ("yes_no", "", "Yes.", "Yes, it is."),
        ("one_word", "", "Dog", "A dog"),
        ("n_words", "3", "The sky's blue.", "The sky is blue."),
        ("uppercase", "", "THE SKY IS BLUE.", "The sky is blue."),
        ("lowercase", "", "the sky is blue.", "The sky is blue."),
        ("french", "", "Le ciel est bleu.", "The sky is blue."),
        ("number_only", "", "42", "It is 42."),
        ("start_with", "certainly", "Certainly! It is blue.", "It is blue, certainly."),
        ("no_commas", "", "Red and blue.", "Red, blue."),
    ],
)
def test_instruction_following_constraints(constraint, arg, good, bad):
    utils = _load(TASKS_DIR / "instruction_following" / "utils.py", "instruction_following_utils")
    doc = {"constraint": constraint, "constraint_arg": arg}
    assert utils.process_results(doc, [good]) == {"acc": 1.0}
    assert utils.process_results(doc, [bad]) == {"acc": 0.0}
    assert utils.process_results(doc, [""]) == {"acc": 0.0}
