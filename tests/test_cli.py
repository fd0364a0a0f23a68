from __future__ import annotations

import json

import pytest

from tests.conftest import BUILTIN_TECHNIQUES, write_jsonl
from tests.test_readers import make_lmeval_folder

ROWS = [
    {
        "id": "q1",
        "prompt": "What is the capital of Zarnovia?",
        "output": "Paris",
        "reference": "Velmora",
        "passed": False,
    },
    {
        "id": "q2",
        "prompt": "Who founded Quorbin Labs?",
        "output": "Tom Hale",
        "reference": "Ilsa Marven",
        "passed": False,
    },
    {"id": "q3", "prompt": "What is 2+2?", "output": "4", "reference": "4", "passed": True},
    {
        "prompt": "Extract JSON: Anna is 31.",
        "output": "Sure! {'name': 'Anna'",
        "reference": '{"name": "Anna", "age": 31}',
        "passed": False,
        "task": "extract",
    },
]


def test_diagnose_json_schema(run, tmp_path):
    log = write_jsonl(tmp_path / "log.jsonl", ROWS)
    result = run("diagnose", log, "--json")
    assert result.exit_code == 0, result.stderr
    out = json.loads(result.stdout)
    assert set(out) == {"summary", "records", "recommendations", "plans", "advice"}
    assert out["summary"]["total"] == 4 and out["summary"]["failed"] == 3 and out["summary"]["skipped"] == 0
    assert out["summary"]["verdicts"] == {"behaviour": 0, "factual": 2, "format": 1}
    rec = out["records"][0]
    assert set(rec) == {
        "source",
        "task",
        "id",
        "doc_id",
        "filter",
        "passed",
        "verdict",
        "subtype",
        "evidence",
        "confidence",
        "judge",
    }
    assert rec["id"] == "q1" and rec["doc_id"] is None and rec["verdict"] == "factual"
    assert rec["confidence"] in ("high", "low") and out["records"][2]["confidence"] is None
    assert out["summary"]["low_confidence"] == sum(r["confidence"] == "low" for r in out["records"])
    assert out["records"][3]["id"] == "4"  # no id field: the line number
    assert out["records"][2]["verdict"] == "none" and out["records"][2]["passed"] is True
    top = out["recommendations"]
    assert [r["rank"] for r in top] == list(range(1, len(top) + 1))
    assert {"rank", "technique", "rule", "rationale"} <= set(top[0])
    names = [r["technique"] for r in top]
    assert names.index("bm25-rag") < names.index("lora")


def test_diagnose_lmeval_folder_json(run, tmp_path):
    result = run("diagnose", make_lmeval_folder(tmp_path), "--json")
    assert result.exit_code == 0, result.stderr
    out = json.loads(result.stdout)
    strict = [r for r in out["records"] if r["filter"] == "strict-match" and r["doc_id"] == 0][0]
    assert (strict["verdict"], strict["subtype"]) == ("format", "strict-extraction")
    mc = [r for r in out["records"] if r["task"] == "mc"][0]
    assert mc["verdict"] == "factual" and mc["id"] == "1"


def test_terminal_report(run, tmp_path):
    log = write_jsonl(tmp_path / "log.jsonl", ROWS)
    result = run("diagnose", log, "--params", "7B", "--gpu-memory", "24GB")
    assert result.exit_code == 0
    assert "Recommendations" in result.stdout and "bm25-rag" in result.stdout
    assert "factual/wrong-fact" in result.stdout


def test_corpus_marks_retrievable_failures(run, tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "zarnovia.md").write_text(
        "# Zarnovia\n\nZarnovia is a small country. Its capital is Velmora.\n\n"
        "Quorbin Labs was founded by Ilsa Marven in 1987.\n"
    )
    (docs / "other.txt").write_text("Oslo is the capital of Norway.\n")
    log = write_jsonl(tmp_path / "log.jsonl", ROWS)
    out = json.loads(run("diagnose", log, "--corpus", docs, "--json").stdout)
    assert out["summary"]["corpus"] == {"checked": 2, "retrievable": 2}
    assert any("BM25 passage #1" in e for e in out["records"][0]["evidence"])


def test_fail_on_sets_exit_code(run, tmp_path):
    log = write_jsonl(tmp_path / "log.jsonl", ROWS)
    assert run("diagnose", log, "--fail-on", "factual>0.9").exit_code == 0
    result = run("diagnose", log, "--fail-on", "format>0.2,factual>=10%")
    assert result.exit_code == 1 and "factual rate 50.0% >= 10.0%" in result.stderr


def test_corrupt_lines_warn_and_strict_fails(run, tmp_path):
    log = tmp_path / "log.jsonl"
    log.write_text(json.dumps(ROWS[0]) + "\n{oops\n" + json.dumps(ROWS[1]) + "\n")
    result = run("diagnose", log, "--json")
    assert result.exit_code == 0
    assert json.loads(result.stdout)["summary"]["skipped"] == 1
    assert "skipped 1 unreadable line(s)" in result.stderr and ": 2" in result.stderr
    strict = run("diagnose", log, "--strict")
    assert strict.exit_code == 2 and ":2: not valid JSON" in strict.stderr


