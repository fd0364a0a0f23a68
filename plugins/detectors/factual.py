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


class ReadingAndReasoning:
    """Wrong answers to questions whose facts the prompt gives: RAG cannot fix these."""

    name = "grounded"

    def detect(self, ctx: DiagnosisContext) -> Iterator[Finding]:
        rec = ctx.record
        if rec.choices or ctx.wants_json or ctx.content_correct or not rec.reference or not ctx.output:
            return
        if ctx.arithmetic and (T.numbers_in(ctx.output) or T.has_date(ctx.output)):
            yield Finding(
                B,
                "reasoning",
                "an answer computed from numbers the prompt gives is wrong "
                f"(expected {T.clip(rec.reference, 30)})",
            )
        elif ctx.reference_in_prompt:
            yield Finding(
                B,
                "unfaithful-to-prompt",
                f"the answer {T.clip(rec.reference, 40)!r} is in the prompt, the output says otherwise",
            )
        elif ctx.gives_material:
            yield Finding(
                B,
                "unfaithful-to-prompt",
                "the prompt gives the text to work from; the output does not follow it",
            )


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
        if ctx.content_correct is False and ctx.output and not ctx.wants_json:
            sub = "outdated" if _OUTDATED_RE.search(ctx.output) else "wrong-fact"
            yield Finding(
                F, sub, f"answered {T.clip(ctx.output, 40)!r}, expected {T.clip(rec.reference or '', 40)!r}"
            )
