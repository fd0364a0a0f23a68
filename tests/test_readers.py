from __future__ import annotations

import json
from pathlib import Path

import pytest

from advisor.diagnosis.readers import ReadContext, open_log
from advisor.errors import InputError
from advisor.plugins import Registry
from tests.conftest import write_jsonl


def read_all(pm, path, fmt=None, strict=False):
    readers = Registry(pm).readers
    reader, records, ctx = open_log(Path(path), readers, fmt, ReadContext(strict=strict))
    return reader.name, list(records), ctx


def test_generic_jsonl_aliases_and_pass_fields(pm, tmp_path):
    log = write_jsonl(
        tmp_path / "log.jsonl",
        [
            {"id": "a", "input": "Q1", "response": "A1", "expected": "A1", "correct": 1, "task": "qa"},
            {"question": "Q2", "completion": "x", "answer": "y", "score": 0.2},
            {"Prompt": "Q3", "Output": "z", "Target": "z"},
        ],
    )
    name, recs, _ = read_all(pm, log)
    assert name == "jsonl"
    assert [r.prompt for r in recs] == ["Q1", "Q2", "Q3"]
    assert [r.output for r in recs] == ["A1", "x", "z"]
    assert recs[0].passed is True and recs[0].id == "a" and recs[0].task == "qa"
    # a score is judged against --pass-threshold (0.5 unless given), not by the reader
    assert recs[1].passed is None and recs[1].metrics == {"score": 0.2}
    assert recs[2].passed is None and recs[2].reference == "z"


def test_corrupt_lines_are_skipped_and_reported(pm, tmp_path):
    log = tmp_path / "log.jsonl"
    log.write_text('{"output": "a"}\n{broken\n[1, 2]\n{"output": "b"}\n')
    _, recs, ctx = read_all(pm, log)
    assert [r.output for r in recs] == ["a", "b"]
    assert [line for _, line, _ in ctx.skipped] == [2, 3]
    with pytest.raises(InputError, match=":2"):
        read_all(pm, log, strict=True)


def test_csv_reader(pm, tmp_path):
    log = tmp_path / "log.csv"
    log.write_text('question,prediction,target,passed\n"What, exactly?",Paris,Velmora,false\nQ2,4,4,true\n')
    name, recs, _ = read_all(pm, log)
    assert name == "csv"
    assert recs[0].prompt == "What, exactly?" and recs[0].passed is False
    assert recs[1].passed is True


def test_csv_without_output_column_is_an_error(pm, tmp_path):
    log = tmp_path / "log.csv"
    log.write_text("question,answer\nQ,A\n")
    with pytest.raises(InputError, match="no output column"):
        read_all(pm, log)


def _lmeval_sample(doc_id, flt, output, em, target="42"):
    return {
        "doc_id": doc_id,
        "doc": {"question": f"q{doc_id}", "id": f"d{doc_id}"},
        "target": target,
        "arguments": {"gen_args_0": {"arg_0": f"Question: q{doc_id}\nAnswer:", "arg_1": {"until": ["\n"]}}},
        "resps": [[output]],
        "filtered_resps": [output],
        "filter": flt,
        "metrics": ["exact_match"],
        "doc_hash": "h",
        "prompt_hash": "h",
        "target_hash": "h",
        "exact_match": em,
    }


def make_lmeval_folder(root: Path) -> Path:
    run = root / "out" / "my__model"
    run.mkdir(parents=True)
    date = "2026-11-28T10-00-00.000000"
    (run / f"results_{date}.json").write_text(
        json.dumps(
            {
                "results": {"arith": {"exact_match,strict-match": 0.5}},
                "configs": {
                    "arith": {
                        "output_type": "generate_until",
                        "num_fewshot": 5,
                        "metric_list": [{"metric": "exact_match", "higher_is_better": True}],
                    },
                    "mc": {"output_type": "multiple_choice", "num_fewshot": 0},
                },
                "higher_is_better": {"arith": {"exact_match": True}, "mc": {"acc": True}},
                "n-shot": {"arith": 5, "mc": 0},
            }
        )
    )
    rows = [
        _lmeval_sample(0, "strict-match", "The answer is 42", 0.0),
        _lmeval_sample(1, "strict-match", "#### 42", 1.0),
        _lmeval_sample(0, "flexible-extract", "42", 1.0),
        _lmeval_sample(1, "flexible-extract", "42", 1.0),
    ]
    write_jsonl(run / f"samples_arith_{date}.jsonl", rows)
    mc = {
        "doc_id": 0,
        "doc": {"question": "Capital of France?"},
        "target": "1",
        "arguments": {
            f"gen_args_{i}": {"arg_0": "Capital of France?\nAnswer:", "arg_1": f" {c}"}
            for i, c in enumerate(["Rome", "Paris", "Oslo"])
        },
        "resps": [[["-3.0", "False"]], [["-2.5", "False"]], [["-1.0", "False"]]],
        "filtered_resps": [["-3.0", "False"], ["-2.5", "False"], ["-1.0", "False"]],
        "filter": "none",
        "metrics": ["acc", "acc_norm"],
        "acc": 0.0,
        "acc_norm": 0.0,
    }
    write_jsonl(run / f"samples_mc_{date}.jsonl", [mc])
    return root / "out"


