"""Wrong content: misread from what the prompt gives (behaviour) or not known (factual).

These run after the behaviour and format detectors: a wrong answer that nothing else explains is
put down to the prompt's material when the prompt holds it, and to missing knowledge otherwise.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from advisor import DiagnosisContext, Finding
from advisor import text as T
from advisor_plugins.detectors._common import B, F

_OUTDATED_RE = re.compile(
    r"\b(as of my (?:last|knowledge)|knowledge cut-?off|as of (?:19|20)\d\d|at the time of my training)\b",
    re.I,
)


_NOT_FOLLOWED = "the prompt gives the text to work from; the output does not follow it"


class ReadingAndReasoning:
    """Wrong answers whose missing parts the prompt writes, or lets one compute: RAG cannot fix these."""

    name = "grounded"

    def detect(self, ctx: DiagnosisContext) -> Iterator[Finding]:
        rec = ctx.record
        if ctx.wants_json or ctx.code_kind or ctx.content_correct or not rec.reference or not ctx.output:
            return
        if ctx.non_answer:
            return  # "I don't know": the refusal detector weighs it against the prompt
        grounding = ctx.grounding_of([_right_option(ctx)], split=True) if ctx.is_choice else ctx.grounding
        if grounding.grounded is None and not ctx.is_choice and ctx.gives_material:
            yield Finding(B, "unfaithful-to-prompt", _NOT_FOLLOWED)
        elif grounding.grounded:
            computed = bool(grounding.computable) and not grounding.in_prompt
            sub = "reasoning" if computed else "unfaithful-to-prompt"
            yield Finding(B, sub, grounding.evidence(), grounding.clear)


def _right_option(ctx: DiagnosisContext) -> str:
    """The text of the right option of a multiple-choice record (its letter when the text is unknown)."""
    rec = ctx.record
    if rec.choices:
        return rec.reference or ""
    want = (rec.reference or "").strip().strip("()").upper()
    m = re.search(rf"^\s*\(?{want}[).:]\s+(.+?)\s*$", rec.prompt[-1500:], re.M)
    return m.group(1) if m else want


class WrongFact:
    """On-task, well-formed and wrong: missing, outdated or invented knowledge."""

    name = "wrong-fact"

    def detect(self, ctx: DiagnosisContext) -> Iterator[Finding]:
        rec = ctx.record
        if rec.choices and rec.picked is not None:
            yield Finding(
                F,
                "wrong-fact",
                f"picked {T.clip(rec.choices[rec.picked], 30)!r}, "
                f"the answer is {T.clip(rec.reference or '?', 30)!r}",
            )
            return
        if ctx.content_correct is False and ctx.output and not ctx.wants_json and not ctx.code_kind:
            sub = "outdated" if _OUTDATED_RE.search(ctx.output) else "wrong-fact"
            grounding = ctx.grounding
            yield Finding(
                F,
                sub,
                f"answered {T.clip(ctx.output, 40)!r}, expected {T.clip(rec.reference or '', 40)!r}",
                grounding.clear if grounding.missing else True,
            )
