"""lmms-eval ``--log_samples`` output (``<output>/<model>/<date>_samples_<task>.jsonl``).

Layout, from lmms-eval's ``loggers/evaluation_tracker.py`` (``save_results_samples``) and
``evaluator.py``: one line per document with ``doc_id``, ``target`` (a string), ``input`` (the first
argument of the request: the prompt; ``arguments`` and ``doc`` are dropped), ``resps`` (left out when it
equals the filtered one) and ``filtered_resps`` (stringified; a single response is flattened to a plain
string), ``doc_hash``, ``token_counts`` and each metric of ``process_results`` as a top-level key: a
number, or a dict that carries ``score`` (``mme``, ``pope``, ...). Aggregates are in
``<date>_results.json`` beside it (``configs``, ``higher_is_better``, ``n-shot``, ``model_name``); the task
is the file name's, the model the results' ``model_name`` (else the folder's name). Unlike lm-eval's
samples there is no ``filter`` and no ``arguments``.

Each line becomes a record: prompt = ``input``, output = the filtered response (the raw one is kept as
``extra["raw_output"]``), reference = ``target``. Pass/fail comes from the metrics, judged like
lm-eval's (the first metric, higher-is-better as the results file says, against ``--pass-threshold``);
a metric dict without ``score`` (MMMU's ``mmmu_acc`` holds the parsed answer) leaves advisor to compare
the output with the target. Several log-likelihood responses (a multiple-choice task) give the pick; the
options' texts are not logged, so the choices are their letters (a letter target) or indices.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

from advisor import EvalRecord, InputError, ReadContext, first_json_line, hookimpl, iter_json_lines

_SAMPLES_RE = re.compile(r"^(?P<date>.+?)_samples_(?P<task>.+)\.jsonl$")
_NOT_METRICS = {
    "doc_id",
    "doc",
    "target",
    "arguments",
    "input",
    "input_media",
    "resps",
    "filtered_resps",
    "filter",
    "metrics",
    "doc_hash",
    "prompt_hash",
    "target_hash",
    "token_counts",
    "task_name",
    "task",
}
_LL_RE = re.compile(r"^\(?\s*\[?\s*'?(-?(?:[\d.]+(?:[eE][+-]?\d+)?|inf))")


def task_from_filename(path: Path) -> str:
    m = _SAMPLES_RE.match(path.name)
    return m.group("task") if m else path.stem


def is_lmms_sample(obj: dict | None) -> bool:
    return (
        obj is not None
        and "doc_id" in obj
        and "filtered_resps" in obj
        and "input" in obj
        and "arguments" not in obj
    )


def metrics_of(sample: dict) -> dict[str, float]:
    out = {}
    for key, value in sample.items():
        if key in _NOT_METRICS:
            continue
        if isinstance(value, dict):
            value = value.get("score")
        if isinstance(value, (bool, int, float)):
            out[key] = float(value)
    return out


def _loglikelihood(value: Any) -> float | None:
    """``["-1.5", "False"]`` or ``"(-1.5, False)"``: the log-likelihood."""
    if isinstance(value, list) and value:
        value = value[0]
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    m = _LL_RE.match(str(value).strip()) if isinstance(value, str) else None
    return float(m.group(1)) if m else None


def _first_text(value: Any) -> str:
    while isinstance(value, list) and value:
        value = value[0]
    return "" if value is None or value == [] else str(value)


def sample_to_record(sample: dict, source: str, line: int, task: str, config: dict) -> EvalRecord:
    filtered = sample.get("filtered_resps")
    rec = EvalRecord(
        source=source,
        line=line,
        prompt=_first_text(sample.get("input")),
        reference=None if sample.get("target") is None else str(sample["target"]),
        task=task,
        doc_id=sample["doc_id"] if isinstance(sample.get("doc_id"), int) else None,
        metrics=metrics_of(sample),
        metric_higher_is_better=dict(config.get("higher_is_better") or {}),
        output_type=config.get("output_type"),
    )
    lls = [_loglikelihood(v) for v in filtered] if isinstance(filtered, list) and len(filtered) > 1 else []
    if lls and all(x is not None for x in lls):
        scores = [x for x in lls if x is not None]
        letters = len(rec.reference or "") == 1 and (rec.reference or "").isupper()
        rec.choices = [chr(65 + i) if letters else str(i) for i in range(len(scores))]  # texts not logged
        rec.picked = max(range(len(scores)), key=scores.__getitem__)
        rec.output = rec.choices[rec.picked]
        rec.output_type = rec.output_type or "multiple_choice"
    else:
        rec.output = _first_text(filtered)
        rec.output_type = rec.output_type or "generate_until"
        raw = _first_text(sample["resps"]) if "resps" in sample else ""
        if raw and raw.strip() != rec.output.strip():
            rec.extra["raw_output"] = raw
    if "num_fewshot" in config:
        rec.extra["n_shot"] = config["num_fewshot"]
    rec.extra["model"] = config.get("model") or Path(source).parent.name.replace("__", "/")
    return rec


def _mapping(data: dict, key: str) -> dict:
    value = data.get(key)
    return value if isinstance(value, dict) else {}


def load_results(folder: Path) -> dict[str, dict]:
    """Task -> {output_type, num_fewshot, higher_is_better} from the ``*_results.json`` files."""
    configs: dict[str, dict] = {}
    for path in sorted(folder.glob("*_results.json")):
        try:
            data = orjson.loads(path.read_bytes())
        except (orjson.JSONDecodeError, OSError):
            continue
        if not isinstance(data, dict):
            continue
        for task, cfg in _mapping(data, "configs").items():
            if isinstance(cfg, dict):
                configs.setdefault(task, {})["output_type"] = cfg.get("output_type")
        for task, hib in _mapping(data, "higher_is_better").items():
            if isinstance(hib, dict):
                configs.setdefault(task, {})["higher_is_better"] = {k: bool(v) for k, v in hib.items()}
        for task, shots in _mapping(data, "n-shot").items():
            configs.setdefault(task, {})["num_fewshot"] = shots
        if isinstance(data.get("model_name"), str):
            for entry in configs.values():
                entry["model"] = data["model_name"]
    return configs


def sample_files(path: Path) -> list[Path]:
    if not path.is_dir():
        return []
    return sorted(p for p in path.rglob("*_samples_*.jsonl") if _SAMPLES_RE.match(p.name))


class LmmsEvalReader:
    name = "lmms-eval"
    #: above lm-eval (100), whose sniffing would claim these files too
    priority = 110
    description = "lmms-eval --log_samples output (a folder, or <date>_samples_<task>.jsonl files)"

    def sniff(self, path: Path, head: bytes) -> bool:
        if path.is_dir():
            return bool(sample_files(path))
        obj = first_json_line(head)
        if is_lmms_sample(obj):
            return True
        named = bool(_SAMPLES_RE.match(path.name))
        return named and obj is not None and "doc_id" in obj and "arguments" not in obj

    def read(self, path: Path, ctx: ReadContext) -> Iterator[EvalRecord]:
        files = sample_files(path) if path.is_dir() else [path]
        if not files:
            raise InputError(
                f"{path} holds no <date>_samples_<task>.jsonl files: run lmms-eval with --log_samples"
            )
        found = False
        for file in files:
            task = task_from_filename(file)
            config = load_results(file.parent).get(task, {})
            source = str(file)
            for lineno, sample in iter_json_lines(file, ctx):
                if "doc_id" not in sample:
                    ctx.skip(source, lineno, "not an lmms-eval sample (no doc_id)")
                    continue
                found = True
                yield sample_to_record(sample, source, lineno, task, config)
        if not found:
            raise InputError(f"{path} holds no lmms-eval samples (lines with a doc_id)")


@hookimpl
def advisor_register_log_readers(register):
    register(LmmsEvalReader())
