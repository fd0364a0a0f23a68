"""Readers of OpenAI evals, HELM, OpenCompass and lmms-eval logs, on fixtures built from each tool's writer
code (tests/data/formats/<tool>/README.md names the files they follow)."""

from __future__ import annotations

import importlib
import json
import shutil
from pathlib import Path

import pytest

from advisor import InputError
from advisor.diagnosis.pipeline import Request, run
from advisor.diagnosis.readers import choose_reader
from advisor.plugins import Registry, get_plugin_manager

DATA = Path(__file__).parent / "data"
FORMATS = DATA / "formats"
MODULES = ("openai_evals", "helm", "opencompass", "lmms_eval")

EVALS_MATCH = FORMATS / "openai_evals" / "231101120000QX7RZ2KA_gpt-3.5-turbo_test-match.jsonl"
EVALS_GRADED = FORMATS / "openai_evals" / "231102093000M4HT6WQE_gpt-3.5-turbo_coqa-closedqa-correct.jsonl"
HELM_SUITE = FORMATS / "helm" / "benchmark_output" / "runs" / "v1"
HELM_MMLU = (
    HELM_SUITE / "mmlu:subject=anatomy,method=multiple_choice_joint,model=openai_gpt-4o-mini-2024-07-18"
)
HELM_GSM = HELM_SUITE / "gsm:model=openai_gpt-4o-mini-2024-07-18"
OC_ROOT = FORMATS / "opencompass" / "outputs" / "default"
OC_RUN = OC_ROOT / "20240801_120000"
LMMS = FORMATS / "lmms_eval" / "logs"
LMMS_MODEL = LMMS / "lmms-lab__llava-onevision-qwen2-0.5b-ov"


@pytest.fixture(scope="module")
def registry():
    """The built-ins plus the four readers (registered here until they join the built-in list)."""
    pm = get_plugin_manager(load_entry_points=False)
    for module in MODULES:
        name = f"advisor_plugins.readers.{module}"
        if pm.get_plugin(name) is None:
            pm.register(importlib.import_module(name), name=name)
    return Registry(pm)


def diagnose(registry, path: Path):
    report = run(Request(path=path, keep_records=True), registry)
    return report, {
        (d.record.task, d.record.id if d.record.id is not None else d.record.doc_id): d
        for d in report.records
    }


def one_line_error(registry, path: Path) -> str:
    with pytest.raises(InputError) as info:
        run(Request(path=path, keep_records=True), registry)
    message = str(info.value)
    assert "\n" not in message and "Traceback" not in message
    return message


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


# -- sniffing ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "reader"),
    [
        (EVALS_MATCH, "openai-evals"),
        (EVALS_GRADED, "openai-evals"),
        (HELM_SUITE, "helm"),
        (HELM_MMLU, "helm"),
        (HELM_MMLU / "display_predictions.json", "helm"),
        (OC_ROOT, "opencompass"),
        (OC_RUN, "opencompass"),
        (OC_RUN / "predictions" / "qwen2-1.5b-hf" / "ARC-e.json", "opencompass"),
        (LMMS, "lmms-eval"),
        (LMMS_MODEL / "20250301_101500_samples_mme.jsonl", "lmms-eval"),
        # the logs the other readers own keep their reader
        (DATA / "labelled_lmeval", "lm-eval"),
        (DATA / "labelled_lmeval" / "samples_gsm8k_2026-11-28T10-00-00.000000.jsonl", "lm-eval"),
        (DATA / "labelled_generic.jsonl", "jsonl"),
    ],
)
def test_each_log_is_recognised_by_its_reader(registry, path, reader):
    assert choose_reader(path, registry.readers).name == reader


# -- OpenAI evals ------------------------------------------------------------------------------------------


def _events(path: Path) -> list[dict]:
    return [e for e in map(json.loads, path.read_text().splitlines()) if "type" in e]


def test_openai_evals_match_log(registry):
    report, recs = diagnose(registry, EVALS_MATCH)
    summary = report.to_json()["summary"]
    assert summary["reader"] == "openai-evals"
    assert summary["total"] == 3 and summary["failed"] == 2
    correct = sum(e["data"]["correct"] for e in _events(EVALS_MATCH) if e["type"] == "match")
    assert summary["passed"] == correct == 1
    task = "test-match.s1.simple-v0"
    assert [d.record.id for d in report.records] == ["test-match.s1.0", "test-match.s1.1", "test-match.s1.2"]
    assert recs[(task, "test-match.s1.0")].passed is True
    wrong = recs[(task, "test-match.s1.2")]
    assert wrong.record.prompt.endswith("OpenAI was founded in 20") and wrong.record.output == "16"
    assert wrong.record.reference == "15" and (wrong.verdict.value, wrong.subtype) == (
        "factual",
        "wrong-fact",
    )
    prose = recs[(task, "test-match.s1.1")]
    assert prose.passed is False and prose.verdict.value == "format"
    assert prose.record.extra["model"] == "gpt-3.5-turbo-0613"


