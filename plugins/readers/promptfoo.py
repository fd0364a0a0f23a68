"""promptfoo results (``promptfoo eval -o results.json``).

The file is one JSON document (results format v2 to v4), so it is parsed whole;
promptfoo result files are small. Failed assertions are direct evidence: their type,
pass flag and reason are kept on the record for the detectors.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

from advisor import EvalRecord, InputError, ReadContext, hookimpl
from advisor_plugins.readers.generic import REFERENCE_KEYS

#: assertion types whose value is the expected answer
_REFERENCE_ASSERTIONS = ("equals", "contains", "icontains", "starts-with", "contains-any")


def _results_list(data: Any) -> list | None:
    if not isinstance(data, dict):
        return None
    results = data.get("results")
    if isinstance(results, dict):
        results = results.get("results")
    return results if isinstance(results, list) else None


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return orjson.dumps(value).decode()


def _assertions(result: dict) -> list[tuple[str, bool, str, Any]]:
    grading = result.get("gradingResult") or {}
    out = []
    for comp in grading.get("componentResults") or []:
        if not isinstance(comp, dict):
            continue
        assertion = comp.get("assertion") or {}
        out.append(
            (
                str(assertion.get("type", "unknown")),
                bool(comp.get("pass")),
                str(comp.get("reason") or ""),
                assertion.get("value"),
            )
        )
    return out


def result_to_record(result: dict, source: str, index: int) -> EvalRecord:
    prompt = result.get("prompt") or {}
    response = result.get("response") or {}
    test_case: dict = result["testCase"] if isinstance(result.get("testCase"), dict) else {}
    vars_ = result.get("vars") or test_case.get("vars") or {}
    if not isinstance(vars_, dict):
        vars_ = {}
    if not isinstance(prompt, dict):
        prompt = {"raw": prompt}
    if not isinstance(response, dict):
        response = {"output": response}
    assertions = _assertions(result)
    reference = next((_text(vars_[k]) for k in REFERENCE_KEYS if k in vars_), None)
    if reference is None:
        reference = next((_text(v) for t, _, _, v in assertions if t in _REFERENCE_ASSERTIONS and v), None)
    passed = result.get("success")
    if passed is None:
        passed = (result.get("gradingResult") or {}).get("pass")
    rendered = prompt.get("raw") if isinstance(prompt, dict) else prompt
    task = vars_.get("task") or (prompt.get("label") if isinstance(prompt, dict) else None)
    rec = EvalRecord(
        source=source,
        line=index,
        prompt=_text(rendered),
        output=_text(response.get("output") if isinstance(response, dict) else response),
        reference=reference,
        id=str(result["id"]) if result.get("id") is not None else None,
        task=str(task) if task else None,
        passed=bool(passed) if passed is not None else None,
        assertions=[(t, p, r) for t, p, r, _ in assertions],
    )
    if isinstance(result.get("score"), (int, float)):
        rec.metrics["score"] = float(result["score"])
    if any(t in ("is-json", "contains-json") for t, _, _, _ in assertions):
        rec.format = "json"
    if response.get("error") if isinstance(response, dict) else False:
        rec.extra["provider_error"] = str(response["error"])
    return rec


class PromptfooReader:
    name = "promptfoo"
    priority = 50
    description = "promptfoo eval results JSON (promptfoo eval -o results.json)"

    def sniff(self, path: Path, head: bytes) -> bool:
        if path.is_dir() or path.suffix.lower() != ".json":
            return False
        text = head[:4096]
        return b'"results"' in text and (
            b'"evalId"' in text or b'"version"' in text or b'"gradingResult"' in head
        )

    def read(self, path: Path, ctx: ReadContext) -> Iterator[EvalRecord]:
        try:
            data = orjson.loads(path.read_bytes())
        except orjson.JSONDecodeError as exc:
            raise InputError(f"{path} is not valid JSON ({exc})") from None
        results = _results_list(data)
        if results is None:
            raise InputError(f"{path} is JSON but not promptfoo results (no results list)")
        source = str(path)
        for index, result in enumerate(results, 1):
            if not isinstance(result, dict):
                ctx.skip(source, index, "result is not an object")
                continue
            yield result_to_record(result, source, index)


@hookimpl
def advisor_register_log_readers(register):
    register(PromptfooReader())