def test_lmeval_folder(pm, tmp_path):
    folder = make_lmeval_folder(tmp_path)
    name, recs, _ = read_all(pm, folder)
    assert name == "lm-eval"
    arith = [r for r in recs if r.task == "arith"]
    assert len(arith) == 4 and {r.filter for r in arith} == {"strict-match", "flexible-extract"}
    first = arith[0]
    assert first.prompt.startswith("Question: q0") and first.output == "The answer is 42"
    assert first.metrics == {"exact_match": 0.0} and first.extra["n_shot"] == 5
    assert first.id == "d0" and first.doc_id == 0
    assert first.extra["sibling_filters"] == {"flexible-extract": {"exact_match": 1.0}}
    (mc,) = [r for r in recs if r.task == "mc"]
    assert mc.choices == ["Rome", "Paris", "Oslo"] and mc.picked == 2
    assert mc.output == "Oslo" and mc.reference == "Paris"


def test_lmeval_single_samples_file_and_list_arguments(pm, tmp_path):
    row = _lmeval_sample(3, "none", "7", 0.0)
    row["arguments"] = [["Question: q3\nAnswer:", {"until": ["\n"]}]]  # the flattened shape
    log = write_jsonl(tmp_path / "samples_gsm_2026-01-01T00-00-00.000000.jsonl", [row])
    name, (rec,), _ = read_all(pm, log)
    assert name == "lm-eval" and rec.task == "gsm" and rec.prompt.startswith("Question: q3")


def test_lmeval_folder_without_samples(pm, tmp_path):
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "results_2026.json").write_text("{}")
    with pytest.raises(InputError, match="--log_samples"):
        read_all(pm, tmp_path / "run")


def test_promptfoo(pm, tmp_path):
    data = {
        "evalId": "e1",
        "results": {
            "version": 3,
            "results": [
                {
                    "prompt": {"raw": "Give JSON for Anna", "label": "extract"},
                    "vars": {"expected": '{"name": "Anna"}'},
                    "response": {"output": "Sure: {name: Anna}"},
                    "success": False,
                    "score": 0,
                    "gradingResult": {
                        "pass": False,
                        "componentResults": [
                            {
                                "pass": False,
                                "reason": "Expected output to be valid JSON",
                                "assertion": {"type": "is-json"},
                            }
                        ],
                    },
                },
                {
                    "prompt": {"raw": "Say hi", "label": "greet"},
                    "vars": {},
                    "response": {"output": "hi"},
                    "success": True,
                    "gradingResult": {
                        "pass": True,
                        "componentResults": [
                            {"pass": True, "assertion": {"type": "contains", "value": "hi"}}
                        ],
                    },
                },
            ],
        },
    }
    log = tmp_path / "results.json"
    log.write_text(json.dumps(data))
    name, recs, _ = read_all(pm, log)
    assert name == "promptfoo"
    assert recs[0].passed is False and recs[0].assertions[0][0] == "is-json" and recs[0].format == "json"
    assert recs[0].reference == '{"name": "Anna"}' and recs[0].task == "extract"
    assert recs[1].passed is True and recs[1].reference == "hi"


@pytest.mark.parametrize(
    "content, message",
    [
        (b"", "is empty"),
        (b"\x00\x01\x02binary", "binary"),
        (b'{\n  "a": 1\n}\n', "one JSON document"),
        (b'[{"output": "x"}]', "one JSON array"),
    ],
)
def test_unreadable_files(pm, tmp_path, content, message):
    log = tmp_path / "log.jsonl"
    log.write_bytes(content)
    with pytest.raises(InputError, match=message):
        read_all(pm, log)


def test_format_override_with_did_you_mean(pm, tmp_path):
    log = write_jsonl(tmp_path / "log.txt", [{"output": "x"}])
    from advisor.errors import UsageError

    with pytest.raises(UsageError, match="did you mean 'jsonl'"):
        read_all(pm, log, fmt="jsnl")
    assert read_all(pm, log, fmt="jsonl")[0] == "jsonl"


def test_corpus_indexes_the_end_of_long_paragraphs():
    from advisor.diagnosis.corpus import _passages

    words = [f"w{i}" for i in range(200)]
    windows = _passages(" ".join(words), max_words=120)
    assert windows[0].split()[0] == "w0" and windows[-1].split()[-1] == "w199"


def _lines(n: int) -> list[dict]:
    return [{"prompt": f"q{i}", "output": "x", "reference": "x" if i % 2 else "y"} for i in range(n)]


