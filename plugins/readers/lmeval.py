"""lm-evaluation-harness ``--log_samples`` output.

A run writes ``results_<date>.json`` (task configs, aggregate scores) and one
``samples_<task>_<date>.jsonl`` per task, usually in a folder named after the model.
Each sample line is one (document, filter) pair: ``doc_id``, ``doc``, ``target``,
``arguments`` (``gen_args_i/arg_j``: the prompt, then generation kwargs or a
continuation), ``resps``/``filtered_resps`` (stringified), ``filter``, ``metrics``
(the names) and each metric's value as a top-level key. Some forks write
``arguments`` as a plain list; both shapes are read.

Each file is read twice: the first pass notes which filters of each document passed,
so that a strict filter failing where a lenient one passes can be called a format
failure. Nothing else is kept in memory.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

from advisor import EvalRecord, InputError, ReadContext, first_json_line, hookimpl, iter_json_lines

_SAMPLES_RE = re.compile(r"^samples_(?P<task>.+?)(?:_(?P<date>\d{4}-\d{2}-\d{2}T[\d\-.:]+))?\.jsonl$")
_SKIP_METRIC_KEYS = {
    "doc_id",
    "doc",
    "target",
    "arguments",
    "resps",
    "filtered_resps",
    "filter",
    "metrics",
    "doc_hash",
    "prompt_hash",
    "target_hash",
    "task_name",
    "task",
}


def task_from_filename(path: Path) -> str:
    m = _SAMPLES_RE.match(path.name)
    return m.group("task") if m else path.stem


def _arguments(sample: dict) -> list[list[Any]]:
    """``arguments`` as a list of requests, each a list of args, whatever the shape."""
    args = sample.get("arguments")
    if isinstance(args, dict):
        out = []
        for key in sorted(args, key=lambda k: int(k.rsplit("_", 1)[-1]) if k[-1].isdigit() else 0):
            req = args[key]
            if isinstance(req, dict):
                out.append([req[k] for k in sorted(req, key=lambda k: int(k.rsplit("_", 1)[-1]))])
            else:
                out.append(req if isinstance(req, list) else [req])
        return out
    if isinstance(args, list):
        return [a if isinstance(a, list) else [a] for a in args]
    return []


def _loglikelihood(value: Any) -> float | None:
    """A log-likelihood from ``["-1.5", "False"]``, ``"(-1.5, False)"`` or ``-1.5``."""
    if isinstance(value, list) and value:
        value = value[0]
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        m = re.match(r"\(?\s*(-?[\d.eE+-]+|-?inf|nan)", value)
        if m:
            try:
                return float(m.group(1))
            except ValueError:
                return None
    return None


def _metrics(sample: dict) -> dict[str, float]:
    names = sample.get("metrics")
    keys = names if isinstance(names, list) else [k for k in sample if k not in _SKIP_METRIC_KEYS]
    out = {}
    for key in keys:
        value = sample.get(key)
        if isinstance(value, bool) or isinstance(value, (int, float)):
            out[key] = float(value)
        elif isinstance(value, list) and value and isinstance(value[0], (int, float)):
            out[key] = float(value[0])  # e.g. f1 logs [pred, ref] pairs; first element
    return out


def _target_text(sample: dict, choices: list[str] | None) -> str | None:
    target = sample.get("target")
    if target is None:
        return None
    if isinstance(target, list):
        target = target[0] if len(target) == 1 else " | ".join(map(str, target))
    text = str(target)
    if "####" in text:  # GSM8K-style targets: a worked solution, then "#### answer"
        text = text.rsplit("####", 1)[1].strip()
    if choices and text.strip().lstrip("-").isascii() and text.strip().lstrip("-").isdigit():
        idx = int(text)
        if 0 <= idx < len(choices):
            return choices[idx]
    return text


#: what lm-eval's regex filters write when they find no answer
INVALID = "[invalid]"


def _first_text(value: Any) -> str:
    while isinstance(value, list) and value:
        value = value[0]
    return "" if value is None or value == [] else str(value)


def sample_to_record(sample: dict, source: str, line: int, task: str, config: dict) -> EvalRecord:
    extra_invalid = False
    raw = ""
    requests = _arguments(sample)
    prompt = str(requests[0][0]) if requests and requests[0] else ""
    filtered = sample.get("filtered_resps")
    if filtered is None:
        filtered = sample.get("resps")
    output_type = config.get("output_type")
    choices = picked = None
    # Several requests for one document, each with a continuation: a multiple-choice task.
    is_mc = len(requests) > 1 or output_type in ("multiple_choice", "loglikelihood")
    if is_mc and requests and len(requests[0]) > 1 and isinstance(requests[0][1], str):
        choices = [str(r[1]).strip() for r in requests]
        lls = [_loglikelihood(v) for v in (filtered or [])]
        scores = [x for x in lls if x is not None]
        if lls and len(scores) == len(lls):
            picked = max(range(len(scores)), key=scores.__getitem__)
        output = choices[picked] if picked is not None and picked < len(choices) else ""
        output_type = output_type or "multiple_choice"
    else:
        output = _first_text(filtered)
        output_type = output_type or "generate_until"
        raw = _first_text(sample.get("resps"))
        if output.strip() == INVALID and raw:  # the filter found no answer: judge the raw generation
            output, raw = raw, ""
            extra_invalid = True
    rec = EvalRecord(
        source=source,
        line=line,
        prompt=prompt,
        output=output,
        reference=_target_text(sample, choices),
        task=task,
        doc_id=sample["doc_id"] if isinstance(sample.get("doc_id"), int) else None,
        filter=sample.get("filter"),
        metrics=_metrics(sample),
        metric_higher_is_better=config.get("higher_is_better", {}),
        output_type=output_type,
        choices=choices,
        picked=picked,
    )
    doc = sample.get("doc")
    if isinstance(doc, dict) and doc.get("id") is not None:
        rec.id = str(doc["id"])
    if "num_fewshot" in config:
        rec.extra["n_shot"] = config["num_fewshot"]
    if extra_invalid:
        rec.extra["filter_invalid"] = True
    elif raw and raw.strip() != output.strip():
        rec.extra["raw_output"] = raw  # what the model wrote before the filter extracted an answer
    return rec


def load_results(folder: Path) -> dict[str, dict]:
    """Task name -> {output_type, num_fewshot, higher_is_better} from results_*.json files."""
    configs: dict[str, dict] = {}
    for path in sorted(folder.glob("results_*.json")):
        try:
            data = orjson.loads(path.read_bytes())
        except (orjson.JSONDecodeError, OSError):
            continue
        if not isinstance(data, dict):
            continue
        hib = data.get("higher_is_better") or {}
        if not isinstance(hib, dict):
            hib = {}
        nshot = data.get("n-shot") or {}
        configs_of = data.get("configs")
        for task, cfg in (configs_of if isinstance(configs_of, dict) else {}).items():
            entry = configs.setdefault(task, {})
            if isinstance(cfg, dict):
                entry["output_type"] = cfg.get("output_type")
                if cfg.get("num_fewshot") is not None:
                    entry["num_fewshot"] = cfg["num_fewshot"]
                for m in cfg.get("metric_list") or []:
                    if isinstance(m, dict) and "metric" in m and "higher_is_better" in m:
                        entry.setdefault("higher_is_better", {})[m["metric"]] = bool(m["higher_is_better"])
            if task in nshot:
                entry.setdefault("num_fewshot", nshot[task])
            per_task = hib.get(task)
            for metric, better in (per_task if isinstance(per_task, dict) else {}).items():
                entry.setdefault("higher_is_better", {}).setdefault(metric, bool(better))
    return configs


def _doc_key(sample: dict) -> str:
    """A hashable key for a sample's document (doc_id may be any JSON value)."""
    return orjson.dumps(sample.get("doc_id")).decode()


