"""The lm-eval reader on logs written by lm-evaluation-harness's own code, in every layout it has used.

The fixtures (tests/data/formats/lmeval/, see its README.md) were written by lm-eval 0.4.13's evaluator
and EvaluationTracker, and by copies of the writers of 0.4.2 and of May and June 2024, from a scripted
model. Pass counts are checked against the scores lm-eval itself wrote in each results file.
"""

from __future__ import annotations

import gzip
import json
import shutil
from collections import defaultdict
from pathlib import Path

import pytest

from advisor.diagnosis.judge import Options, judge
from advisor.diagnosis.readers import ReadContext, open_log
from advisor.plugins import Registry
from advisor_plugins.readers.lmeval import reference

FIX = Path(__file__).parent / "data" / "formats" / "lmeval"
MODERN = FIX / "modern" / "acme__tiny-a"
RUN_1 = "2026-03-02T09-00-07.123456"  # every task, gsm8k 2-shot
RUN_2 = "2026-03-02T11-00-07.123456"  # gsm8k again, 0-shot


def read_all(pm, path):
    reader, records, ctx = open_log(Path(path), Registry(pm).readers, None, ReadContext())
    return reader.name, list(records), ctx


def lm_eval_scores(results_file: Path) -> dict[str, dict[str, float]]:
    return json.loads(results_file.read_text())["results"]


def assert_pass_rates_match(records, results_file: Path) -> None:
    """Per (task, filter): the share of records judged passed is lm-eval's score of the primary metric."""
    scores = lm_eval_scores(results_file)
    groups = defaultdict(list)
    for rec in records:
        groups[(rec.task, rec.filter, rec.extra["primary_metric"])].append(judge(rec, Options()))
    assert groups
    for (task, flt, metric), verdicts in groups.items():
        assert None not in verdicts
        assert sum(verdicts) / len(verdicts) == pytest.approx(scores[task][f"{metric},{flt}"]), (task, flt)


def test_current_layout_every_task_scored_as_lm_eval_scored_it(pm):
    name, recs, ctx = read_all(pm, FIX / "modern")
    assert name == "lm-eval" and not ctx.skipped
    assert len(recs) == 33
    run1 = [r for r in recs if RUN_1 in r.source]
    judged = [r for r in run1 if not r.extra.get("not_judged")]
    assert {r.task for r in judged} == {
        "arc_easy",
        "gsm8k",
        "ifeval",
        "leaderboard_musr_murder_mysteries",
        "triviaqa",
        "truthfulqa_gen",
    }
    assert_pass_rates_match(judged, MODERN / f"results_{RUN_1}.json")
    assert_pass_rates_match([r for r in recs if RUN_2 in r.source], MODERN / f"results_{RUN_2}.json")
    assert {r.extra["model"] for r in recs} == {"acme/tiny-a"}


def test_results_paired_with_samples_by_date_stamp(pm):
    _, recs, _ = read_all(pm, FIX / "modern")
    gsm = [r for r in recs if r.task == "gsm8k"]
    assert len(gsm) == 16  # 4 documents x 2 filters x 2 runs
    assert {r.extra["n_shot"] for r in gsm if RUN_1 in r.source} == {2}
    assert {r.extra["n_shot"] for r in gsm if RUN_2 in r.source} == {0}
    strict = [r for r in gsm if r.filter == "strict-match"]
    assert sum(judge(r, Options()) for r in strict) == 4  # exact_match,strict-match 0.5 in each run


def test_two_models_in_one_folder_told_apart(pm):
    """--output_path shared/eval.json: both runs write eval_<date>.json and their samples side by side."""
    _, recs, _ = read_all(pm, FIX / "shared")
    assert len(recs) == 22
    by_model = defaultdict(list)
    for rec in recs:
        by_model[rec.extra["model"]].append(rec)
    assert set(by_model) == {"acme/tiny-a", "acme/tiny-b"}
    for model, stamp in (("acme/tiny-a", "13-00-07"), ("acme/tiny-b", "13-01-07")):
        results = FIX / "shared" / f"eval_2026-03-02T{stamp}.123456.json"
        assert json.loads(results.read_text())["model_name"] == model
        assert_pass_rates_match(by_model[model], results)
    arc_b = [r for r in by_model["acme/tiny-b"] if r.task == "arc_easy"]
    assert [judge(r, Options()) for r in arc_b] == [True, True, True]


