"""lm-evaluation-harness ``--log_samples`` output, in every shape its versions wrote.

Layouts (the writer code is cited in ``tests/data/formats/lmeval/README.md``):

- 0.4.3 and later: ``<output_path>/<model_name_sanitized>/results_<date>.json`` and one
  ``samples_<task>_<date>.jsonl`` per task (JSON Lines). With ``--output_path x.json`` (0.4.9+) the
  results file is ``x_<date>.json`` and the samples lie beside it, so the runs of several models can
  share one folder: each samples file is paired with the results file of the same date stamp.
- May to June 2024 (between 0.4.2 and 0.4.3): ``samples_<task>_<date>.json``, one JSON array (May) or
  JSON Lines under that name (June).
- 0.4.0 to 0.4.2: ``results.json`` and ``<model_args sanitized>_<task>.jsonl`` holding ONE JSON array;
  the task is the suffix of the name that is a key of the results file's ``configs``.
- Any samples file may be gzipped (``.jsonl.gz``).

Each sample is one (document, filter) pair: ``doc_id``, ``doc``, ``target``, ``arguments`` (the
requests: ``gen_args_i/arg_j`` since 0.4.3, a list of lists before), ``resps``/``filtered_resps``,
``filter`` (since 0.4.7: before, the samples come in one block per filter, in the order of the
task's ``filter_list``, which is how the filter is recovered here), ``metrics`` (the names, 0.4.7+) and
each metric's value as a top-level key.

Pass/fail follows the task's primary metric: the first ``higher_is_better`` metric of the task's
``metric_list``. Perplexity metrics never decide, ``loglikelihood_rolling`` tasks and predict-only runs
(``bypass``) are marked not judged; truthfulqa_gen's ``*_max``/``*_diff`` scores give way to its
``*_acc`` verdicts. Each file is read twice: the first pass notes which filters of each document
passed, so that a strict filter failing where a lenient one passes can be called a format failure.
"""

from __future__ import annotations

import ast
import gzip
import math
import os
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from advisor import EvalRecord, InputError, ReadContext, first_json_line, hookimpl, iter_json_lines

#: ``datetime.now().isoformat().replace(":", "-")``, as lm-eval stamps its files
_DATE = r"\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}(?:\.\d+)?"
_SAMPLES_RE = re.compile(rf"^samples_(?P<task>.+?)(?:_(?P<date>{_DATE}))?\.(?:jsonl|json)(?:\.gz)?$")
_DATED_RESULTS_RE = re.compile(rf"^(?!samples_)(?P<stem>.+)_(?P<date>{_DATE})\.json$")
_SAMPLE_EXTS = (".jsonl", ".json", ".jsonl.gz", ".json.gz")
#: an aggregate score key of a results file: ``"acc,none"``, ``"exact_match,strict-match"``
_SCORE_KEY_RE = re.compile(rb'"[\w.\-]+,[\w.\-]+"\s*:')
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
#: corpus-level scores: a sample's value is a (loglikelihood, count) pair or a raw loglikelihood
PERPLEXITY_METRICS = frozenset({"perplexity", "word_perplexity", "byte_perplexity", "bits_per_byte"})
_LOWER_IS_BETTER = PERPLEXITY_METRICS | {"brier_score", "ter"}
#: GeneralConfigTracker._get_model_name: the model_args keys that name the model, in this order
_MODEL_KEYS = ("peft", "delta", "pretrained", "model", "path", "engine")
#: what lm-eval's regex filters write when they find no answer
INVALID = "[invalid]"


# -- results files -----------------------------------------------------------------------------------------


@dataclass
class TaskInfo:
    """What a results file says about one task."""

    output_type: str | None = None
    num_fewshot: Any = None
    #: ``metric_list`` names in order, then the other metrics of ``higher_is_better``
    metric_order: list[str] = field(default_factory=list)
    higher_is_better: dict[str, bool] = field(default_factory=dict)
    #: ``filter_list`` names in order (``["none"]`` when the task has none); empty when unknown
    filters: list[str] = field(default_factory=list)
    target_delimiter: str = " "


@dataclass
class Run:
    """One results file."""

    path: Path
    date: str | None
    model: str | None
    tasks: dict[str, TaskInfo]
    model_args: Any = None


@dataclass
class SamplesFile:
    path: Path
    task: str
    run: Run | None
    model: str


