"""Inspect AI logs, built the way Inspect's recorders write them (.eval zip: header or start spec plus
samples/<id>_epoch_<n>.json; .json: the same with a top-level samples list)."""

from __future__ import annotations

import json
import zipfile

import pytest

SPEC = {"task": "arc_easy", "model": "openai/gpt-4o-mini", "scorers": [{"name": "choice"}]}

SAMPLES = [
    {  # multiple choice, wrong letter
        "id": 1,
        "epoch": 1,
        "input": "Which gas do plants take in for photosynthesis?",
        "choices": ["Oxygen", "Carbon dioxide", "Nitrogen", "Helium"],
        "target": "B",
        "output": {"choices": [{"message": {"role": "assistant", "content": "ANSWER: A"}}]},
        "scores": {"choice": {"value": "I", "answer": "A"}},
    },
    {  # chat input, content blocks, correct
        "id": 2,
        "epoch": 1,
        "input": [{"role": "user", "content": [{"type": "text", "text": "Capital of France? One word."}]}],
        "target": ["Paris", "paris"],
        "output": {"completion": "Paris"},
        "scores": {"choice": {"value": "C"}},
    },
    {  # an errored sample was never scored
        "id": 3,
        "epoch": 1,
        "input": "What is 2+2?",
        "target": "4",
        "output": {"completion": ""},
        "error": {"message": "rate limit"},
        "scores": {"choice": {"value": "I"}},
    },
    {  # a second epoch, JSON wanted, fenced: a format failure
        "id": 2,
        "epoch": 2,
        "input": 'Return JSON {"capital": ...} for France.',
        "target": '{"capital": "Paris"}',
        "output": {"completion": '```json\n{"capital": "Paris"}\n```'},
        "scores": {"choice": {"value": False}},
    },
]


def _zip(path, spec_name: str):
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as z:
        z.writestr(spec_name, json.dumps({"version": 2, "eval": SPEC, "plan": {}}))
        for s in SAMPLES:
            z.writestr(f"samples/{s['id']}_epoch_{s['epoch']}.json", json.dumps(s, indent=2))
        z.writestr("results.json", json.dumps({"status": "success", "stats": {}}))
    return path


@pytest.fixture(params=["header.json", "start.json", "json-log"])
def log(request, tmp_path):
    if request.param == "json-log":
        path = tmp_path / "2025-01-01T00-00-00_arc-easy.json"
        data = {
            "version": 2,
            "status": "success",
            "eval": SPEC,
            "plan": {},
            "results": {},
            "samples": SAMPLES,
        }
        path.write_text(json.dumps(data, indent=2))
        return path
    return _zip(tmp_path / "2025-01-01T00-00-00_arc-easy.eval", request.param)


def test_inspect_logs_are_read_with_inspects_own_judgement(run, log):
    result = run("diagnose", log, "--json")
    assert result.exit_code == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["summary"]["reader"] == "inspect"
    recs = {r["id"]: r for r in out["records"]}
    assert set(recs) == {"1", "2", "3", "2#2"}
    assert all(r["task"] == "arc_easy" for r in recs.values())
    assert recs["1"]["verdict"] == "factual" and recs["1"]["passed"] is False
    assert recs["2"]["verdict"] == "none" and recs["2"]["passed"] is True
    assert recs["3"]["passed"] is None  # errored: not judged, not a failure
    assert recs["2#2"]["verdict"] == "format" and recs["2#2"]["subtype"] == "code-fence"
    assert out["summary"]["failed"] == 2 and out["summary"]["unjudged"] == 1


def test_options_are_part_of_the_prompt(tmp_path):
    from advisor.diagnosis.readers import ReadContext
    from advisor_plugins.readers.inspect_ai import InspectReader

    path = _zip(tmp_path / "x.eval", "header.json")
    first = next(iter(InspectReader().read(path, ReadContext())))
    assert first.prompt.endswith("A) Oxygen\nB) Carbon dioxide\nC) Nitrogen\nD) Helium")
    assert first.output == "ANSWER: A" and first.reference == "B" and first.extra["extracted_answer"] == "A"


def test_a_zip_that_is_not_an_inspect_log_is_one_line(run, tmp_path):
    path = tmp_path / "other.eval"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("readme.txt", "hello")
    result = run("diagnose", path)
    assert result.exit_code == 2 and "without an Inspect AI eval header" in result.stderr