@pytest.mark.parametrize(
    "layout, results_name",
    [
        ("v0.4.2", "results.json"),  # <model_args>_<task>.jsonl holding one JSON array
        ("2024-05/acme__tiny-a", "results_2024-05-20T10-11-12.345678.json"),  # samples_*.json: an array
        ("2024-06/acme__tiny-a", "results_2024-06-10T10-11-12.345678.json"),  # samples_*.json: JSON Lines
    ],
)
def test_older_layouts_and_filters_recovered_from_block_order(pm, layout, results_name):
    name, recs, ctx = read_all(pm, FIX / layout)
    assert name == "lm-eval" and not ctx.skipped
    assert len(recs) == 14  # gsm8k 4 x 2 filters, arc_easy 3, triviaqa 3
    assert {r.task for r in recs} == {"gsm8k", "arc_easy", "triviaqa"}
    assert {r.extra["model"] for r in recs} == {"acme/tiny-a"}
    gsm = [r for r in recs if r.task == "gsm8k"]
    assert [r.filter for r in gsm] == ["strict-match"] * 4 + ["flexible-extract"] * 4
    assert all(r.extra["filter_inferred"] for r in recs)
    assert {r.filter for r in recs if r.task == "triviaqa"} == {"remove_whitespace"}
    assert {r.filter for r in recs if r.task == "arc_easy"} == {"none"}
    assert_pass_rates_match(recs, FIX / layout / results_name)
    # the same samples as the current layout's run, record for record
    _, current, _ = read_all(pm, FIX / "modern")
    now = {(r.task, r.doc_id, r.filter): judge(r, Options()) for r in current if RUN_1 in r.source}
    assert {(r.task, r.doc_id, r.filter): judge(r, Options()) for r in recs}.items() <= now.items()


def test_filters_recovered_when_ranks_interleave(pm, tmp_path):
    """On two GPUs each rank logs its documents filter by filter, then the ranks are concatenated."""
    shutil.copy(FIX / "v0.4.2" / "results.json", tmp_path / "results.json")
    rows = json.loads((FIX / "v0.4.2" / "pretrained__acme__tiny-a_gsm8k.jsonl").read_text())
    strict, flexible = rows[:4], rows[4:]
    ranked = [strict[0], strict[2], flexible[0], flexible[2], strict[1], strict[3], flexible[1], flexible[3]]
    (tmp_path / "pretrained__acme__tiny-a_gsm8k.jsonl").write_text(json.dumps(ranked, indent=2))
    _, recs, _ = read_all(pm, tmp_path)
    assert [(r.doc_id, r.filter) for r in recs] == [
        (0, "strict-match"),
        (2, "strict-match"),
        (0, "flexible-extract"),
        (2, "flexible-extract"),
        (1, "strict-match"),
        (3, "strict-match"),
        (1, "flexible-extract"),
        (3, "flexible-extract"),
    ]
    assert recs[0].extra["sibling_filters"] == {"flexible-extract": {"exact_match": 1.0}}


def test_gzipped_samples(pm, tmp_path):
    name, recs, _ = read_all(pm, FIX / "gz")
    assert name == "lm-eval" and len(recs) == 6
    (results,) = (FIX / "gz").rglob("results_*.json")
    assert_pass_rates_match(recs, results)
    # one .jsonl.gz named on the command line: decompressed, read without its results file
    (gz,) = (FIX / "gz").rglob("samples_triviaqa_*.jsonl.gz")
    name, recs, _ = read_all(pm, gz)
    assert name == "lm-eval" and [r.task for r in recs] == ["triviaqa"] * 3
    with gzip.open(gz, "rt") as fh:
        assert len(fh.read().splitlines()) == 3


