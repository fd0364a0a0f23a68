"""lm-eval filters and scoring for json_extract.

Both filters turn each generation into a canonical JSON string (keys sorted) or ``[invalid]``:

* ``strict_json``: the whole output, stripped, must parse as one JSON object;
* ``flexible_json``: the first balanced ``{...}`` block anywhere in the output (prose or code fences
  around it are ignored).

``process_results`` then compares with the reference object: ``exact_match`` is 1 or 0.
"""

from __future__ import annotations

import json

INVALID = "[invalid]"


def canonical(obj: object) -> str:
    return json.dumps(obj, sort_keys=True, ensure_ascii=False)


def parse_strict(text: str) -> object | None:
    try:
        obj = json.loads(str(text).strip())
    except ValueError:
        return None
    return obj if isinstance(obj, dict) else None


def first_object_block(text: str) -> str | None:
    """The first balanced ``{...}`` block of ``text`` (braces inside JSON strings are skipped)."""
    text = str(text)
    start = text.find("{")
    if start == -1:
        return None
    depth, in_string, escaped = 0, False, False
    for i in range(start, len(text)):
        ch = text[i]
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth == 0:
                return text[start : i + 1]
    return None  # unbalanced: the first block never closes


def parse_flexible(text: str) -> object | None:
    block = first_object_block(text)
    return None if block is None else parse_strict(block)


def _apply(parse, resps, docs):
    return [[INVALID if (obj := parse(r)) is None else canonical(obj) for r in rs] for rs in resps]


def strict_json(resps, docs):
    """lm-eval ``custom`` filter: each response -> canonical JSON of the whole output, or [invalid]."""
    return _apply(parse_strict, resps, docs)


def flexible_json(resps, docs):
    """lm-eval ``custom`` filter: each response -> canonical JSON of its first {...} block, or [invalid]."""
    return _apply(parse_flexible, resps, docs)


def process_results(doc: dict, results: list[str]) -> dict[str, float]:
    expected = canonical(json.loads(doc["target"]))
    return {"exact_match": float(results[0] != INVALID and results[0] == expected)}