def test_openai_evals_model_graded_log(registry):
    report, recs = diagnose(registry, EVALS_GRADED)
    summary = report.to_json()["summary"]
    scores = [e["data"]["score"] for e in _events(EVALS_GRADED) if e["type"] == "metrics"]
    assert summary["total"] == 3 and summary["passed"] == sum(s >= 0.5 for s in scores) == 1
    task = "coqa-closedqa-correct.dev.v0"
    first = recs[(task, "coqa-closedqa-correct.dev.0")]
    assert first.passed is True and first.record.output == "white"  # the model's answer, not the grader's
    assert first.record.prompt.startswith("Once upon a time") and first.record.extra["grader_choice"] == "Y"
    invalid = recs[(task, "coqa-closedqa-correct.dev.2")]
    assert invalid.passed is False and invalid.record.extra["grader_choice"] == "__invalid__"
    assert invalid.record.metrics == {"score": 0.0}


def test_openai_evals_alternatives_lists_and_unjudged_samples(registry, tmp_path):
    spec = {"spec": {"eval_name": "qa.dev.v0", "completion_fns": ["gpt-4"], "run_id": "x"}}

    def event(i, sample, kind, data):
        return {"run_id": "x", "event_id": i, "sample_id": sample, "type": kind, "data": data}

    path = write_jsonl(
        tmp_path / "qa.jsonl",
        [
            spec,
            {"final_report": {"accuracy": 0.5}, "run_id": "x"},
            event(
                0, "qa.dev.0", "sampling", {"prompt": "Capital of the USA?", "sampled": ["Washington, D.C."]}
            ),
            event(1, "qa.dev.0", "match", {"correct": True, "expected": ["Washington", "Washington, D.C."]}),
            event(2, "qa.dev.1", "sampling", {"prompt": "Is it true?", "sampled": ["Yes"]}),
            event(3, "qa.dev.1", "metrics", {"choice": "A", "score": None}),  # the fact spec has no scores
            event(4, "qa.dev.2", "error", {"type": "RateLimitError", "message": "rate limit"}),
        ],
    )
    report, recs = diagnose(registry, path)
    assert report.profile.summary()["unjudged"] == 2
    ok = recs[("qa.dev.v0", "qa.dev.0")]
    assert (
        ok.passed is True and ok.record.output == "Washington, D.C." and ok.record.reference == "Washington"
    )
    assert ok.record.extra["alternatives"] == ["Washington", "Washington, D.C."]
    assert recs[("qa.dev.v0", "qa.dev.2")].record.extra["error"] == "rate limit"


def test_openai_evals_without_events_is_one_line(registry, tmp_path):
    path = write_jsonl(
        tmp_path / "only-report.log",
        [{"spec": {"eval_name": "x.dev.v0", "run_id": "r"}}, {"final_report": {"accuracy": 1.0}}],
    )
    assert "holds no per-sample events" in one_line_error(registry, path)


# -- HELM --------------------------------------------------------------------------------------------------


def _main_metric_passes(run_dir: Path, metric: str) -> int:
    predictions = json.loads((run_dir / "display_predictions.json").read_text())
    return sum(p["stats"][metric] == 1.0 for p in predictions)


def test_helm_suite_folder(registry):
    report, recs = diagnose(registry, HELM_SUITE)
    summary = report.to_json()["summary"]
    assert summary["reader"] == "helm" and summary["total"] == 6
    expected = _main_metric_passes(HELM_MMLU, "exact_match") + _main_metric_passes(
        HELM_GSM, "final_number_exact_match"
    )
    assert summary["passed"] == expected == 2
    mmlu = "mmlu:subject=anatomy,method=multiple_choice_joint"
    assert set(summary["tasks"]) == {mmlu, "gsm"}
    right = recs[(mmlu, "id0")]
    assert right.passed is True and right.record.choices[right.record.picked] == "Sternum"
    assert right.record.prompt.endswith("D. Radius\nAnswer:")
    wrong = recs[(mmlu, "id1")]
    assert (wrong.verdict.value, wrong.subtype) == ("factual", "wrong-fact")
    assert wrong.record.reference == "oxygenated blood to the left atrium" and wrong.record.picked == 2
    unmapped = recs[(mmlu, "id2")]  # "The correct answer is": maps to no option, judged against the letter
    assert unmapped.passed is False and unmapped.record.choices is None and unmapped.record.reference == "C"
    gsm = recs[("gsm", "id1")]
    assert gsm.passed is False and gsm.record.reference == "10"
    assert gsm.record.extra["reference_text"].endswith("The answer is 10.")
    assert gsm.record.extra["model"] == "openai/gpt-4o-mini-2024-07-18"


