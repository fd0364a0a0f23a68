"""lighteval details: ``details_<suite>|<task>|<k>_<date>.parquet`` files (needs pyarrow).

Two schemas, from lighteval's ``DetailsLogger``:

* older (Open LLM Leaderboard v1): one column per field: ``full_prompt``, ``predictions`` (a list),
  ``gold`` (a list), ``choices``, ``gold_index``, ``metrics`` (name -> score);
* newer: ``doc`` (``query``, ``choices``, ``gold_index``, ``task_name``), ``model_response`` (``input``,
  ``text``, ``text_post_processed``, ``logprobs``) and ``metric`` (name -> score).

A file or a folder (searched for ``details_*.parquet``; the model is the folder above the date folder,
``details/<model>/<date>/``). Pass/fail is the first metric as lighteval scored it (``--pass-threshold``
applies); for multiple choice the picked choice is the one with the highest log-probability.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from advisor import EvalRecord, InputError, ReadContext, hookimpl

_NAME_RE = re.compile(r"details_(?:[^|]*\|)?([^|]+?)(?:\|\d+)?_\d{4}-\d\d-\d\dT", re.I)


def task_from_name(path: Path) -> str:
    m = _NAME_RE.search(path.name)
    return m.group(1) if m else path.stem.removeprefix("details_")


def _json(value: Any) -> Any:
    """A nested field as written: a dict/list, or the same as a JSON string."""
    if isinstance(value, str) and value[:1] in "{[":
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _first(value: Any) -> Any:
    value = _json(value)
    return value[0] if isinstance(value, list) and value else value


def _metrics(raw: Any) -> dict[str, float]:
    raw = _json(raw)
    if not isinstance(raw, dict):
        return {}
    out = {}
    for name, value in raw.items():
        if isinstance(value, bool) or isinstance(value, (int, float)) and value == value:
            out[name] = float(value)
    return out


def _picked(scores: Any, n_choices: int) -> int | None:
    """The choice with the highest log-probability (entries may be numbers or (logprob, greedy) pairs)."""
    scores = _json(scores)
    if not isinstance(scores, list) or len(scores) != n_choices or not n_choices:
        return None
    values = [s[0] if isinstance(s, (list, tuple)) and s else s for s in scores]
    if not all(isinstance(v, (int, float)) for v in values):
        return None
    return max(range(n_choices), key=values.__getitem__)


def row_to_record(row: dict, source: str, line: int, task: str, model: str | None) -> EvalRecord:
    doc = _json(row.get("doc"))
    if isinstance(doc, dict):  # the newer schema
        response = _json(row.get("model_response")) or {}
        prompt = str(doc.get("query") or _first(response.get("input")) or "")
        choices = _json(doc.get("choices")) or []
        gold_index = _first(doc.get("gold_index"))
        text = response.get("text_post_processed") or response.get("text")
        scores = response.get("logprobs")
        metrics = _metrics(row.get("metric"))
        task = str(doc.get("task_name") or task)
    else:
        prompt = str(row.get("full_prompt") or row.get("example") or "")
        choices = _json(row.get("choices")) or []
        gold_index = _first(row.get("gold_index"))
        text = row.get("predictions")
        scores = row.get("predictions")
        metrics = _metrics(row.get("metrics"))
    choices = [str(c) for c in choices] if isinstance(choices, list) else []
    picked = _picked(scores, len(choices)) if choices else None
    if picked is not None:
        output = choices[picked]
    else:
        first = _first(text)
        output = "" if first is None or isinstance(first, (list, dict)) else str(first)
    reference = None
    if choices and isinstance(gold_index, int) and 0 <= gold_index < len(choices):
        reference = choices[gold_index]
    elif row.get("gold") is not None:
        gold = _first(row.get("gold"))
        reference = None if gold is None else str(gold)
    rec = EvalRecord(
        source=source,
        line=line,
        prompt=prompt,
        output=output,
        reference=reference,
        task=task,
        metrics=dict(list(metrics.items())[:1]),  # the task's first metric decides
        metric_higher_is_better={name: True for name in list(metrics)[:1]},
        choices=choices if picked is not None else None,
        picked=picked,
    )
    rec.extra["all_metrics"] = metrics
    if model:
        rec.extra["model"] = model
    return rec


class LightevalReader:
    name = "lighteval"
    priority = 55
    description = "lighteval details parquet (details_<suite>|<task>|<k>_<date>.parquet, or a details folder)"

    def sniff(self, path: Path, head: bytes) -> bool:
        if path.is_dir():
            return any(path.rglob("details_*.parquet"))
        return path.suffix.lower() == ".parquet" and head.startswith(b"PAR1")

    def read(self, path: Path, ctx: ReadContext) -> Iterator[EvalRecord]:
        try:
            import pyarrow.parquet as pq
        except ImportError:
            raise InputError(
                "reading lighteval parquet details needs pyarrow: pip install 'ft-advisor[lighteval]'"
            ) from None
        files = sorted(path.rglob("details_*.parquet")) if path.is_dir() else [path]
        for file in files:
            model = file.parent.parent.name if path.is_dir() and file.parent != path else None
            task = task_from_name(file)
            source = str(file)
            try:
                parquet = pq.ParquetFile(file)
            except Exception as exc:  # pyarrow raises several types for a broken file
                raise InputError(f"{file} is not a readable parquet file ({exc})") from None
            line = 0
            for batch in parquet.iter_batches(batch_size=1000):
                for row in batch.to_pylist():
                    line += 1
                    yield row_to_record(row, source, line, task, model)


@hookimpl
def advisor_register_log_readers(register):
    register(LightevalReader())