def is_lmeval_sample(obj: dict | None) -> bool:
    return obj is not None and "doc_id" in obj and ("filtered_resps" in obj or "resps" in obj)


class LmEvalReader:
    name = "lm-eval"
    priority = 100
    description = "lm-evaluation-harness --log_samples output (a folder, or samples_*.jsonl files)"

    def sniff(self, path: Path, head: bytes) -> bool:
        if path.is_dir():
            return any(path.rglob("samples_*.jsonl")) or any(path.rglob("results_*.json"))
        if path.name.startswith("results_") and path.suffix == ".json":
            return True
        return is_lmeval_sample(first_json_line(head))

    def files(self, path: Path) -> list[Path]:
        if path.is_dir():
            files = sorted(path.rglob("samples_*.jsonl"))
            if not files:
                raise InputError(
                    f"{path} holds no samples_*.jsonl files: run lm-eval with --log_samples "
                    "to get per-sample logs"
                )
            return files
        if path.name.startswith("results_") and path.suffix == ".json":
            files = sorted(path.parent.glob("samples_*.jsonl"))
            if not files:
                raise InputError(f"no samples_*.jsonl beside {path}: run lm-eval with --log_samples")
            return files
        return [path]

    def read(self, path: Path, ctx: ReadContext) -> Iterator[EvalRecord]:
        for file in self.files(path):
            configs = load_results(file.parent)
            task = task_from_filename(file)
            yield from self._read_file(file, task, configs.get(task, {}), ctx)

    def _read_file(self, file: Path, task: str, config: dict, ctx: ReadContext) -> Iterator[EvalRecord]:
        source = str(file)
        # Pass 1: metrics of every (doc, filter), to compare filters of one document.
        by_doc: dict[Any, dict[str, dict[str, float]]] = {}
        quiet = ReadContext()  # bad lines are reported once, in pass 2
        for _, sample in iter_json_lines(file, quiet):
            by_doc.setdefault(_doc_key(sample), {})[str(sample.get("filter"))] = _metrics(sample)
        multi_filter = any(len(f) > 1 for f in by_doc.values())
        for lineno, sample in iter_json_lines(file, ctx):
            if "doc_id" not in sample:
                ctx.skip(source, lineno, "not an lm-eval sample (no doc_id)")
                continue
            rec = sample_to_record(sample, source, lineno, str(sample.get("task_name") or task), config)
            if multi_filter:
                siblings = by_doc.get(_doc_key(sample), {})
                rec.extra["sibling_filters"] = {k: v for k, v in siblings.items() if k != rec.filter}
            yield rec


@hookimpl
def advisor_register_log_readers(register):
    register(LmEvalReader())