def test_helm_run_folder_or_its_predictions_file(registry):
    by_folder, _ = diagnose(registry, HELM_GSM)
    by_file, _ = diagnose(registry, HELM_GSM / "display_predictions.json")
    for report in (by_folder, by_file):
        assert report.profile.summary()["total"] == 3 and report.profile.summary()["passed"] == 1


def test_helm_without_schema_finds_the_main_metric_in_the_stats(registry, tmp_path):
    run_dir = tmp_path / HELM_MMLU.name
    shutil.copytree(HELM_MMLU, run_dir)
    report, recs = diagnose(registry, run_dir)
    assert report.profile.summary()["passed"] == 1
    assert next(iter(recs.values())).record.metrics == {"exact_match": 1.0}


def test_helm_incomplete_or_broken_runs_are_one_line(registry, tmp_path):
    run_dir = tmp_path / "gsm:model=x"
    shutil.copytree(HELM_GSM, run_dir)
    (run_dir / "instances.json").unlink()
    assert "instances.json is missing" in one_line_error(registry, run_dir)
    (run_dir / "instances.json").write_text("[")
    assert "is not valid JSON" in one_line_error(registry, run_dir)
    forced = Request(path=run_dir / "run_spec.json", format="helm")
    with pytest.raises(InputError, match="give the run folder or its display_predictions.json"):
        run(forced, registry)


# -- OpenCompass -------------------------------------------------------------------------------------------


def test_opencompass_output_folder(registry):
    report, recs = diagnose(registry, OC_RUN)
    summary = report.to_json()["summary"]
    assert summary["reader"] == "opencompass" and summary["total"] == 6
    gsm = json.loads((OC_RUN / "results" / "qwen2-1.5b-instruct-hf" / "gsm8k.json").read_text())["details"]
    arc = json.loads((OC_RUN / "results" / "qwen2-1.5b-hf" / "ARC-e.json").read_text())["details"]
    own = sum(d["correct"][0] for d in gsm) + sum(v["correct"] for k, v in arc.items() if k != "type")
    assert summary["passed"] == own == 2
    assert set(summary["tasks"]) == {"gsm8k", "ARC-e"}
    assert set(summary["models"]) == {"qwen2-1.5b-instruct-hf", "qwen2-1.5b-hf"}
    pick = recs[("ARC-e", "1")]  # lowest PPL: "oxygen"; the answer is C
    assert pick.record.choices == ["oxygen", "nitrogen", "carbon dioxide", "helium"]
    assert pick.record.output == "oxygen" and pick.record.reference == "carbon dioxide"
    assert (pick.verdict.value, pick.subtype) == ("factual", "wrong-fact")
    assert pick.record.prompt.startswith("Question: Which gas do plants absorb")
    right = recs[("gsm8k", "0")]
    assert right.passed is True and right.record.output == "72" and right.record.reference == "72"
    assert right.record.prompt.endswith("Let's think step by step\nAnswer:")
    extracted_wrong = recs[("gsm8k", "2")]  # the postprocessor took the last number; the answer is there
    assert extracted_wrong.passed is False and extracted_wrong.record.extra["raw_output"].count(
        "The answer is 5"
    )
    assert (extracted_wrong.verdict.value, extracted_wrong.subtype) == ("format", "strict-extraction")


def test_opencompass_parent_folder_and_single_predictions_file(registry):
    assert diagnose(registry, OC_ROOT)[0].profile.summary()["total"] == 6
    report, recs = diagnose(registry, OC_RUN / "predictions" / "qwen2-1.5b-instruct-hf" / "gsm8k.json")
    assert report.profile.summary()["total"] == 3 and report.profile.summary()["passed"] == 1


def test_opencompass_split_predictions_without_results(registry, tmp_path):
    """A dataset split into <name>_0.json, <name>_1.json, and no results/: advisor judges against gold."""
    model = tmp_path / "run" / "predictions" / "m"
    model.mkdir(parents=True)
    items = [("2+2?", "4", "4"), ("3+3?", "7", "6"), ("Capital of France?", "Paris.", "Paris")]
    for part, chunk in enumerate((items[:2], items[2:])):
        data = {str(i): {"origin_prompt": q, "prediction": p, "gold": g} for i, (q, p, g) in enumerate(chunk)}
        (model / f"triv_{part}.json").write_text(json.dumps(data, indent=4))
    report, recs = diagnose(registry, tmp_path / "run")
    assert report.profile.summary()["total"] == 3 and report.profile.summary()["passed"] == 2
    assert {r.record.task for r in report.records} == {"triv"}
    assert recs[("triv", "2")].record.prompt == "Capital of France?"
    by_part, _ = diagnose(registry, model / "triv_1.json")  # one part names the whole dataset
    assert by_part.profile.summary()["total"] == 3