def _model_from_args(model_args: Any) -> str | None:
    if isinstance(model_args, dict):
        return next((str(model_args[k]) for k in _MODEL_KEYS if k in model_args), None)
    if isinstance(model_args, str):
        for key in _MODEL_KEYS:
            if f"{key}=" in model_args:
                return model_args.split(f"{key}=")[1].split(",")[0]
    return None


def _task_info(cfg: Any) -> TaskInfo:
    info = TaskInfo()
    if not isinstance(cfg, dict):
        return info
    if isinstance(cfg.get("output_type"), str):
        info.output_type = cfg["output_type"]
    info.num_fewshot = cfg.get("num_fewshot")
    for m in cfg.get("metric_list") or []:
        if isinstance(m, dict) and isinstance(m.get("metric"), str):
            info.metric_order.append(m["metric"])
            if isinstance(m.get("higher_is_better"), bool):
                info.higher_is_better[m["metric"]] = m["higher_is_better"]
    filters = cfg.get("filter_list")
    if isinstance(filters, list):
        info.filters = [f["name"] for f in filters if isinstance(f, dict) and isinstance(f.get("name"), str)]
    elif filters is None:
        info.filters = ["none"]  # Task.__init__: build_filter_ensemble("none", [["take_first", None]])
    if isinstance(cfg.get("target_delimiter"), str):
        info.target_delimiter = cfg["target_delimiter"]
    return info


def _dict(value: Any) -> dict:
    return value if isinstance(value, dict) else {}


def parse_results(path: Path, date: str | None = None) -> Run | None:
    """A results file (``results_<date>.json``, ``<stem>_<date>.json``, ``results.json``), or None."""
    try:
        data = orjson.loads(path.read_bytes())
    except (orjson.JSONDecodeError, OSError):
        return None
    if not isinstance(data, dict):
        return None
    configs, hib, nshot, config = (
        _dict(data.get(k)) for k in ("configs", "higher_is_better", "n-shot", "config")
    )
    tasks: dict[str, TaskInfo] = {}
    for task in [*configs, *(t for t in hib if t not in configs)]:
        info = tasks[task] = _task_info(configs.get(task))
        per_task = hib.get(task)
        for metric, better in (per_task if isinstance(per_task, dict) else {}).items():
            info.higher_is_better.setdefault(metric, bool(better))
            if metric not in info.metric_order:
                info.metric_order.append(metric)
        if info.num_fewshot is None and task in nshot:
            info.num_fewshot = nshot[task]
    args = config.get("model_args")
    model = data.get("model_name") or data.get("model_name_sanitized") or _model_from_args(args)
    return Run(path, date, str(model) if model else None, tasks, args)


def looks_like_results(head: bytes) -> bool:
    """The head of an lm-eval results file: a ``results`` object of ``"metric,filter"`` scores."""
    return (
        head.lstrip()[:1] == b"{"
        and b'"results"' in head
        and any(key in head for key in (b'"configs"', b'"versions"', b'"n-shot"'))
        and bool(_SCORE_KEY_RE.search(head))
    )


# -- finding the samples files and their results -----------------------------------------------------------


def task_from_filename(path: Path) -> str:
    m = _SAMPLES_RE.match(path.name)
    return m.group("task") if m else _strip_ext(path.name)


def _strip_ext(name: str) -> str:
    for ext in (".gz", ".jsonl", ".json"):
        name = name.removesuffix(ext)
    return name


def _read_head(path: Path, n: int = 64 * 1024) -> bytes:
    try:
        with path.open("rb") as fh:
            return fh.read(n)
    except OSError:
        return b""


def _folder_runs(folder: Path, names: list[str]) -> tuple[dict[str, Run], list[Run]]:
    """The results files of one folder: dated ones by their date stamp, and ``results.json``."""
    dated: dict[str, Run] = {}
    undated: list[Run] = []
    for name in names:
        m = _DATED_RESULTS_RE.match(name)
        if m and (run := parse_results(folder / name, m.group("date"))):
            dated[m.group("date")] = run
        elif name == "results.json" and (run := parse_results(folder / name)):
            undated.append(run)
    return dated, undated


def _fallback_run(task: str, dated: dict[str, Run], undated: list[Run]) -> Run | None:
    """The newest results file of the folder that knows ``task`` (a samples file with no twin)."""
    for run in [*(dated[d] for d in sorted(dated, reverse=True)), *undated]:
        if task in run.tasks:
            return run
    return None


