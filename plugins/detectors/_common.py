"""What the built-in detectors share: the failure-class shorthands and the instance part of a prompt."""

from __future__ import annotations

from advisor import DiagnosisContext, FailureClass

B, F, M = FailureClass.BEHAVIOUR, FailureClass.FACTUAL, FailureClass.FORMAT


def instruction_text(ctx: DiagnosisContext) -> str:
    """The instance part of the prompt: few-shot exemplars come before it."""
    return ctx.record.prompt[-800:]


def answers_in_text(ctx: DiagnosisContext) -> bool:
    """A generated (not picked) answer, compared with a text reference: the form checks apply."""
    rec = ctx.record
    return not (rec.choices or ctx.wants_json or ctx.code_kind or not ctx.output or not rec.reference)