def test_opencompass_old_style_details(registry, tmp_path):
    """Details as an object of scalar dicts (older OpenCompass, and AccwithDetailsEvaluator)."""
    root = tmp_path / "run"
    (root / "predictions" / "m").mkdir(parents=True)
    (root / "results" / "m").mkdir(parents=True)
    preds = {
        "0": {"origin_prompt": "Q1", "prediction": "The answer is B"},
        "1": {"origin_prompt": "Q2", "prediction": "A"},
    }
    details = {
        "0": {"pred": "B", "refr": "B", "is_correct": True},
        "1": {"pred": "A", "refr": "C", "is_correct": False},
    }
    (root / "predictions" / "m" / "d.json").write_text(json.dumps(preds))
    (root / "results" / "m" / "d.json").write_text(json.dumps({"accuracy": 50.0, "details": details}))
    report, recs = diagnose(registry, root)
    assert [d.passed for d in report.records] == [True, False]
    assert (
        recs[("d", "0")].record.output == "B"
        and recs[("d", "0")].record.extra["raw_output"] == "The answer is B"
    )


def test_opencompass_broken_predictions_are_one_line(registry, tmp_path):
    model = tmp_path / "run" / "predictions" / "m"
    model.mkdir(parents=True)
    (model / "d.json").write_text('{"0": {"origin_prompt": "x", "prediction": ')
    assert "is not valid JSON" in one_line_error(registry, tmp_path / "run")


# -- lmms-eval ---------------------------------------------------------------------------------------------


def _lmms_own_passes() -> int:
    passes = 0
    for file in LMMS_MODEL.glob("*_samples_*.jsonl"):
        for sample in map(json.loads, file.read_text().splitlines()):
            metric = sample.get("mme_perception_score") or sample.get("mme_cognition_score")
            value = metric["score"] if metric else sample["relaxed_overall"]
            passes += value == 1.0
    return passes


def test_lmms_eval_folder(registry):
    report, recs = diagnose(registry, LMMS)
    summary = report.to_json()["summary"]
    assert summary["reader"] == "lmms-eval" and summary["total"] == 6
    assert summary["passed"] == _lmms_own_passes() == 2
    assert set(summary["tasks"]) == {"mme", "chartqa"}
    assert set(summary["models"]) == {"lmms-lab/llava-onevision-qwen2-0.5b-ov"}
    no = recs[("mme", 1)]
    assert no.record.prompt.startswith("Are there two dogs") and no.record.output == "No"
    assert no.record.metrics == {"mme_perception_score": 0.0}
    assert (no.verdict.value, no.subtype) == ("factual", "wrong-fact")
    wrapped = recs[("chartqa", 2)]
    assert wrapped.passed is False and wrapped.verdict.value == "format"
    assert recs[("chartqa", 0)].passed is True


def test_lmms_eval_single_file_is_not_read_as_lm_eval(registry):
    report, _ = diagnose(registry, LMMS_MODEL / "20250301_101500_samples_chartqa.jsonl")
    assert report.reader == "lmms-eval" and report.profile.summary()["passed"] == 1


def test_lmms_eval_forced_on_a_log_without_samples_is_one_line(registry, tmp_path):
    path = write_jsonl(tmp_path / "20240601_090000_samples_x.jsonl", [{"prompt": "a", "output": "b"}])
    with pytest.raises(InputError, match="holds no lmms-eval samples"):
        run(Request(path=path, format="lmms-eval"), registry)


def test_lmms_eval_list_responses_and_multiple_choice(registry, tmp_path):
    folder = tmp_path / "model"
    folder.mkdir()
    write_jsonl(
        folder / "20240601_090000_samples_seedbench.jsonl",
        [
            {  # an older lmms-eval: filtered_resps still a list, the raw response kept
                "doc_id": 0,
                "target": "B",
                "resps": [["The answer is B"]],
                "filtered_resps": ["B"],
                "input": "Which option?",
                "seed_image": {"question_id": "1", "score": 1.0},
            },
            {  # log-likelihood options: the highest wins
                "doc_id": 1,
                "target": "A",
                "filtered_resps": [["-3.5", "False"], ["-1.25", "True"]],
                "input": "Pick one.",
                "exact_match": 0.0,
            },
        ],
    )
    report, recs = diagnose(registry, folder)
    first, second = recs[("seedbench", 0)], recs[("seedbench", 1)]
    assert first.passed is True and first.record.output == "B" and first.record.extra["raw_output"]
    assert second.passed is False and second.record.choices == ["A", "B"] and second.record.picked == 1
