"""HELM run folders (``helm-run`` then ``helm-summarize``: ``benchmark_output/runs/<suite>/<run>/``).

Layout, from HELM's ``presentation/run_display.py`` (``write_run_display_json``): a run folder holds
``display_predictions.json`` (one object per evaluated request: ``instance_id``, ``perturbation``,
``train_trial_index``, ``predicted_text``, ``truncated_predicted_text``, ``mapped_output``,
``reference_index``, ``stats``), ``instances.json`` (``id``, ``input.text``, ``references`` with
``output.text`` and ``tags``, ``correct`` marking a right one, ``perturbation``) and
``display_requests.json`` (``request.prompt``, or ``request.messages`` for chat models), joined on
(``instance_id``, perturbation, ``train_trial_index``); ``run_spec.json`` gives the run name, the
adapter method and the model. A suite folder holding several runs is read run by run.

Each prediction becomes a record: the prompt is the request's; the output is the predicted text. For the
joint multiple-choice method, the references are the choices and ``mapped_output`` (the option the
answer letter maps to) the pick; an answer that maps to no option is judged as text against the right
letter. For the separate multiple-choice methods the chosen reference is ``reference_index``. Other runs
compare with the correct references (several are alternatives). Pass/fail is the run's main metric in
``stats``: the one ``schema.json`` beside the runs names for the run's group (``environment.main_name``),
else the first of the correctness metrics below. An exact-match metric (0 or 1) decides pass/fail
itself; a graded one (F1, ROUGE, BLEU) is judged against ``--pass-threshold``; with none, advisor
compares the output with the reference. Where the metric is ``final_number_exact_match`` the reference
is the final number of the correct reference (GSM8K's are worked solutions; the text is kept as
``extra["reference_text"]``). Task: the run name without its model; ``extra["model"]``: the adapter's.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

from advisor import EvalRecord, InputError, ReadContext, hookimpl

PREDICTIONS = "display_predictions.json"
#: 0/1 correctness metrics, in the order the main one is looked for when no schema names it
EXACT_METRICS = (
    "exact_match",
    "quasi_exact_match",
    "prefix_exact_match",
    "quasi_prefix_exact_match",
    "final_number_exact_match",
    "math_equiv",
    "math_equiv_chain_of_thought",
    "equiv",
    "equiv_chain_of_thought",
    "exact_match_indicator",
    "exact_set_match",
    "chain_of_thought_correctness",
)
#: graded metrics (0-1), judged against --pass-threshold
GRADED_METRICS = ("f1_score", "rouge_l", "rouge_2", "rouge_1", "bleu_4", "bleu_1", "ifeval_strict_accuracy")
_JOINT = ("multiple_choice_joint", "multiple_choice_joint_chain_of_thought")
_SEPARATE = (
    "multiple_choice_separate_original",
    "multiple_choice_separate_calibrated",
    "multiple_choice_separate_parametric",
)
_NUMBER_RE = re.compile(r"-?\d[\d,]*(?:\.\d+)?")


def _load(path: Path, required: bool = True) -> Any:
    """A JSON file of the run; a missing or broken optional one (schema, run spec) is None."""
    if not path.exists():
        if required:
            raise InputError(f"{path.parent} is not a complete HELM run: {path.name} is missing")
        return None
    try:
        return orjson.loads(path.read_bytes())
    except orjson.JSONDecodeError as exc:
        if not required:
            return None
        raise InputError(f"{path} is not valid JSON ({exc})") from None


def _key(obj: dict) -> tuple[str, str, int]:
    perturbation = obj.get("perturbation")
    name = orjson.dumps(perturbation, option=orjson.OPT_SORT_KEYS).decode() if perturbation else ""
    trial = obj.get("train_trial_index")
    return str(obj.get("instance_id", obj.get("id"))), name, trial if isinstance(trial, int) else 0


def _perturbation_name(pred: dict) -> str:
    perturbation = pred.get("perturbation")
    return str(perturbation.get("name", "perturbed") if isinstance(perturbation, dict) else perturbation)


def _request_prompt(request: dict) -> str:
    if request.get("prompt"):
        return str(request["prompt"])
    messages = request.get("messages")
    if isinstance(messages, list):
        return "\n\n".join(str(m.get("content", "")) for m in messages if isinstance(m, dict))
    media = (request.get("multimodal_prompt") or {}).get("media_objects")
    if isinstance(media, list):
        return "\n".join(str(m.get("text")) for m in media if isinstance(m, dict) and m.get("text"))
    return ""


def task_name(run_name: str) -> str:
    """``mmlu:subject=anatomy,method=multiple_choice_joint,model=openai_gpt2`` without its model."""
    scenario, _, args = run_name.partition(":")
    kept = [a for a in args.split(",") if a and a.split("=", 1)[0] not in ("model", "model_deployment")]
    return f"{scenario}:{','.join(kept)}" if kept else scenario


def main_metric(run_dir: Path, run_spec: dict) -> str | None:
    """The main metric the suite's ``schema.json`` names for the run's groups, if it is there."""
    schema = _load(run_dir.parent / "schema.json", required=False)
    if not isinstance(schema, dict):
        return None
    groups = set(run_spec.get("groups") or [])
    for group in schema.get("run_groups") or []:
        if isinstance(group, dict) and group.get("name") in groups:
            name = (group.get("environment") or {}).get("main_name")
            if isinstance(name, str) and name:
                return name
    return None


def _judgement(rec: EvalRecord, stats: dict, main: str | None) -> None:
    names: list[str] = [main] if main is not None and main in stats else []
    names += [m for m in (*EXACT_METRICS, *GRADED_METRICS) if m in stats and m not in names]
    for name in names:
        value = stats[name]
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            rec.metrics[name] = float(value)
            rec.metric_higher_is_better[name] = True
    if names and names[0] in EXACT_METRICS and names[0] in rec.metrics:
        rec.passed = rec.metrics[names[0]] >= 0.5


class _Run:
    """One run folder: its spec, instances and requests, to turn predictions into records."""

    def __init__(self, run_dir: Path) -> None:
        self.dir = run_dir
        spec = _load(run_dir / "run_spec.json", required=False)
        self.spec: dict = spec if isinstance(spec, dict) else {}
        adapter = self.spec.get("adapter_spec") or {}
        self.method = adapter.get("method")
        self.model = adapter.get("model") or adapter.get("model_deployment")
        prefix = str(adapter.get("reference_prefix") or "A. ")
        self.letters = list(adapter.get("reference_prefix_characters") or []) or [
            chr(ord(prefix.strip()[:1] or "A") + i) for i in range(26)
        ]
        self.task = task_name(str(self.spec.get("name") or run_dir.name))
        self.main = main_metric(run_dir, self.spec)
        instances = _load(run_dir / "instances.json")
        requests = _load(run_dir / "display_requests.json", required=False)
        requests = requests if isinstance(requests, list) else []
        if not isinstance(instances, list):
            raise InputError(f"{run_dir / 'instances.json'} is not a list of instances")
        self.instances = {_key(i)[:2]: i for i in instances if isinstance(i, dict)}
        self.requests = {
            _key(r): r["request"]
            for r in requests
            if isinstance(r, dict) and isinstance(r.get("request"), dict)
        }

    def record(self, pred: dict, source: str, line: int) -> EvalRecord:
        key = _key(pred)
        instance = self.instances.get(key[:2]) or self.instances.get((key[0], ""), {})
        refs = [r for r in instance.get("references") or [] if isinstance(r, dict)]
        texts = [str((r.get("output") or {}).get("text", "")) for r in refs]
        correct = [i for i, r in enumerate(refs) if "correct" in (r.get("tags") or [])]
        request = self.requests.get(key, {})
        prompt = _request_prompt(request) or str((instance.get("input") or {}).get("text", ""))
        output = str(pred.get("predicted_text") or "")
        rec_id = key[0]
        if key[1]:
            rec_id += "/" + _perturbation_name(pred)
        if key[2]:
            rec_id += f"#{key[2]}"
        rec = EvalRecord(source=source, line=line, prompt=prompt, output=output, id=rec_id, task=self.task)
        mapped = pred.get("mapped_output")  # HELM leaves it out when the answer maps to no option
        joint = self.method in _JOINT or (self.method is None and "mapped_output" in pred)
        if joint and mapped is not None and mapped in texts:
            rec.choices, rec.picked = texts, texts.index(mapped)
        elif self.method in _SEPARATE and pred.get("reference_index") in range(len(texts)):
            rec.choices, rec.picked = texts, pred["reference_index"]
            rec.output = str(pred.get("truncated_predicted_text") or texts[rec.picked]).strip()
        if joint and rec.choices is None and correct:
            rec.reference = self.letters[correct[0]] if correct[0] < len(self.letters) else None
            rec.extra["mapped_output"] = mapped
        elif correct:
            rec.reference = texts[correct[0]]
            if len(correct) > 1:
                rec.extra["alternatives"] = [texts[i] for i in correct]
        raw_stats = pred.get("stats")
        stats: dict = raw_stats if isinstance(raw_stats, dict) else {}
        _judgement(rec, stats, self.main)
        if next(iter(rec.metrics), None) == "final_number_exact_match" and rec.reference:
            numbers = _NUMBER_RE.findall(rec.reference)  # the metric compares final numbers: GSM8K's
            if numbers:  # references are worked solutions ending "The answer is 72."
                rec.extra["reference_text"] = rec.reference
                rec.reference = numbers[-1].replace(",", "")
        rec.extra["model"] = self.model
        rec.extra["stats"] = stats
        return rec


def run_folders(path: Path) -> list[Path]:
    """``path`` itself when it is a run, else the runs in it (a suite folder)."""
    if path.is_file():
        return [path.parent] if path.name == PREDICTIONS else []
    if (path / PREDICTIONS).is_file():
        return [path]
    return sorted(p.parent for p in path.glob(f"*/{PREDICTIONS}"))


class HelmReader:
    name = "helm"
    priority = 90
    description = "HELM run folder (display_predictions.json, instances.json, display_requests.json)"

    def sniff(self, path: Path, head: bytes) -> bool:
        if path.is_dir():
            return bool(run_folders(path))
        return path.name == PREDICTIONS

    def read(self, path: Path, ctx: ReadContext) -> Iterator[EvalRecord]:
        runs = run_folders(path)
        if not runs and path.is_file():
            raise InputError(f"{path} is not a HELM run: give the run folder or its {PREDICTIONS}")
        if not runs:
            raise InputError(
                f"{path} holds no HELM run ({PREDICTIONS} is written by helm-summarize: run it on the suite)"
            )
        for run_dir in runs:
            run = _Run(run_dir)
            predictions = _load(run_dir / PREDICTIONS)
            if not isinstance(predictions, list):
                raise InputError(f"{run_dir / PREDICTIONS} is not a list of predictions")
            source = str(run_dir / PREDICTIONS)
            for index, pred in enumerate(predictions, 1):
                if not isinstance(pred, dict) or "instance_id" not in pred:
                    ctx.skip(source, index, "not a HELM prediction (no instance_id)")
                    continue
                yield run.record(pred, source, index)


@hookimpl
def advisor_register_log_readers(register):
    register(HelmReader())