def _old_style_task(name: str, runs: list[Run]) -> tuple[str, Run, str] | None:
    """0.4.0-0.4.2's ``<model_args>_<task>.jsonl``: (task, results, name prefix), the longest task wins."""
    if not name.endswith(_SAMPLE_EXTS) or name == "results.json":
        return None
    stem = _strip_ext(name)
    best = None
    for run in runs:
        for task in run.tasks:
            if stem.endswith("_" + task) and (best is None or len(task) > len(best[0])):
                best = (task, run, stem[: -len(task) - 1])
    return best


def _model_from_prefix(prefix: str) -> str | None:
    """The model in 0.4.0-0.4.2's file prefix: model_args with ``/`` and ``=`` written as ``__``."""
    for key in _MODEL_KEYS:
        for part in prefix.split(","):
            if part.startswith(key + "__"):
                return part[len(key) + 2 :]
    return None


def scan_folder(folder: Path, names: list[str]) -> list[SamplesFile]:
    """The samples files among ``names`` (files of ``folder``), each with its results file and model."""
    dated, undated = _folder_runs(folder, names)
    models = {run.model for run in [*dated.values(), *undated] if run.tasks}
    out = []
    for name in sorted(names):
        m = _SAMPLES_RE.match(name)
        if m:
            task, date = m.group("task"), m.group("date")
            run = dated.get(date) if date else None
            twin = run is not None and task in run.tasks
            if not twin:
                run = _fallback_run(task, dated, undated)
            # a results file of another date names the model only when the folder holds one model
            model = run.model if run and (twin or len(models) == 1) else None
            out.append(SamplesFile(folder / name, task, run, model or folder.name))
        elif undated and (found := _old_style_task(name, undated)):
            task, run, prefix = found
            model = run.model
            if prefix and prefix != re.sub("/|=", "__", str(run.model_args)):
                model = _model_from_prefix(prefix) or prefix
            out.append(SamplesFile(folder / name, task, run, model or folder.name))
    return out


def _walk(root: Path) -> Iterator[tuple[Path, list[str]]]:
    for folder, dirs, files in os.walk(root):
        dirs.sort()
        yield Path(folder), files


def find_samples(path: Path) -> list[SamplesFile]:
    """The samples files of a folder, a results file or a samples file."""
    if path.is_dir():
        return [s for folder, files in _walk(path) for s in scan_folder(folder, files)]
    folder = path.parent
    names = [p.name for p in folder.iterdir() if p.is_file()] if folder.is_dir() else [path.name]
    found = scan_folder(folder, names)
    m = _DATED_RESULTS_RE.match(path.name)
    if m or path.name == "results.json":
        same_date = [s for s in found if m and s.run is not None and s.run.date == m.group("date")]
        return same_date or found
    mine = [s for s in found if s.path == path]
    if mine:
        return mine
    return [SamplesFile(path, task_from_filename(path), None, folder.name)]


# -- reading samples ---------------------------------------------------------------------------------------


def _open(path: Path):
    return gzip.open(path, "rb") if path.name.endswith(".gz") else path.open("rb")


def _is_array(path: Path) -> bool:
    try:
        with _open(path) as fh:
            head = fh.read(4096)
    except (OSError, EOFError) as exc:
        raise InputError(f"cannot read {path}: {exc}") from None
    return head.removeprefix(b"\xef\xbb\xbf").lstrip()[:1] == b"["


def _gz_lines(path: Path, ctx: ReadContext) -> Iterator[tuple[int, dict]]:
    source = str(path)
    try:
        with gzip.open(path, "rb") as fh:
            for lineno, raw in enumerate(fh, 1):
                if not raw.strip():
                    continue
                try:
                    obj = orjson.loads(raw)
                except orjson.JSONDecodeError:
                    ctx.skip(source, lineno, "not valid JSON")
                    continue
                if isinstance(obj, dict):
                    yield lineno, obj
                else:
                    ctx.skip(source, lineno, "not a JSON object")
    except (OSError, EOFError) as exc:
        raise InputError(f"cannot read {path}: {exc}") from None


