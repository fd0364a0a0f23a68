"""Generic JSONL and CSV logs: one sample per line/row with prompt, output and reference.

Column names are matched case-insensitively against the aliases below; the first one
present wins. ``passed``/``correct`` (bool or 0/1) or ``score`` (>= 0.5 passes) give
the log's own judgement; without them the diagnosis compares output and reference.
"""

from __future__ import annotations

import csv
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from advisor import EvalRecord, InputError, ReadContext, first_json_line, hookimpl, iter_json_lines

PROMPT_KEYS = ("prompt", "input", "question")
OUTPUT_KEYS = ("output", "response", "prediction", "completion")
REFERENCE_KEYS = ("reference", "expected", "target", "answer")
PASS_KEYS = ("passed", "correct", "score")

_TRUE = {"true", "1", "yes", "pass", "passed", "y", "t"}
_FALSE = {"false", "0", "no", "fail", "failed", "n", "f", ""}


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, list) and len(value) == 1:
        return _text(value[0])
    import orjson

    return orjson.dumps(value).decode() if isinstance(value, (dict, list)) else str(value)


def _passed(key: str, value: Any) -> bool | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)):
        return value >= 0.5 if key == "score" else value >= 1
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    try:
        return float(text) >= (0.5 if key == "score" else 1)
    except ValueError:
        return None


def _pick(obj: dict, keys: tuple[str, ...]) -> tuple[str | None, Any]:
    for key in keys:
        if key in obj:
            return key, obj[key]
    return None, None


def record_from_mapping(obj: dict, source: str, line: int) -> EvalRecord | None:
    """Build a record from one JSON object or CSV row; None when it has no output at all."""
    _, output = _pick(obj, OUTPUT_KEYS)
    if output is None:
        lowered = {k.lower(): v for k, v in obj.items()}
        if lowered.keys() == obj.keys():
            return None
        obj = lowered  # mixed-case column names: match them case-insensitively
        _, output = _pick(obj, OUTPUT_KEYS)
        if output is None:
            return None
    _, prompt = _pick(obj, PROMPT_KEYS)
    _, reference = _pick(obj, REFERENCE_KEYS)
    pass_key, pass_value = _pick(obj, PASS_KEYS)
    passed = None
    if pass_key is not None:
        passed = pass_value if type(pass_value) is bool else _passed(pass_key, pass_value)
    task, rid, fmt = obj.get("task"), obj.get("id"), obj.get("format")
    rec = EvalRecord(
        source,
        line,
        prompt if type(prompt) is str else (_text(prompt) or ""),
        output if type(output) is str else (_text(output) or ""),
        reference if reference is None or type(reference) is str else _text(reference),
        None if rid is None else str(rid),
        None if task is None else str(task),
        passed=passed,
    )
    if pass_key == "score" and isinstance(pass_value, (int, float)):
        rec.metrics["score"] = float(pass_value)
    if fmt is not None:
        rec.format = str(fmt).lower()
    return rec


class JsonlReader:
    name = "jsonl"
    priority = 10
    description = "generic JSON Lines: prompt/input/question, output/response/..., reference/expected/..."

    def sniff(self, path: Path, head: bytes) -> bool:
        if path.is_dir():
            return False
        if path.suffix.lower() in (".jsonl", ".ndjson"):
            return True
        obj = first_json_line(head)
        return obj is not None and any(k.lower() in OUTPUT_KEYS for k in obj)

    def read(self, path: Path, ctx: ReadContext) -> Iterator[EvalRecord]:
        source = str(path)
        yielded = False
        for lineno, obj in iter_json_lines(path, ctx):
            rec = record_from_mapping(obj, source, lineno)
            if rec is None:
                ctx.skip(source, lineno, f"no output field (one of {', '.join(OUTPUT_KEYS)})")
                continue
            yielded = True
            yield rec
        if not yielded and not ctx.skipped:
            raise InputError(f"{path} has no records")


class CsvReader:
    name = "csv"
    priority = 10
    description = "CSV/TSV with a header row, same column names as jsonl"

    def sniff(self, path: Path, head: bytes) -> bool:
        return path.is_file() and path.suffix.lower() in (".csv", ".tsv")

    def read(self, path: Path, ctx: ReadContext) -> Iterator[EvalRecord]:
        source = str(path)
        csv.field_size_limit(sys.maxsize)
        with path.open(newline="", encoding="utf-8-sig", errors="replace") as fh:  # -sig: drop a BOM
            sample = fh.read(8192)
            fh.seek(0)
            dialect: Any = "excel-tab" if path.suffix.lower() == ".tsv" else "excel"
            if path.suffix.lower() != ".tsv":
                try:
                    dialect = csv.Sniffer().sniff(sample, delimiters=",;\t|")
                except csv.Error:
                    dialect = "excel"
            reader = csv.DictReader(fh, dialect=dialect)
            header = [h.strip().lower() for h in (reader.fieldnames or [])]
            if not any(h in OUTPUT_KEYS for h in header):
                raise InputError(
                    f"{path} has no output column (one of {', '.join(OUTPUT_KEYS)}); "
                    f"its columns are: {', '.join(header) or 'none'}"
                )
            reader.fieldnames = header
            for row in reader:
                lineno = reader.line_num
                if None in row:  # more cells than header columns
                    ctx.skip(source, lineno, "more cells than header columns")
                    continue
                rec = record_from_mapping(row, source, lineno)
                if rec is not None:
                    yield rec


@hookimpl
def advisor_register_log_readers(register):
    register(JsonlReader())
    register(CsvReader())