def test_primary_metric_and_records_lm_eval_does_not_judge(pm):
    _, recs, _ = read_all(pm, FIX / "modern")
    wiki = [r for r in recs if r.task == "wikitext"]
    assert len(wiki) == 2 and all(judge(r, Options()) is None for r in wiki)
    assert all("loglikelihood_rolling" in r.extra["not_judged_reason"] for r in wiki)
    assert all("word_perplexity" not in r.metrics for r in wiki)  # (loglikelihood, words) pairs
    tqa = [r for r in recs if r.task == "truthfulqa_gen"]
    assert {r.extra["primary_metric"] for r in tqa} == {"bleu_acc"}
    assert next(iter(tqa[0].metrics)) == "bleu_acc" and tqa[0].metrics["bleu_max"] > 50
    assert [judge(r, Options()) for r in tqa] == [True, False, True]
    assert tqa[1].extra["alternatives"][0] == "Fortune cookies originated in San Francisco."
    arc = [r for r in recs if r.task == "arc_easy"]
    assert {r.extra["primary_metric"] for r in arc} == {"acc"}


def test_predict_only_run_is_not_judged(pm):
    _, recs, _ = read_all(pm, FIX / "predict")
    assert len(recs) == 11
    assert all(judge(r, Options()) is None for r in recs)
    assert all("bypass" in r.extra["not_judged_reason"] for r in recs)
    assert {r.output for r in recs if r.task == "gsm8k" and r.filter == "strict-match"} >= {"40"}


def test_acc_norm_picks_per_character(pm):
    _, recs, _ = read_all(pm, FIX / "modern")
    musr = [r for r in recs if r.task == "leaderboard_musr_murder_mysteries"]
    first = musr[0]  # loglikelihoods -5 ('Mackenzie', 9 chars) and -4 ('Ana', 3 chars)
    assert first.extra["primary_metric"] == "acc_norm" and first.metrics == {"acc_norm": 0.0}
    assert first.choices == ["Mackenzie", "Ana"] and first.picked == 0 and first.output == "Mackenzie"
    assert first.extra["argmax_loglikelihood"] == 1 and first.reference == "Ana"
    assert [r.picked for r in musr] == [0, 0, 1]
    assert [judge(r, Options()) for r in musr] == [False, True, True]
    arc = [r for r in recs if r.task == "arc_easy" and RUN_1 in r.source]
    assert [r.picked for r in arc] == [1, 2, 1] and "picked_by" not in arc[0].extra


def test_list_targets_are_alternatives(pm):
    for folder in (FIX / "modern", FIX / "v0.4.2"):  # "['a', 'b']" since 0.4.4, a JSON list before
        _, recs, _ = read_all(pm, folder)
        trivia = [r for r in recs if r.task == "triviaqa"]
        assert trivia[0].reference == "Australia | Commonwealth of Australia | AUS"
        assert trivia[0].extra["alternatives"] == ["Australia", "Commonwealth of Australia", "AUS"]
        assert trivia[1].output == "Michelangelo" and judge(trivia[1], Options()) is False
    assert reference({"target": '["a", "b"]'}, None) == ('["a", "b"]', None)  # a JSON answer stays one
    assert reference({"target": "[0, 2]"}, ["x", "y", "z"]) == ("x | z", ["x", "z"])
    assert reference({"target": "['only']"}, None) == ("only", None)


def test_ifeval_names_the_failed_instructions(pm):
    _, recs, _ = read_all(pm, FIX / "modern")
    ifeval = [r for r in recs if r.task == "ifeval"]
    assert [judge(r, Options()) for r in ifeval] == [True, True, False]  # prompt_level_strict_acc
    failed = ifeval[2]
    assert failed.extra["primary_metric"] == "prompt_level_strict_acc"
    assert failed.metrics["inst_level_strict_acc"] == 0.5
    assert failed.extra["instructions_failed"] == ["detectable_format:number_bullet_lists"]
    assert failed.extra["instructions_failed_loose"] == []
    assert failed.reference == "follow: detectable_format:number_bullet_lists"
    assert ifeval[0].reference == "follow: punctuation:no_comma, detectable_format:title"