def iter_samples(path: Path, ctx: ReadContext) -> Iterator[tuple[int, dict]]:
    """(line, sample) from JSON Lines, a JSON array (line: the element's 1-based index), gzipped or not."""
    if _is_array(path):
        try:
            with _open(path) as fh:
                data = orjson.loads(fh.read())
        except (orjson.JSONDecodeError, OSError, EOFError) as exc:
            raise InputError(f"cannot read {path} as a JSON array: {exc}") from None
        for index, obj in enumerate(data if isinstance(data, list) else [], 1):
            if isinstance(obj, dict):
                yield index, obj
            else:
                ctx.skip(str(path), index, "not a JSON object")
    elif path.name.endswith(".gz"):
        yield from _gz_lines(path, ctx)
    else:
        yield from iter_json_lines(path, ctx)


def with_filters(samples: Iterator[tuple[int, dict]], names: list[str]) -> Iterator[tuple[int, dict]]:
    """Fill in ``filter`` where the sample has none (before 0.4.7).

    lm-eval logs the documents once per filter, filter by filter in ``filter_list`` order (per rank, on
    several GPUs): the n-th time a document comes is its n-th filter.
    """
    seen: Counter[str] = Counter()
    for lineno, sample in samples:
        if "filter" not in sample:
            key = _doc_key(sample)
            n = seen[key]
            seen[key] += 1
            sample["filter"] = names[n] if n < len(names) else None
            sample["_filter_inferred"] = True
        yield lineno, sample


def _doc_key(sample: dict) -> str:
    """A hashable key for a sample's document (doc_id may be any JSON value)."""
    return orjson.dumps(sample.get("doc_id")).decode()


def is_lmeval_sample(obj: dict | None) -> bool:
    return obj is not None and "doc_id" in obj and ("filtered_resps" in obj or "resps" in obj)


def _head_is_sample_array(head: bytes) -> bool:
    return (
        head.removeprefix(b"\xef\xbb\xbf").lstrip()[:1] == b"["
        and b'"doc_id"' in head
        and (b'"resps"' in head or b'"filtered_resps"' in head or b'"arguments"' in head)
    )


# -- one sample to one record ------------------------------------------------------------------------------


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
    """A log-likelihood from ``["-1.5", "False"]``, ``[-1.5, false]``, ``"(-1.5, False)"`` or ``-1.5``."""
    if isinstance(value, list) and value:
        value = value[0]
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        m = re.match(r"\(?\s*(-?[\d.eE+-]+|-?inf|nan)", value)
        if m:
            try:
                return float(m.group(1))
            except ValueError:
                return None
    return None


def _messages_text(messages: list) -> str | None:
    """The contents of a chat message list joined, or None when it is not one."""
    if not messages or not all(isinstance(m, dict) and "content" in m for m in messages):
        return None
    parts = []
    for m in messages:
        content = m["content"]
        if isinstance(content, list):  # multimodal parts: keep the text ones
            content = "\n".join(
                str(p.get("text", "")) for p in content if isinstance(p, dict) and p.get("text")
            )
        parts.append(str(content))
    return "\n\n".join(parts)


def prompt_text(value: Any) -> tuple[str, bool]:
    """The prompt of ``arg_0``, and whether it was a chat (a JSON list of messages, as API models log it:
    ``JsonChatStr`` serialises as ``["[{\\"role\\": ...}]"]``)."""
    if isinstance(value, list) and len(value) == 1 and isinstance(value[0], str):
        value = value[0]
    if isinstance(value, list):
        text = _messages_text(value)
        return (text, True) if text is not None else (str(value), False)
    if isinstance(value, str) and value.startswith("[{") and value.rstrip().endswith("]"):
        try:
            text = _messages_text(orjson.loads(value))
        except orjson.JSONDecodeError:
            text = None
        if text is not None:
            return text, True
    return ("" if value is None else str(value)), False


def _metric_value(value: Any) -> float | None:
    if isinstance(value, (bool, int, float)):
        value = float(value)
        return None if math.isnan(value) else value
    if isinstance(value, list) and value and all(isinstance(v, bool) for v in value):
        return sum(value) / len(value)  # ifeval's inst_level_*_acc: one verdict per instruction
    return None  # (gold, pred) or (loglikelihood, count) pairs: inputs of a corpus-level aggregate


def _metrics(sample: dict) -> dict[str, float]:
    names = sample.get("metrics")
    keys = names if isinstance(names, list) else [k for k in sample if k not in _SKIP_METRIC_KEYS]
    out = {}
    for key in keys:
        if isinstance(key, str) and not key.startswith("_"):
            value = _metric_value(sample.get(key))
            if value is not None:
                out[key] = value
    return out


