"""Format: the right answer is in the output, but not in the form the task extracts.

JSON outputs have their own detectors (``json_output``); these cover lm-eval's answer filters,
multiple-choice letters and short text, number, list and date answers.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from advisor import DiagnosisContext, Finding
from advisor import text as T
from advisor_plugins.detectors._common import B, F, M, answers_in_text

_ITEM_SPLIT_RE = re.compile(r"\s*(?:,|;|\n|\band\b|\bor\b|^\s*[-*•]|\n\s*[-*•\d.]+)\s*", re.I)
_OPTION_RE = re.compile(r"^\s*\(?([A-H])[).:]\s+(.+?)\s*$", re.M)
_TRUNCATED = "the output stops part-way through the expected answer"


class StrictFilter:
    """lm-eval: this filter fails where another filter of the same document passes."""

    name = "strict-filter"

    def detect(self, ctx: DiagnosisContext) -> Iterator[Finding]:
        rec = ctx.record
        if rec.extra.get("filter_invalid") and ctx.content_correct:
            yield Finding(
                M,
                "strict-extraction",
                f"filter {rec.filter!r} extracted no answer, but the generation holds the right one",
            )
            return
        if rec.extra.get("raw_output") and ctx.content_correct:
            yield Finding(
                M,
                "strict-extraction",
                f"filter {rec.filter!r} extracted the wrong part; the generation holds the right answer",
            )
            return
        siblings = rec.extra.get("sibling_filters")
        if not siblings or ctx.options is None:
            return
        for name, metrics in siblings.items():
            if ctx.options.metrics_pass(rec, metrics):
                yield Finding(
                    M,
                    "strict-extraction",
                    f"filter {rec.filter!r} fails where filter {name!r} of the same document passes",
                )
                return


class ChoiceForm:
    """Multiple choice by letter: is the right letter given inside prose, or an option's text instead?"""

    name = "choice-form"

    def detect(self, ctx: DiagnosisContext) -> Iterator[Finding]:
        if not ctx.is_choice or not answers_in_text(ctx):
            return
        letter = T.choice_letter(ctx.output)
        want = (ctx.record.reference or "").strip().strip("()").upper()
        offered = _options(ctx.record.prompt)
        if letter is not None and offered and letter not in offered:
            yield Finding(B, "constraint", f"answers {letter}, which is not one of the options offered")
            return
        if letter == want and ctx.output.strip().strip("().").upper() != want:
            yield Finding(M, "choice-not-bare", f"the right choice {want} is given inside prose, not bare")
        elif letter is None:
            found = _option_text_instead_of_letter(ctx, want)
            if found is not None:
                yield found


def _option_text_instead_of_letter(ctx: DiagnosisContext, want: str) -> Finding | None:
    """No letter in the output: does it give the text of exactly one option (the right one, or not)?"""
    options = _options(ctx.record.prompt)
    picked = [k for k, text in options.items() if text and T.contains_phrase(ctx.output_norm, text)]
    if picked == [want]:
        return Finding(M, "choice-not-bare", f"gives the text of option {want} instead of its letter")
    if len(picked) == 1:
        return Finding(F, "wrong-fact", f"gives the text of option {picked[0]}; the answer is {want}")
    return None


def _options(prompt: str) -> dict[str, str]:
    """Options 'A) text' / 'B. text' of the last question in a prompt, normalised."""
    return {m.group(1): T.normalize(m.group(2)) for m in _OPTION_RE.finditer(prompt[-1500:])}


class AnswerForm:
    """A text answer: is the right answer in the output, cut short, or in another form than expected?

    The first question that fits the expected answer decides: does the output stop at a word
    part-way through it; is it a number; a list; does the output stop mid-word; is it a date; is it
    wrapped in prose or a code fence.
    """

    name = "answer-form"

    def detect(self, ctx: DiagnosisContext) -> Iterator[Finding]:
        if not answers_in_text(ctx) or ctx.is_choice or ctx.non_answer:
            return
        found = _answer_form(ctx)
        if found is not None:
            yield found