def _bad_inputs(tmp_path):
    (tmp_path / "empty.jsonl").write_text("")
    (tmp_path / "bin.jsonl").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00")
    (tmp_path / "doc.jsonl").write_text(json.dumps({"records": ROWS}, indent=2))
    (tmp_path / "cols.csv").write_text("a,b\n1,2\n")
    (tmp_path / "lmeval").mkdir()
    (tmp_path / "lmeval" / "results_2026-01-01T00-00-00.json").write_text("{}")
    return {
        "missing": (tmp_path / "nope.jsonl", "no such file"),
        "empty": (tmp_path / "empty.jsonl", "is empty"),
        "binary": (tmp_path / "bin.jsonl", "binary file"),
        "json document": (tmp_path / "doc.jsonl", "one JSON document"),
        "csv columns": (tmp_path / "cols.csv", "no output column"),
        "lm-eval no samples": (tmp_path / "lmeval", "no samples_*.jsonl"),
    }


@pytest.mark.parametrize(
    "case", ["missing", "empty", "binary", "json document", "csv columns", "lm-eval no samples"]
)
def test_bad_input_one_line_exit_2(run, tmp_path, case):
    path, message = _bad_inputs(tmp_path)[case]
    result = run("diagnose", path)
    assert result.exit_code == 2
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr


@pytest.mark.parametrize(
    "args, message",
    [
        (["--tried", "bm25rag"], "did you mean 'bm25-rag'"),
        (["--params", "-7B"], "must not be negative"),
        (["--gpu-memory", "lots"], "cannot read GPU memory"),
        (["--fail-on", "format>>1"], "cannot read --fail-on"),
        (["--format", "jsnl"], "did you mean 'jsonl'"),
        (["--model", "mystery-model"], "cannot tell the size"),
    ],
)
def test_bad_options_exit_2(run, tmp_path, args, message):
    log = write_jsonl(tmp_path / "log.jsonl", ROWS)
    result = run("diagnose", log, *args)
    assert result.exit_code == 2 and message in result.stderr, result.stderr


def test_model_config_gives_the_size(run, tmp_path):
    cfg = tmp_path / "config.json"
    cfg.write_text(
        json.dumps(
            {
                "hidden_size": 4096,
                "num_hidden_layers": 32,
                "num_attention_heads": 32,
                "num_key_value_heads": 8,
                "intermediate_size": 14336,
                "vocab_size": 128256,
            }
        )
    )
    log = write_jsonl(tmp_path / "log.jsonl", ROWS)
    out = json.loads(run("diagnose", log, "--model", cfg, "--gpu-memory", "24GB", "--json").stdout)
    lora = next(r for r in out["recommendations"] if r["technique"] == "lora")
    # an 8B Llama in bf16 (16 GB of weights) plus LoRA's activations: above 16 GB, and it fits 24 GB
    assert 16e9 < lora["memory_bytes"] < 24e9 and lora["fits_gpu"] is True
    small = json.loads(run("diagnose", log, "--model", cfg, "--gpu-memory", "8GB", "--json").stdout)
    ranked = {r["technique"]: r for r in small["recommendations"]}
    assert ranked["lora"]["fits_gpu"] is False and ranked["qlora"]["fits_gpu"] is True


def test_a_known_model_name_gives_the_size_offline(run, tmp_path):
    """A hub id from the memory calculator's table gives the same size as the model's config.json."""
    log = write_jsonl(tmp_path / "log.jsonl", ROWS)
    out = json.loads(
        run("diagnose", log, "--model", "meta-llama/Llama-3.1-8B", "--gpu-memory", "24GB", "--json").stdout
    )
    by_config = json.loads(
        run("diagnose", log, "--params", "8030261248", "--gpu-memory", "24GB", "--json").stdout
    )
    assert [r["memory_bytes"] for r in out["recommendations"]] == [
        r["memory_bytes"] for r in by_config["recommendations"]
    ]


def test_help_explains(run):
    result = run("diagnose", "--help")
    assert result.exit_code == 0
    for word in ("--corpus", "--tried", "--fail-on", "--json", "lm-evaluation-harness"):
        assert word in result.stdout


