"""Generic JSONL and CSV logs: one sample per line/row with prompt, output and reference.

Column names are matched case-insensitively against the aliases below; the first one present wins.
The log's own judgement comes from a pass field (a boolean, yes/no, PASS/FAIL, 0/1) or a score: scores
are read on the scale the log uses (0-1, 1-10, 0-100 or percentages, decided from the first 1,000
records and said in a warning) and divided down to 0-1, where ``--pass-threshold`` applies. Decimal
commas and NaN are understood. An output may be a list (its first item) or an OpenAI-style
``{"choices": [{"message": {"content": ...}}]}``; a reference may be a list of alternatives (the first
is the reference the detectors read, all count when advisor judges). Without a judgement the diagnosis
compares output and reference.
"""

from __future__ import annotations

import csv
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from advisor import (
    OUTPUT_KEYS,
    PASS_KEYS,
    PROMPT_KEYS,
    REFERENCE_KEYS,
    DiagnosisContext,
    EvalRecord,
    InputError,
    ReadContext,
    first_json_line,
    hookimpl,
    iter_json_lines,
)

SCORE_KEYS = frozenset(("score", "accuracy", "acc"))
SCALE_SAMPLE = 1000

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


def _output_text(value: Any) -> str:
    """An output: a string, a list of generations (the first), or an OpenAI-style response."""
    if isinstance(value, str):
        return value
    if isinstance(value, list) and value:
        first = value[0]
        if isinstance(first, dict) and isinstance(first.get("message"), dict):
            return _chat_text(first["message"].get("content"))
        return _output_text(first)
    if isinstance(value, dict):
        if isinstance(value.get("choices"), list):
            return _output_text(value["choices"])
        if isinstance(value.get("message"), dict):
            return _chat_text(value["message"].get("content"))
        for key in ("content", "text"):
            if isinstance(value.get(key), str):
                return value[key]
    return _text(value) or ""


def _chat_text(content: Any) -> str:
    if isinstance(content, list):
        return "\n".join(str(b.get("text", "")) for b in content if isinstance(b, dict))
    return "" if content is None else str(content)


def _prompt_text(value: Any) -> str:
    """A prompt: a string, or chat messages (their contents joined)."""
    if isinstance(value, list) and value and all(isinstance(m, dict) for m in value):
        return "\n\n".join(_chat_text(m.get("content")) for m in value if m.get("role") != "assistant")
    return value if isinstance(value, str) else (_text(value) or "")


def _number(value: Any) -> float | None:
    """A number from a JSON value or a CSV cell: '0,8' is 0.8, '85%' is 85; NaN is no number."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return None if value != value else float(value)
    text = str(value).strip().rstrip("%").replace(",", ".")
    try:
        number = float(text)
    except ValueError:
        return None
    return None if number != number else number


def _passed(key: str, value: Any) -> bool | None:
    if value is None or (isinstance(value, float) and value != value):
        return None
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    number = _number(value)
    if number is None:
        return None
    return number >= 1 if key not in SCORE_KEYS else None  # scores: judged once their scale is known


def _pick(obj: dict, keys: tuple[str, ...]) -> tuple[str | None, Any]:
    for key in keys:
        if key in obj:
            return key, obj[key]
    return None, None


def record_from_mapping(obj: dict, source: str, line: int) -> EvalRecord | None:
    """Build a record from one JSON object or CSV row; None when it has no output at all.

    A score is kept raw in ``extra["raw_score"]``; ``ScaleReader`` turns it into ``metrics["score"]``.
    """
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
    alternatives = _alternatives(reference)
    if isinstance(reference, str) and alternatives and DiagnosisContext.asks_for_json(str(prompt or "")):
        alternatives = None  # '["a", "b"]' where a JSON array is asked for: the expected array itself
    rec = EvalRecord(
        source,
        line,
        prompt if type(prompt) is str else _prompt_text(prompt),
        output if type(output) is str else _output_text(output),
        alternatives[0] if alternatives else (reference if reference is None else str(reference)),
        None if rid is None else str(rid),
        None if task is None else str(task),
        passed=passed,
    )
    if alternatives and len(alternatives) > 1:
        rec.extra["alternatives"] = alternatives
    if pass_key in SCORE_KEYS and passed is None:
        score = _number(pass_value)
        if score is not None:
            rec.extra["raw_score"] = score
    if fmt is not None:
        rec.format = str(fmt).lower()
    model = obj.get("model")
    if isinstance(model, str) and model:
        rec.extra["model"] = model
    return rec


def _alternatives(reference: Any) -> list[str] | None:
    """A list reference: its items, as strings (alternatives, any of which is right)."""
    if isinstance(reference, list) and reference and all(not isinstance(r, (dict, list)) for r in reference):
        return [str(r) for r in reference]
    if isinstance(reference, str) and reference.startswith("[") and reference.endswith("]"):
        try:
            import orjson

            value = orjson.loads(reference)
        except ValueError:
            return None
        if isinstance(value, list) and value and all(isinstance(r, str) for r in value):
            return value
    return None


def scale_of(scores: list[float]) -> float:
    """The scale scores are on, from the largest: 1 (0-1), 10 (1-10) or 100 (0-100 and percentages)."""
    top = max(scores, default=0.0)
    return 1.0 if top <= 1 else 10.0 if top <= 10 else 100.0


def with_scores(records: Iterator[EvalRecord], ctx: ReadContext, source: str) -> Iterator[EvalRecord]:
    """Judge raw scores on the log's scale, decided from the scores of the first ``SCALE_SAMPLE`` records
    (held back until then, so memory stays bounded)."""
    buffer: list[EvalRecord] = []
    scale: float | None = None
    for rec in records:
        if scale is None:
            buffer.append(rec)
            if len(buffer) < SCALE_SAMPLE:
                continue
            scored = [r.extra["raw_score"] for r in buffer if "raw_score" in r.extra]
            scale = _decide(scored, ctx, source) if scored else 1.0
            yield from (_scored(r, scale) for r in buffer)
            buffer.clear()
        else:
            yield _scored(rec, scale)
    if buffer:
        scored = [r.extra["raw_score"] for r in buffer if "raw_score" in r.extra]
        scale = _decide(scored, ctx, source) if scored else 1.0
        yield from (_scored(r, scale) for r in buffer)


def _decide(scored: list[float], ctx: ReadContext, source: str) -> float:
    scale = scale_of(scored)
    if scale != 1.0:
        ctx.note(
            f"{source}: scores read on a 0-{scale:g} scale (largest {max(scored):g}) and divided by "
            f"{scale:g}; --pass-threshold applies to the divided score"
        )
    return scale


def _scored(rec: EvalRecord, scale: float) -> EvalRecord:
    raw = rec.extra.pop("raw_score", None)
    if raw is not None:
        rec.metrics["score"] = raw / scale
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
        return with_scores(self._records(path, ctx), ctx, str(path))

    def _records(self, path: Path, ctx: ReadContext) -> Iterator[EvalRecord]:
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
        return with_scores(self._records(path, ctx), ctx, str(path))

    def _records(self, path: Path, ctx: ReadContext) -> Iterator[EvalRecord]:
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