def _answer_form(ctx: DiagnosisContext) -> Finding | None:
    reference = ctx.record.reference or ""
    if _stops_early(ctx, mid_word=False):
        return Finding(M, "truncated", _TRUNCATED)
    if ctx.reference_number is not None:
        return _number_form(ctx, ctx.reference_number)
    if _same_items(reference, ctx.output):
        return Finding(M, "list-form", "the same items as expected, listed in another form")
    if _stops_early(ctx, mid_word=True):
        return Finding(M, "truncated", _TRUNCATED)
    if T.same_date(reference, ctx.output):
        if ctx.output_norm != ctx.reference_norm:
            return Finding(M, "date-form", "the date is right but written in another form")
        return None
    return _wrapped_answer(ctx)


def _stops_early(ctx: DiagnosisContext, *, mid_word: bool) -> bool:
    """Is the output the start (40% or more) of the expected answer, cut at a word end or anywhere?"""
    ref_n, out_n = ctx.reference_norm, ctx.output_norm
    if not out_n or len(out_n) < 0.4 * len(ref_n):
        return False
    if mid_word:
        return ref_n.startswith(out_n) and out_n != ref_n
    return ref_n.startswith(out_n + " ")


def _has_number(ctx: DiagnosisContext, ref: float) -> bool:
    """Does the output hold the number ``ref`` (also as a percentage of it, or it of a percentage)?"""
    pct_out = "%" in ctx.output or "percent" in ctx.output.lower()
    pct_ref = "%" in (ctx.record.reference or "")
    return any(
        abs(n - ref) < 1e-9
        or (pct_out and abs(n / 100 - ref) < 1e-9)
        or (pct_ref and abs(n * 100 - ref) < 1e-9)
        for n in T.numbers_in(ctx.output)
    )


def _number_form(ctx: DiagnosisContext, ref: float) -> Finding | None:
    """The expected number ``ref`` is in the output: is it given in another form, or in a long answer?"""
    rec = ctx.record
    if not _has_number(ctx, ref) or ctx.output_norm == ctx.reference_norm:
        return None
    n_words = len(ctx.output.split())
    # a long answer with the right number in it is the answer wrapped in prose (form); a length the
    # prompt set is the instruction checks' to judge
    return Finding(
        M,
        "number-form" if n_words <= 3 else "extra-prose",
        f"the number {(rec.reference or '').strip()} is in the output but not in the expected form",
    )


def _same_items(reference: str, output: str) -> bool:
    """'alpha, beta, gamma' vs 'alpha, beta and gamma' or a bulleted list of the same items."""
    ref = [T.normalize(x) for x in _ITEM_SPLIT_RE.split(reference) if x and T.normalize(x)]
    if len(ref) < 2:
        return False
    out = [T.normalize(x) for x in _ITEM_SPLIT_RE.split(output) if x and T.normalize(x)]
    return sorted(ref) == sorted(out) and reference.strip() != output.strip()


def _wrapped_answer(ctx: DiagnosisContext) -> Finding | None:
    """The expected answer is in the output: is it wrapped in prose or a code fence, or far too long?"""
    reference = ctx.record.reference or ""
    if not ctx.content_correct or ctx.output_norm == ctx.reference_norm:
        return None
    if ctx.content_retold:
        # a sentence or a description matched by most of its words: the output says it in its own
        # words, it does not wrap it; what failed is not told by the comparison
        return None
    n_words = len(ctx.output.split())
    fenced = "```" in ctx.output
    if fenced:
        return Finding(M, "code-fence", "the answer is wrapped in a code fence")
    return Finding(
        M,
        "extra-prose",
        f"the expected answer {T.clip(reference, 30)!r} is in the output, wrapped in {n_words} words",
    )


class LabelSet:
    """The prompt lists the labels to answer with: is the output one of them?"""

    name = "label-set"

    def detect(self, ctx: DiagnosisContext) -> Iterator[Finding]:
        if not answers_in_text(ctx) or ctx.is_choice or ctx.content_correct or len(ctx.output.split()) > 3:
            return
        labels = ctx.offered_labels
        if labels and ctx.reference_norm in labels and ctx.output_norm not in labels:
            shown = ", ".join(sorted(labels)[:6])
            yield Finding(
                B, "constraint", f"answers {ctx.output!r}, which is not one of the labels offered ({shown})"
            )
