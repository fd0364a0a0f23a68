"""Behaviour: the model did not genuinely attempt the task (empty, looping, refusing, off-task)."""

from __future__ import annotations

import re
from collections.abc import Iterator

from advisor import DiagnosisContext, Finding
from advisor import text as T
from advisor_plugins.detectors._common import B, F, instruction_text

_REFUSAL_RE = re.compile(
    r"\b(i (?:can(?:no|['’])t|cannot|won['’]t|will not|must decline to)|"
    r"i(?:['’]m| am) (?:unable to|not able to|not allowed to))"
    r" (?:help|assist|provide|answer|comply|do that|fulfil|fulfill|respond|create|write|generate|"
    r"discuss|share|give|comment)|"
    r"(?:as an ai|as a language model)[^.]{0,60}(?:cannot|can['’]t|not able)|"
    r"(?:sorry|apologi[sz]e)[^.!?\n]{0,60}\bbut i (?:can(?:no|['’])t|cannot|won['’]t)",
    re.I,
)
_PERSONA_RE = re.compile(
    r"(?:^|[.!?\n]\s*)(?:as an ai|as a language model|as an ai language model|i am an ai|i'm an ai)\b", re.I
)
_CLARIFY_RE = re.compile(
    r"^(?:could|can|would|do|did) you (?:please )?(?:clarify|specify|tell me|provide|explain|mean)|"
    r"^what do you mean|^(?:which|what) (?:one|event|person|year|country) do you mean|"
    r"\bcould you (?:please )?(?:clarify|specify|provide more)",
    re.I,
)
#: the prompt asks for a message to someone else, whose questions are addressed to its reader
_WRITE_MESSAGE_RE = re.compile(
    r"\b(?:write|draft|compose|prepare|rédige|écris|escribe|schreibe?)\b[^.\n]{0,60}"
    r"\b(?:e-?mail|message|letter|note|reply|post|memo|correo|lettre|courriel|nachricht|brief)\b",
    re.I,
)
#: a question put to the user ("Which date would you like me to normalise?")
_QUESTION_TO_USER_RE = re.compile(r"(?:^|[.!?\n]\s*)[^.!?\n]*\b(?:you|your)\b[^.!?\n]*\?", re.I)
_CONTINUES_RE = re.compile(
    r"^(?:q|question|user|human|input|problem)\s*\d*\s*:|\n\s*(?:q|question|user|human)\s*\d*\s*:", re.I
)


class EmptyOutput:
    """Is the output empty?"""

    name = "empty-output"

    def detect(self, ctx: DiagnosisContext) -> Iterator[Finding]:
        if not ctx.output and not ctx.record.choices:
            yield Finding(B, "empty", "the output is empty")


class Repetition:
    """Is the output a degenerate loop of repeated phrases?"""

    name = "repetition"

    def detect(self, ctx: DiagnosisContext) -> Iterator[Finding]:
        ratio = T.repetition_ratio(ctx.output)
        if ratio >= 0.5:
            yield Finding(
                B, "repetition", f"{ratio:.0%} of the output's word 3-grams repeat (degenerate loop)"
            )


class RefusalOrUnknown:
    """A refusal of a benign request is behaviour; "I don't know" to a fact question is factual."""

    name = "refusal"

    def detect(self, ctx: DiagnosisContext) -> Iterator[Finding]:
        out = ctx.output[:400]
        if not out or ctx.record.choices:
            return
        if ctx.record.assertions and any(t == "is-refusal" for t, _, _ in ctx.record.assertions):
            return  # the test expects a refusal; promptfoo evidence decides
        if _PERSONA_RE.search(out[:300]) and not _REFUSAL_RE.search(out, 0, 160):
            yield Finding(
                B, "persona", f"steps out of the task to talk about being an AI: {T.clip(out, 60)!r}"
            )
            return
        if ctx.non_answer:
            if ctx.grounded:
                yield Finding(
                    B,
                    "unfaithful-to-prompt",
                    "says it does not know, but the prompt gives what is needed to answer",
                )
            else:
                sub = "outdated" if "cut" in out.lower() and "knowledge" in out.lower() else "unknown"
                yield Finding(F, sub, f"the model says it does not know: {T.clip(out, 70)!r}")
        elif (m := _REFUSAL_RE.search(out, 0, 160)) and m.start() <= 40:
            yield Finding(B, "refusal", f"refuses the request: {T.clip(out, 70)!r}")