def test_bom_utf16_gzip_and_stdin_are_read_whole(run, tmp_path):
    import gzip
    import subprocess
    import sys

    rows = _lines(6)
    text = "\n".join(json.dumps(r) for r in rows) + "\n"
    (tmp_path / "bom.jsonl").write_bytes(b"\xef\xbb\xbf" + text.encode())
    (tmp_path / "u16.jsonl").write_bytes(text.encode("utf-16"))
    with gzip.open(tmp_path / "log.jsonl.gz", "wt") as fh:
        fh.write(text)
    (tmp_path / "bom.csv").write_bytes(b"\xef\xbb\xbfprompt,output,reference\nq,x,y\nq2,x,x\n")
    for name, total in [("bom.jsonl", 6), ("u16.jsonl", 6), ("log.jsonl.gz", 6), ("bom.csv", 2)]:
        result = run("diagnose", tmp_path / name, "--json")
        assert result.exit_code == 0, (name, result.stderr)
        summary = json.loads(result.stdout)["summary"]
        assert (summary["total"], summary["skipped"]) == (total, 0), name
    # a pipe: sniffing its head must not eat it (a log larger than the 64 KB head)
    big = "\n".join(
        json.dumps({"prompt": "p" * 300 + str(i), "output": "x", "reference": "x"}) for i in range(600)
    )
    proc = subprocess.run(
        [sys.executable, "-m", "advisor.cli", "diagnose", "/dev/stdin", "--json"],
        input=big,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["summary"]["total"] == 600


def test_a_file_format_on_a_folder_is_one_line(run, tmp_path):
    result = run("diagnose", tmp_path, "--format", "jsonl")
    assert result.exit_code == 2
    assert (
        "--format jsonl does not recognise the folder" in result.stderr and "Traceback" not in result.stderr
    )


def test_generic_logs_as_people_write_them(run, tmp_path):
    rows = [
        # a 0-100 score scale, a decimal comma, NaN, an OpenAI-style output, a list of generations
        {"question": "Q1", "choices": [{"message": {"content": "Paris"}}], "gold": "Paris", "score": 92},
        {"query": "Q2", "generation": ["Rome", "Milan"], "ideal": ["Rome", "Roma"], "score": "35,5"},
        {"instruction": "Q3", "model_output": "Bern", "ground_truth": "Zurich", "score": float("nan")},
        {"messages": [{"role": "user", "content": "Q4"}], "pred": "Oslo", "label": "Oslo", "score": 88},
    ]
    log = tmp_path / "log.jsonl"
    log.write_text("\n".join(json.dumps(r) for r in rows) + "\n")  # json.dumps writes NaN as NaN
    result = run("diagnose", log, "--json")
    assert result.exit_code == 0, result.stderr
    assert "scores read on a 0-100 scale (largest 92)" in result.stderr
    out = json.loads(result.stdout)
    assert out["summary"]["skipped"] == 0 and out["summary"]["total"] == 4
    by_line = [r["passed"] for r in out["records"]]
    # 92/100 and 88/100 pass, 35.5/100 fails; the NaN score leaves advisor to compare: Bern != Zurich
    assert by_line == [True, False, False, True]
    strict = run("diagnose", log, "--json", "--pass-threshold", "0.9")
    assert [r["passed"] for r in json.loads(strict.stdout)["records"]] == [True, False, False, False]


def test_alternatives_in_a_list_reference_all_count(pm, tmp_path):
    from advisor.diagnosis.judge import compare_to_reference

    log = write_jsonl(
        tmp_path / "alt.jsonl", [{"prompt": "Q", "output": "Roma", "reference": ["Rome", "Roma"]}]
    )
    _, (rec,), _ = read_all(pm, log)
    assert rec.reference == "Rome" and rec.extra["alternatives"] == ["Rome", "Roma"]
    assert compare_to_reference(rec) is True


def test_a_json_array_reference_is_the_expected_array_where_json_is_asked_for(pm, tmp_path):
    rows = [
        {
            "prompt": "List the cities. Return a JSON array of strings.",
            "output": '["Lyon"]',
            "reference": '["Lyon", "Paris"]',
        },
        {"prompt": "What is the capital of Italy?", "output": "Milan", "reference": '["Rome", "Roma"]'},
    ]
    _, (asked, aliases), _ = read_all(pm, write_jsonl(tmp_path / "arr.jsonl", rows))
    assert asked.reference == '["Lyon", "Paris"]' and "alternatives" not in asked.extra
    assert aliases.reference == "Rome" and aliases.extra["alternatives"] == ["Rome", "Roma"]


def test_a_dash_reads_standard_input():
    import subprocess
    import sys

    rows = "\n".join(json.dumps({"prompt": f"q{i}", "output": "a", "reference": "a"}) for i in range(3))
    proc = subprocess.run(
        [sys.executable, "-m", "advisor.cli", "diagnose", "-", "--json"],
        input=rows,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["summary"]["passed"] == 3
