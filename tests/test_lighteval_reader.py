"""lighteval details parquet, both schemas of lighteval's DetailsLogger (built with pyarrow)."""

from __future__ import annotations

import json

import pytest

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")

OLD_MC = [
    {  # multiple choice, log-probabilities per choice: picked B (wrong, gold A)
        "full_prompt": "Question: Which is a noble gas?\nAnswer:",
        "predictions": [-2.0, -0.5, -3.0],
        "gold": ["Neon"],
        "choices": ["Neon", "Oxygen", "Nitrogen"],
        "gold_index": [0],
        "metrics": {"acc": 0.0},
    },
]
OLD_GEN = [
    {
        "full_prompt": "Question: What is 2+2?\nAnswer:",
        "predictions": ["4"],
        "gold": ["4"],
        "choices": [],
        "gold_index": [],
        "metrics": {"qem": 1.0},
    },
    {
        "full_prompt": "Question: Capital of Zarnovia?\nAnswer:",
        "predictions": ["Paris"],
        "gold": ["Velmora"],
        "choices": [],
        "gold_index": [],
        "metrics": {"qem": 0.0},
    },
]

NEW = [
    {
        "doc": {"query": "Q: 3+3?\nA:", "choices": ["6"], "gold_index": 0, "task_name": "lighteval|arith|0"},
        "model_response": {"input": "Q: 3+3?\nA:", "text": ["6"], "logprobs": []},
        "metric": {"exact_match": 1.0},
    },
    {
        "doc": {
            "query": 'Q: Reply in JSON {"a": 1}.',
            "choices": ['{"a": 1}'],
            "gold_index": 0,
            "task_name": "json",
        },
        "model_response": {"input": "", "text": ['```json\n{"a": 1}\n```'], "logprobs": []},
        "metric": {"exact_match": 0.0},
    },
]


def _write(path, rows):
    pq.write_table(pa.Table.from_pylist(rows), path)
    return path


def test_older_schema_in_a_details_folder(run, tmp_path):
    folder = tmp_path / "details" / "org__model-7b" / "2024-05-01T10-00-00"
    folder.mkdir(parents=True)
    _write(folder / "details_leaderboard|arc:easy|25_2024-05-01T10-00-00.parquet", OLD_MC)
    _write(folder / "details_leaderboard|gsm8k|5_2024-05-01T10-00-00.parquet", OLD_GEN)
    result = run("diagnose", tmp_path / "details", "--json")
    assert result.exit_code == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["summary"]["reader"] == "lighteval"
    assert (out["summary"]["total"], out["summary"]["passed"], out["summary"]["failed"]) == (3, 1, 2)
    assert out["summary"]["models"] == {"org__model-7b": {"total": 3, "factual": 2, "none": 1}}
    assert {r["task"] for r in out["records"]} == {"arc:easy", "gsm8k"}
    mc = next(r for r in out["records"] if r["task"] == "arc:easy")
    assert mc["evidence"][0].startswith("picked 'Oxygen'")


def test_newer_schema_file(run, tmp_path):
    path = _write(tmp_path / "details_lighteval|arith|0_2025-01-01T00-00-00.000.parquet", NEW)
    out = json.loads(run("diagnose", path, "--json").stdout)
    assert [r["passed"] for r in out["records"]] == [True, False]
    assert out["records"][1]["verdict"] == "format" and out["records"][1]["subtype"] == "code-fence"
