"""OpenAI evals event logs (``oaieval ... --record_path run.jsonl``).

Layout, from the local recorder (``evals/record.py``, ``LocalRecorder``): the first line is ``{"spec":
{...}}`` (``eval_name``, ``completion_fns``, ``run_id``), one line is ``{"final_report": {...}}``, and every
other line is an event ``{"run_id", "event_id", "sample_id", "type", "data", "created_by", "created_at"}``.
Events of several samples interleave (samples run in threads; the report may come before the last events),
so events are grouped by ``sample_id`` and each sample becomes one record, in sample order.

Per sample: the prompt is the first ``sampling`` event's ``data.prompt`` (a string or chat messages); the
output is the ``match`` event's ``data.sampled`` where it has one, else that sampling event's
``data.sampled`` (a string or the list of completions: the first). The reference is ``match.expected``: a
string, or a list of alternatives (the first is the reference the detectors read; all are kept in
``extra["alternatives"]``). Pass/fail is ``match.correct``; without a match event, a ``metrics`` event
(model-graded evals record ``choice`` and ``score``) gives ``score``, judged against ``--pass-threshold``.
A model-graded sample whose grader gave no score, or a sample with only an ``error`` event, is unjudged.
Task: ``spec.eval_name``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

from advisor import EvalRecord, InputError, ReadContext, first_json_line, hookimpl, iter_json_lines

#: event types kept per sample (others, e.g. embedding or function_call, say nothing about pass/fail)
_KEPT = ("sampling", "match", "metrics", "error", "pick_option")


def _content(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(
            str(b.get("text", "")) for b in content if isinstance(b, dict) and b.get("type") == "text"
        )
    return "" if content is None else str(content)


def prompt_text(prompt: Any) -> str:
    """A prompt as text: a string, chat messages (their contents, one paragraph each) or a list of strings."""
    if isinstance(prompt, str):
        return prompt
    if isinstance(prompt, list):
        if all(isinstance(m, dict) for m in prompt):
            return "\n\n".join(_content(m.get("content")) for m in prompt)
        if all(isinstance(m, str) for m in prompt):
            return "\n".join(prompt)
    return "" if prompt is None else orjson.dumps(prompt).decode()


def _sampled(value: Any) -> str:
    if isinstance(value, list):
        value = value[0] if value else ""
    return _content(value)


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return float(value)
    return float(value) if isinstance(value, (int, float)) else None


def sample_to_record(sample_id: str, events: dict[str, list[dict]], spec: dict, source: str, line: int):
    sampling = events.get("sampling", [])
    match = events["match"][0] if events.get("match") else None
    metrics_event = events["metrics"][0] if events.get("metrics") else None
    first = sampling[0] if sampling else {}
    output: Any = None
    if match is not None and match.get("sampled") is not None:
        output = match["sampled"]
    elif first:
        output = first.get("sampled")
    expected = match.get("expected") if match is not None else None
    alternatives = [str(e) for e in expected] if isinstance(expected, (list, tuple)) else None
    reference = alternatives[0] if alternatives else (None if expected is None else str(expected))
    rec = EvalRecord(
        source=source,
        line=line,
        prompt=prompt_text(first.get("prompt", match.get("prompt") if match else None)),
        output=_sampled(output),
        reference=reference,
        id=sample_id,
        task=None if spec.get("eval_name") is None else str(spec["eval_name"]),
    )
    if alternatives and len(alternatives) > 1:
        rec.extra["alternatives"] = alternatives
    for name, value in (metrics_event or {}).items():
        number = _number(value)
        if number is not None and name != "choice":
            rec.metrics[name] = number
            rec.metric_higher_is_better[name] = True
    if match is not None and isinstance(match.get("correct"), bool):
        rec.passed = match["correct"]
        if match.get("picked") is not None:
            rec.extra["extracted_answer"] = match["picked"]
    elif metrics_event is not None and "choice" in metrics_event:
        rec.extra["grader_choice"] = metrics_event["choice"]
        if len(sampling) > 1:  # the last sampling event is the grader's
            rec.extra["grader_output"] = _sampled(sampling[-1].get("sampled"))
        if _number(metrics_event.get("score")) is None:
            rec.extra["not_judged"] = True  # the grader's choice has no score
    elif not rec.metrics:
        rec.extra["not_judged"] = True
    if events.get("error"):
        rec.extra["error"] = str(events["error"][0].get("message") or events["error"][0])
    model = (first.get("model") if first else None) or ",".join(spec.get("completion_fns") or [])
    if model:
        rec.extra["model"] = model
    return rec


def is_evals_spec(obj: dict | None) -> bool:
    return obj is not None and isinstance(obj.get("spec"), dict) and "eval_name" in obj["spec"]


class OpenAIEvalsReader:
    name = "openai-evals"
    priority = 90
    description = "OpenAI evals event log (oaieval --record_path: spec, events per sample, final_report)"

    def sniff(self, path: Path, head: bytes) -> bool:
        return not path.is_dir() and is_evals_spec(first_json_line(head))

    def read(self, path: Path, ctx: ReadContext) -> Iterator[EvalRecord]:
        source = str(path)
        spec: dict | None = None
        samples: dict[str, dict[str, list[dict]]] = {}
        first_line: dict[str, int] = {}
        for lineno, obj in iter_json_lines(path, ctx):
            if "spec" in obj and isinstance(obj["spec"], dict):
                spec = obj["spec"]
                continue
            if "final_report" in obj:
                continue
            kind, sample_id, data = obj.get("type"), obj.get("sample_id"), obj.get("data")
            if not isinstance(kind, str) or sample_id is None:
                ctx.skip(source, lineno, "not an OpenAI evals event (no type or sample_id)")
                continue
            if kind not in _KEPT:
                continue
            key = str(sample_id)
            first_line.setdefault(key, lineno)
            events = samples.setdefault(key, {})
            events.setdefault(kind, []).append(data if isinstance(data, dict) else {"value": data})
        if spec is None:
            raise InputError(f"{path} is not an OpenAI evals log (no spec line)")
        if not samples:
            raise InputError(
                f"{path} holds no per-sample events (the run recorded only its spec and final report)"
            )
        for sample_id in sorted(samples, key=_sample_order):
            yield sample_to_record(sample_id, samples[sample_id], spec, source, first_line[sample_id])


def _sample_order(sample_id: str) -> tuple:
    """``test-match.s1.10`` after ``test-match.s1.9``: the sample index as a number."""
    head, _, index = sample_id.rpartition(".")
    return (head, int(index), "") if index.isdigit() else (sample_id, -1, sample_id)


@hookimpl
def advisor_register_log_readers(register):
    register(OpenAIEvalsReader())