def _literal_list(text: str) -> list | None:
    """A list target stringified by ``str(target)`` (0.4.4+): ``"['a', 'b']"``, ``"[0, 2]"``."""
    text = text.strip()
    if not (text.startswith("[") and text.endswith("]")):
        return None
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return None
    # only Python's own repr: a JSON array written as the answer (``["a", "b"]``) stays a string
    return value if isinstance(value, list) and repr(value) == text else None


def _one_target(target: Any, choices: list[str] | None) -> str:
    if isinstance(target, int) and not isinstance(target, bool) and choices and 0 <= target < len(choices):
        return choices[target]
    text = str(target)
    if "####" in text:  # GSM8K-style targets: a worked solution, then "#### answer"
        text = text.rsplit("####", 1)[1].strip()
    digits = text.strip()
    if choices and digits.isascii() and digits.isdigit() and int(digits) < len(choices):
        return choices[int(digits)]
    return text


def reference(sample: dict, choices: list[str] | None) -> tuple[str | None, list[str] | None]:
    """The reference text and, where the target lists several acceptable answers, those answers."""
    target = sample.get("target")
    if target is None:
        return None, None
    items = target if isinstance(target, list) else _literal_list(target) if isinstance(target, str) else None
    if items is not None and len(items) == 1:
        target, items = items[0], None
    if items:
        alternatives = list(dict.fromkeys(_one_target(t, choices) for t in items))
        return " | ".join(alternatives), alternatives if len(alternatives) > 1 else None
    text = _one_target(target, choices)
    doc = sample.get("doc")
    if not text.strip() and isinstance(doc, dict) and isinstance(doc.get("correct_answers"), list):
        answers = [str(a) for a in doc["correct_answers"]]  # truthfulqa_gen: the target is " "
        return " | ".join(answers), answers
    return text, None


def _ifeval(sample: dict, rec: EvalRecord) -> None:
    """ifeval's target is a placeholder: name the instructions instead, the failed ones first."""
    doc = sample.get("doc")
    ids = doc.get("instruction_id_list") if isinstance(doc, dict) else None
    strict = sample.get("inst_level_strict_acc")
    if not isinstance(ids, list) or not isinstance(strict, list):
        return
    failed = [str(i) for i, ok in zip(ids, strict, strict=False) if not ok]
    loose = sample.get("inst_level_loose_acc")
    rec.extra["instructions"] = [str(i) for i in ids]
    rec.extra["instructions_failed"] = failed
    if isinstance(loose, list):
        rec.extra["instructions_failed_loose"] = [str(i) for i, ok in zip(ids, loose, strict=False) if not ok]
    rec.reference = "follow: " + ", ".join(failed or rec.extra["instructions"])


def primary_metric(metrics: dict[str, float], info: TaskInfo) -> str | None:
    """The metric that decides pass/fail: the first higher-is-better one of the task's ``metric_list``.

    Never a perplexity; and a ``*_max``/``*_diff`` score gives way when a ``*_acc`` verdict of the same
    measure exists (truthfulqa_gen: ``bleu_max`` is a BLEU score, ``bleu_acc`` the verdict).
    """
    verdicts = {m[: -len("_acc")] for m in metrics if m.endswith("_acc")}
    for name in dict.fromkeys([*info.metric_order, *metrics]):
        if name not in metrics or name in PERPLEXITY_METRICS or name == "bypass":
            continue
        if not info.higher_is_better.get(name, name not in _LOWER_IS_BETTER):
            continue
        if re.sub(r"_(max|diff)$", "", name) in verdicts - {name}:
            continue
        return name
    return None


def _not_judged_reason(sample: dict, rec: EvalRecord, info: TaskInfo) -> str | None:
    names: list = sample["metrics"] if isinstance(sample.get("metrics"), list) else []
    if "bypass" in names or "bypass" in sample or "bypass" in info.metric_order:
        return "predict-only run (--predict_only): lm-eval computed no metric (bypass)"
    if (info.output_type or rec.output_type) == "loglikelihood_rolling":
        return "loglikelihood_rolling task: perplexity is a corpus-level score, with no pass/fail per sample"
    listed = set(names) | set(info.metric_order) | set(rec.metrics)
    if listed and listed <= PERPLEXITY_METRICS:
        return f"only perplexity metrics ({', '.join(sorted(listed))}), which have no pass/fail per sample"
    return None


