"""What the built-in detectors share: the failure-class shorthands and the instance part of a prompt."""

from __future__ import annotations

from typing import Any

from advisor import DiagnosisContext, FailureClass
from advisor import text as T

B, F, M = FailureClass.BEHAVIOUR, FailureClass.FACTUAL, FailureClass.FORMAT


def instruction_text(ctx: DiagnosisContext) -> str:
    """The instance part of the prompt: few-shot exemplars come before it."""
    return ctx.record.prompt[-800:]


def answers_in_text(ctx: DiagnosisContext) -> bool:
    """A generated (not picked) answer, compared with a text reference: the form checks apply."""
    rec = ctx.record
    return not (rec.choices or ctx.wants_json or ctx.code_kind or not ctx.output or not rec.reference)


def in_prompt(ctx: DiagnosisContext, value: Any, any_date_form: bool = False) -> bool:
    """Is ``value`` written in the prompt (with ``any_date_form``: a date in any of its usual forms)?

    A code in capitals (a ticker, an airport or currency code) counts only as written: 'Meta' in the
    prompt does not give the ticker 'META'."""
    norm = T.normalize(str(value))
    if not norm:
        return False
    written = T.code_written(ctx.record.prompt, str(value))
    if written is not None:
        return written
    if T.contains_phrase(ctx.prompt_norm, norm):
        return True
    return any_date_form and T.has_date(str(value)) and T.contains_phrase(ctx.prompt_iso_norm, norm)