def test_chat_prompts_are_joined_messages(pm):
    _, recs, _ = read_all(pm, FIX / "chat")
    assert len(recs) == 8 and {r.extra["model"] for r in recs} == {"acme/tiny-chat"}
    first = recs[0]
    assert first.extra["chat"] is True and not first.prompt.startswith("[")
    assert first.prompt.startswith("Question: A box holds 4 pens")
    assert first.prompt.endswith(
        "Question: Ann reads 10 pages a day. How many pages does she read in 4 days?\nAnswer:"
    )
    (results,) = (FIX / "chat").rglob("results_*.json")
    assert_pass_rates_match(recs, results)


def test_single_files_named_on_the_command_line(pm):
    (array,) = (FIX / "2024-05").rglob("samples_gsm8k_*.json")
    name, recs, _ = read_all(pm, array)
    assert name == "lm-eval" and len(recs) == 8 and recs[0].extra["n_shot"] == 2
    name, recs, _ = read_all(pm, FIX / "v0.4.2" / "results.json")
    assert name == "lm-eval" and len(recs) == 14
    name, recs, _ = read_all(pm, FIX / "v0.4.2" / "pretrained__acme__tiny-a_arc_easy.jsonl")
    assert name == "lm-eval" and [r.task for r in recs] == ["arc_easy"] * 3
    name, recs, _ = read_all(pm, MODERN / f"results_{RUN_2}.json")
    assert name == "lm-eval" and {r.source for r in recs} == {str(MODERN / f"samples_gsm8k_{RUN_2}.jsonl")}


def test_samples_without_their_results_file(pm, tmp_path):
    """A samples file whose results file is gone: settings from another run, the model from the folder
    when that run may be another model's."""
    for path in (FIX / "shared").iterdir():
        if "13-01-07" not in path.name or path.name.startswith("samples_"):
            shutil.copy(path, tmp_path / path.name)
    _, recs, _ = read_all(pm, tmp_path)
    assert {r.extra["model"] for r in recs} == {"acme/tiny-a"}  # the only results file left
    assert {r.extra["n_shot"] for r in recs if r.task == "gsm8k"} == {2}
    shutil.copy(
        FIX / "shared" / "eval_2026-03-02T13-01-07.123456.json", tmp_path / "eval_2026-03-02T13-05-00.json"
    )
    _, recs, _ = read_all(pm, tmp_path)
    orphans = {r.extra["model"] for r in recs if "13-01-07" in r.source}
    assert orphans == {tmp_path.name}


def test_diagnose_json_verdicts(run):
    result = run("diagnose", FIX / "modern", "--json")
    assert result.exit_code == 0, result.stderr
    out = json.loads(result.stdout)
    summary = out["summary"]
    assert (summary["total"], summary["passed"], summary["unjudged"]) == (33, 20, 2)
    assert summary["reader"] == "lm-eval"
    by_key = {(r["task"], r["doc_id"], r["filter"]): r for r in out["records"] if RUN_1 in r["source"]}
    strict = by_key[("gsm8k", 1, "strict-match")]  # "Both cost 15 + 7 = 22 dollars.": no "#### 22"
    assert (strict["passed"], strict["verdict"], strict["subtype"]) == (False, "format", "strict-extraction")
    assert by_key[("gsm8k", 1, "flexible-extract")]["passed"] is True
    assert by_key[("wikitext", 0, "none")]["subtype"] == "unjudged"
    assert by_key[("triviaqa", 1, "remove_whitespace")]["verdict"] == "factual"
    predict = json.loads(run("diagnose", FIX / "predict", "--json").stdout)["summary"]
    assert (predict["total"], predict["unjudged"], predict["failed"]) == (11, 11, 0)


def test_ifeval_failures_are_behaviour(run):
    """The log's own instruction checks decide: a failed ifeval instruction is not followed (behaviour)."""
    out = json.loads(run("diagnose", FIX / "modern", "--json").stdout)
    failed = [r for r in out["records"] if r["task"] == "ifeval" and r["verdict"] != "none"]
    assert failed and all((r["verdict"], r["subtype"]) == ("behaviour", "constraint") for r in failed)