def _set_judging(rec: EvalRecord, sample: dict, info: TaskInfo) -> str | None:
    """Mark the record not judged, or put its primary metric first (the judge takes the first one)."""
    reason = _not_judged_reason(sample, rec, info)
    if reason:
        rec.extra["not_judged"] = True
        rec.extra["not_judged_reason"] = reason
        return None
    primary = primary_metric(rec.metrics, info)
    if primary:
        rec.metrics = {primary: rec.metrics[primary], **rec.metrics}
        rec.extra["primary_metric"] = primary
    return primary


def _choices(requests: list[list[Any]], info: TaskInfo) -> tuple[list[str], list[str]]:
    """The choices as shown (stripped) and as lm-eval measures them (without the target delimiter)."""
    conts = [str(r[1]) if len(r) > 1 else "" for r in requests]
    delim = info.target_delimiter
    if len(requests) % 2 == 0 and all(r[0] == "" for r in requests[len(requests) // 2 :]):
        conts = conts[: len(conts) // 2]  # acc_mutual_info: the unconditional requests follow
    raw = [c[len(delim) :] for c in conts] if delim and all(c.startswith(delim) for c in conts) else conts
    return [c.strip() for c in conts], raw


def pick(lls: list[float], raw_choices: list[str], metric: str | None) -> int:
    """The choice the metric scored: ``acc`` argmax loglikelihood, ``acc_norm`` per character of the
    choice, ``acc_bytes`` per UTF-8 byte, ``acc_mutual_info`` minus the unconditional loglikelihood."""
    n = len(raw_choices)
    scores = lls[:n]
    if metric == "acc_norm":
        scores = [s / max(len(c), 1) for s, c in zip(scores, raw_choices, strict=False)]
    elif metric == "acc_bytes":
        scores = [s / max(len(c.encode("utf-8")), 1) for s, c in zip(scores, raw_choices, strict=False)]
    elif metric == "acc_mutual_info" and len(lls) == 2 * n:
        scores = [c - u for c, u in zip(lls[:n], lls[n:], strict=False)]
    return max(range(len(scores)), key=scores.__getitem__)


def _first_text(value: Any) -> str:
    while isinstance(value, list) and value:
        value = value[0]
    return "" if value is None or value == [] else str(value)


def _multiple_choice(rec: EvalRecord, sample: dict, requests: list[list[Any]], info: TaskInfo) -> None:
    shown, raw = _choices(requests, info)
    rec.choices = shown
    filtered = sample.get("filtered_resps")
    lls = [_loglikelihood(v) for v in (filtered if filtered is not None else sample.get("resps")) or []]
    scores = [x for x in lls if x is not None]
    if scores and len(scores) == len(lls) and len(scores) >= len(shown):
        metric = rec.extra.get("primary_metric")
        rec.picked = pick(scores, raw, metric)
        plain = pick(scores, raw, None)
        if metric in ("acc_norm", "acc_bytes", "acc_mutual_info"):
            rec.extra["picked_by"] = metric
            if plain != rec.picked:
                rec.extra["argmax_loglikelihood"] = plain
    rec.output = shown[rec.picked] if rec.picked is not None else ""
    rec.output_type = rec.output_type or "multiple_choice"


def _generation(rec: EvalRecord, sample: dict) -> None:
    filtered = sample.get("filtered_resps")
    rec.output = _first_text(filtered if filtered is not None else sample.get("resps"))
    rec.output_type = rec.output_type or "generate_until"
    raw = _first_text(sample.get("resps"))
    if rec.output.strip() == INVALID and raw:  # the filter found no answer: judge the raw generation
        rec.output = raw
        rec.extra["filter_invalid"] = True
    elif raw and raw.strip() != rec.output.strip():
        rec.extra["raw_output"] = raw  # what the model wrote before the filter extracted an answer


def sample_to_record(
    sample: dict, source: str, line: int, task: str, info: TaskInfo | None = None, model: str | None = None
) -> EvalRecord:
    info = info or TaskInfo()
    requests = _arguments(sample)
    prompt, chat = prompt_text(requests[0][0] if requests and requests[0] else "")
    hib = dict(info.higher_is_better)
    rec = EvalRecord(
        source=source,
        line=line,
        prompt=prompt,
        task=task,
        doc_id=sample["doc_id"] if isinstance(sample.get("doc_id"), int) else None,
        filter=sample.get("filter"),
        metrics=_metrics(sample),
        metric_higher_is_better=hib,
        output_type=info.output_type,
    )
    for name in rec.metrics:
        hib.setdefault(name, name not in _LOWER_IS_BETTER)
    _set_judging(rec, sample, info)
    # Several requests for one document, each with a continuation: a multiple-choice task.
    is_mc = len(requests) > 1 or info.output_type in ("multiple_choice", "loglikelihood")
    if is_mc and requests and len(requests[0]) > 1 and isinstance(requests[0][1], str):
        _multiple_choice(rec, sample, requests, info)
    else:
        _generation(rec, sample)
    rec.reference, alternatives = reference(sample, rec.choices)
    if alternatives:
        rec.extra["alternatives"] = alternatives
    _ifeval(sample, rec)
    doc = sample.get("doc")
    if isinstance(doc, dict) and doc.get("id") is not None:
        rec.id = str(doc["id"])
    if info.num_fewshot is not None:
        rec.extra["n_shot"] = info.num_fewshot
    if model:
        rec.extra["model"] = model
    if chat:
        rec.extra["chat"] = True
    if sample.get("_filter_inferred"):
        rec.extra["filter_inferred"] = True
    return rec


def _is_marker(folder: Path, name: str) -> bool:
    """A file that makes a folder an lm-eval output folder."""
    if _SAMPLES_RE.match(name) or (name.startswith("results_") and name.endswith(".json")):
        return True
    return name == "results.json" and looks_like_results(_read_head(folder / name))


# -- the reader --------------------------------------------------------------------------------------------


class LmEvalReader:
    name = "lm-eval"
    priority = 100
    description = "lm-evaluation-harness --log_samples output (a folder, or samples_*.jsonl files)"

    def sniff(self, path: Path, head: bytes) -> bool:
        if path.is_dir():
            return any(True for s in self._dir_markers(path))
        if _SAMPLES_RE.match(path.name) and (
            is_lmeval_sample(first_json_line(head)) or _head_is_sample_array(head)
        ):
            return True
        if path.name.startswith("results_") and path.suffix == ".json":
            return True
        if path.suffix == ".json" and looks_like_results(head):
            return True
        return is_lmeval_sample(first_json_line(head)) or _head_is_sample_array(head)

    @staticmethod
    def _dir_markers(path: Path) -> Iterator[Path]:
        for folder, files in _walk(path):
            for name in files:
                if _is_marker(folder, name):
                    yield folder / name

    def entries(self, path: Path) -> list[SamplesFile]:
        found = find_samples(path)
        if found:
            return found
        if path.is_dir():
            raise InputError(
                f"{path} holds no samples_*.jsonl files: run lm-eval with --log_samples "
                "to get per-sample logs"
            )
        raise InputError(f"no samples_*.jsonl beside {path}: run lm-eval with --log_samples")

    def files(self, path: Path) -> list[Path]:
        return [entry.path for entry in self.entries(path)]

    def read(self, path: Path, ctx: ReadContext) -> Iterator[EvalRecord]:
        for entry in self.entries(path):
            info = entry.run.tasks.get(entry.task) if entry.run else None
            yield from self._read_file(entry, info or TaskInfo(), ctx)

    def _read_file(self, entry: SamplesFile, info: TaskInfo, ctx: ReadContext) -> Iterator[EvalRecord]:
        file = entry.path
        source = str(file)
        # Pass 1: metrics of every (doc, filter), to compare filters of one document.
        by_doc: dict[Any, dict[str, dict[str, float]]] = {}
        quiet = ReadContext()  # bad lines are reported once, in pass 2
        for _, sample in with_filters(iter_samples(file, quiet), info.filters):
            by_doc.setdefault(_doc_key(sample), {})[str(sample.get("filter"))] = _metrics(sample)
        multi_filter = any(len(f) > 1 for f in by_doc.values())
        for lineno, sample in with_filters(iter_samples(file, ctx), info.filters):
            if "doc_id" not in sample:
                ctx.skip(source, lineno, "not an lm-eval sample (no doc_id)")
                continue
            task = str(sample.get("task_name") or entry.task)
            rec = sample_to_record(sample, source, lineno, task, info, entry.model)
            if multi_filter:
                siblings = by_doc.get(_doc_key(sample), {})
                rec.extra["sibling_filters"] = {k: v for k, v in siblings.items() if k != rec.filter}
            yield rec


@hookimpl
def advisor_register_log_readers(register):
    register(LmEvalReader())