class NoAttempt:
    """Asks a question back, or continues the prompt's pattern with new questions of its own."""

    name = "no-attempt"

    def detect(self, ctx: DiagnosisContext) -> Iterator[Finding]:
        out = ctx.output
        if not out or ctx.record.choices or ctx.content_correct:
            return
        writes_message = bool(_WRITE_MESSAGE_RE.search(ctx.record.prompt[-1500:]))
        if _CLARIFY_RE.search(out[:200]) or (not writes_message and _asks_back(out)):
            yield Finding(
                B, "clarification", f"asks a question back instead of answering: {T.clip(out, 60)!r}"
            )
        elif _CONTINUES_RE.search(out[:300]):
            yield Finding(
                B, "off-topic", "writes new questions instead of answering (continues the prompt's pattern)"
            )


def _asks_back(out: str) -> bool:
    """A question to the user in the first two sentences, of an output of at most four sentences."""
    if "?" not in out[:600]:
        return False
    sentences = [x for x in re.split(r"(?<=[.!?])\s+", out.strip()) if x]
    if len(sentences) > 4:
        return False
    head = " ".join(sentences[:2])
    return bool(_QUESTION_TO_USER_RE.search(head))


_TRANSFORM_RE = re.compile(
    r"\b(?:normali[sz]e|convert|format|reformat|rewrite|translate|transform|standardi[sz]e|normaliza|"
    r"convierte|traduce|formatea|normalise[rz]?|übersetze|konvertiere)\w*",
    re.I,
)


class EchoesPrompt:
    """Does the output repeat the prompt instead of answering it?"""

    name = "echo"

    def detect(self, ctx: DiagnosisContext) -> Iterator[Finding]:
        out = ctx.output_norm
        if ctx.content_correct or not T.contains_phrase(ctx.prompt_norm, out):
            return
        if len(out) >= 25 and len(out) >= 0.5 * min(len(ctx.prompt_norm), 300):
            yield Finding(B, "echo", "the output repeats the prompt instead of answering it")
        elif len(out) >= 10 and not ctx.is_choice and _TRANSFORM_RE.search(ctx.record.prompt[-600:]):
            # asked to turn an input into another form, the output is the input as given
            yield Finding(B, "echo", "asked to transform the input, the output repeats it unchanged")


class OffTopic:
    """A long output that shares almost no content words with the prompt or the reference."""

    name = "off-topic"

    def detect(self, ctx: DiagnosisContext) -> Iterator[Finding]:
        if ctx.record.choices or ctx.wants_json or ctx.non_answer or _REFUSAL_RE.search(ctx.output[:160]):
            return
        out_words = T.content_words(ctx.output)
        if len(out_words) < 8:
            return
        anchor = T.content_words(instruction_text(ctx)) | T.content_words(ctx.record.reference or "")
        if not anchor:
            return
        overlap = len(out_words & anchor) / len(out_words)
        if overlap < 0.05:
            yield Finding(
                B,
                "off-topic",
                f"only {len(out_words & anchor)} of {len(out_words)} content words of the output "
                "occur in the prompt or reference",
            )


#: a reference that says the answer is not in the material ("NOT_FOUND", "say it cannot be found")
_NOT_FOUND_REF_RE = re.compile(
    r"^\s*(?:not[_ ]found|n/?a|unknown|none)\s*$|"
    r"\b(?:cannot|can't|can not) be (?:found|answered|determined)\b|"
    r"\bnot (?:in|given in|stated in|found in|mentioned in) the "
    r"(?:passages?|context|text|document|sources?)\b|"
    r"\b(?:say|state|reply|answer) (?:that )?(?:it|this) (?:is not|isn't|cannot)",
    re.I,
)


class AnswersWithoutGrounds:
    """The expected answer is "not in the material", and the output answers anyway."""

    name = "answers-without-grounds"

    def detect(self, ctx: DiagnosisContext) -> Iterator[Finding]:
        ref = ctx.record.reference or ""
        if not ref or ctx.non_answer or not ctx.output or not _NOT_FOUND_REF_RE.search(ref):
            return
        if _NOT_FOUND_REF_RE.search(ctx.output) or T.normalize(ref) in ctx.output_norm:
            return
        yield Finding(
            B,
            "unfaithful-to-prompt",
            "the material does not hold the answer and the expected reply says so; the output answers anyway",
        )