@pytest.mark.parametrize(
    "args, message",
    [
        (["-t", "lorra", "--task", "json_extract"], "did you mean 'lora'"),
        (["-t", "lora", "--task", "json_extrct"], "did you mean 'json_extract'"),
        (["-t", "lora", "--task", "json_extract", "--set", "rank=8"], "does not take rank (it takes: "),
        (["-t", "lora", "--task", "json_extract", "--set", "r=eight"], "r='eight': expected a int"),
        (["-t", "lora", "--task", "json_extract", "--set", "r"], "--set expects key=value"),
        (
            ["-t", "lora", "--task", "json_extract", "--model", "/nonexistent/model"],
            "is not a local model folder",
        ),
    ],
)
def test_run_bad_input_one_line_exit_2(run, args, message):
    result = run("run", *args)
    assert result.exit_code == 2, result.stderr
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_techniques_json_lists_every_technique_with_requirements(run):
    rows = {r["name"]: r for r in json.loads(run("techniques", "--json").stdout)}
    assert set(rows) >= BUILTIN_TECHNIQUES
    assert rows["qlora"]["requires"] == ["cuda"] and rows["lora"]["requires"] == []
    assert rows["merge-concat"]["kind"] == "merge" and "r1" in rows["merge-concat"]["defaults"]


def test_a_tie_between_facts_and_form_starts_with_rag(run, tmp_path):
    rows = [
        {
            "prompt": "What is the capital of Zarnovia?",
            "output": "Paris",
            "reference": "Velmora",
            "passed": False,
        },
        {"prompt": "Summarise the text.", "output": "", "reference": "A summary", "passed": False},
    ]
    out = json.loads(run("diagnose", write_jsonl(tmp_path / "tie.jsonl", rows), "--json").stdout)
    assert out["summary"]["verdicts"] == {"behaviour": 1, "factual": 1, "format": 0}
    names = [r["technique"] for r in out["recommendations"]]
    assert names.index("bm25-rag") < names.index("lora")


def test_a_metric_no_record_has_is_an_error(run, tmp_path):
    result = run("diagnose", make_lmeval_folder(tmp_path), "--metric", "exact_matc")
    assert result.exit_code == 2 and "did you mean 'exact_match'" in result.stderr


def test_malformed_lmeval_results_and_promptfoo_shapes_do_not_crash(run, tmp_path):
    folder = make_lmeval_folder(tmp_path)
    for results in folder.rglob("results_*.json"):
        results.write_text("[1, 2, 3]")  # not an object: ignored, the samples are still read
    assert run("diagnose", folder, "--json").exit_code == 0
    pf = tmp_path / "results.json"
    pf.write_text(
        json.dumps(
            {
                "evalId": "e",
                "results": {
                    "version": 3,
                    "results": [
                        {
                            "prompt": "plain string prompt",
                            "vars": ["not", "a", "dict"],
                            "response": "just text",
                            "success": False,
                        }
                    ],
                },
            }
        )
    )
    out = json.loads(run("diagnose", pf, "--json").stdout)
    assert out["summary"]["failed"] == 1


def test_a_bad_option_value_is_one_line_with_exit_2():
    """Through the console-script entry point: click's usage errors are one line, like every other."""
    import subprocess
    import sys

    proc = subprocess.run(
        [sys.executable, "-m", "advisor.cli", "memory", "--params", "7B", "--mlp", "swiglu"],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        "error: Invalid value for '--mlp': 'swiglu' is not one of 'gated', 'plain'. "
        "(see 'advisor memory --help')"
    ]


def test_json_streams_records_and_stays_valid_on_an_error(run, tmp_path):
    rows = [{"prompt": f"q{i}", "output": "a", "reference": "a" if i % 2 else "b"} for i in range(5)]
    log = write_jsonl(tmp_path / "log.jsonl", rows)
    lines = run("diagnose", log, "--json-lines").stdout.strip().splitlines()
    assert len(lines) == 6
    assert [json.loads(x)["passed"] for x in lines[:5]] == [False, True, False, True, False]
    assert json.loads(lines[5])["summary"]["total"] == 5
    whole = json.loads(run("diagnose", log, "--json").stdout)
    assert len(whole["records"]) == 5 and whole["summary"]["failed"] == 3
    # --strict stops at a bad line after records were written: what was written is still one JSON value
    many = [{"prompt": f"q{i}", "output": "a", "reference": "a"} for i in range(1500)]
    bad = write_jsonl(tmp_path / "bad.jsonl", many)
    bad.write_text(bad.read_text() + "{broken\n")
    result = run("diagnose", bad, "--json", "--strict")
    assert result.exit_code == 2 and "--strict" in result.stderr
    assert len(json.loads(result.stdout)["records"]) >= 1000


def test_several_models_in_one_log_are_counted_apart(run, tmp_path):
    rows = [
        {"model": "small", "prompt": "q1", "output": "a", "reference": "a"},
        {"model": "small", "prompt": "q2", "output": "b", "reference": "a"},
        {"model": "large", "prompt": "q1", "output": "a", "reference": "a"},
    ]
    log = write_jsonl(tmp_path / "log.jsonl", rows)
    summary = json.loads(run("diagnose", log, "--json").stdout)["summary"]
    assert summary["total"] == 3 and summary["failed"] == 1  # the overall totals stay
    assert summary["models"]["small"]["total"] == 2 and summary["models"]["small"]["none"] == 1
    assert summary["models"]["large"] == {"total": 1, "none": 1}
    text = run("diagnose", log).stdout
    assert "model small: 2 samples, 1 passed, 1 failed" in text
