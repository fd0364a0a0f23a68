"""Checkable instructions of the prompt: one check per kind of instruction.

``Instructions`` runs the checks in a fixed order, so that its findings come in the same order on every
run. Each check answers one question about one kind of instruction (the language asked for, letter
case, word count, sentence count, a one-word answer, yes or no) and returns a finding or None.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

from advisor import DiagnosisContext, FailureClass, Finding
from advisor import text as T
from advisor_plugins.detectors._common import B, M, instruction_text

_ONE_WORD_RE = re.compile(
    r"\b(?:in|with|using) (?:only )?(?:one|a single) word\b|\bone[- ]word answer\b", re.I
)
_N_WORDS_RE = re.compile(r"\b(?:in|with|using) exactly (\w+) words\b", re.I)
_MAX_WORDS_RE = re.compile(
    r"\b(?:in|with|using) (?:at most|no more than|fewer than|less than|under) (\w+) words\b", re.I
)
_MAX_SENT_RE = re.compile(
    r"\b(?:in|with|using) (?:at most |no more than )?(one|a single|1|two|2|three|3) sentences?\b", re.I
)
_YES_NO_RE = re.compile(
    r"\b(?:answer|reply|respond)(?: only)? with (?:only )?(?:a )?(?:\"?yes\"? or \"?no\"?)|\byes or no\b",
    re.I,
)
_UPPER_RE = re.compile(
    r"\b(?:all (?:capital|caps|uppercase)|in uppercase|in capital letters|upper-?case letters)\b", re.I
)
_LOWER_RE = re.compile(r"\b(?:all lowercase|in lowercase|lower-?case letters)\b", re.I)
_LANG_RE = re.compile(
    r"\b(?:in|into|to) (english|french|spanish|german|italian|portuguese)\b|"
    r"\b(?:en|auf|in|em) (anglais|français|francais|español|espanol|deutsch|italiano|português|portugues)\b",
    re.I,
)
_LANG_NAMES = {
    "anglais": "english",
    "français": "french",
    "francais": "french",
    "español": "spanish",
    "espanol": "spanish",
    "deutsch": "german",
    "italiano": "italian",
    "português": "portuguese",
    "portugues": "portuguese",
}
_TRANSLATE_RE = re.compile(r"\btranslat|\bübersetze|\btradu", re.I)
_QUOTED_RE = re.compile(r"['\"“‘]([^'\"”’]{2,})['\"”’]")
#: a cheap gate: prompts without any of these words carry no checkable instruction
_ANY_INSTRUCTION_RE = re.compile(
    r"\b(?:words?|sentences?|yes or no|capital|caps|uppercase|upper-case|lowercase|lower-case|"
    r"english|french|spanish|german|italian|portuguese)\b",
    re.I,
)
_SENTENCE_END_RE = re.compile(r"[.!?]+(?:\s|$)")
_YES_OR_NO_WORD_RE = re.compile(r"\b(yes|no)\b", re.I)
_NUMBER_WORDS = {
    "one": 1,
    "a": 1,
    "single": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "twenty": 20,
    "fifty": 50,
    "hundred": 100,
}

#: a check reads the record and the instance part of its prompt, and returns at most one finding
Check = Callable[[DiagnosisContext, str], Finding | None]


class Instructions:
    """Checkable instructions of the prompt: language, case, length, yes/no."""

    name = "instructions"

    def detect(self, ctx: DiagnosisContext) -> Iterator[Finding]:
        if ctx.record.choices or not ctx.output:
            return
        prompt = instruction_text(ctx)
        if not _ANY_INSTRUCTION_RE.search(prompt):
            found = script_mismatch(ctx, prompt)
            if found is not None:
                yield found
            return
        asked = asked_language(prompt)
        if asked is not None and (found := repeats_translation_source(ctx, prompt, asked)) is not None:
            yield found
            return  # the output is the source text: its case and length say nothing more
        found = language_mismatch(ctx, prompt, asked)
        if found is not None:
            yield found
        for check in CHECKS:
            found = check(ctx, prompt)
            if found is not None:
                yield found


def _count(word: str) -> int | None:
    word = word.lower()
    return int(word) if word.isdigit() else _NUMBER_WORDS.get(word)


def _n_words(ctx: DiagnosisContext) -> int:
    return len(ctx.output.split())


def asked_language(prompt: str) -> str | None:
    """The language the prompt explicitly asks for ('in French', 'en français'), if any."""
    m = _LANG_RE.search(prompt)
    if m is None:
        return None
    named = (m.group(1) or m.group(2)).lower()
    return _LANG_NAMES.get(named, named)


def repeats_translation_source(ctx: DiagnosisContext, prompt: str, want: str) -> Finding | None:
    """Asked to translate a quoted text into ``want``: does the output repeat the source text?"""
    if not _TRANSLATE_RE.search(prompt):
        return None
    sources = [T.normalize(q) for q in _QUOTED_RE.findall(prompt)]
    if ctx.output_norm and any(ctx.output_norm == src for src in sources):
        return Finding(
            B, "wrong-language", f"asked for a translation into {want}; the output repeats the source text"
        )
    return None


def language_mismatch(ctx: DiagnosisContext, prompt: str, asked: str | None) -> Finding | None:
    """Is the output in another language than the one ``asked`` for (or, if none is, the prompt's)?

    With no language asked for and no mismatch found, the writing system decides (``script_mismatch``).
    """
    want = asked or T.guess_language(prompt[-300:])
    got = T.guess_language(ctx.output) if want else None
    if want and got and got != want:
        how = "asked for" if asked else "the prompt is in"
        return Finding(B, "wrong-language", f"{how} {want}, the output reads as {got}")
    if asked is None:
        return script_mismatch(ctx, prompt)
    return None


def script_mismatch(ctx: DiagnosisContext, prompt: str) -> Finding | None:
    """Is the output written in another writing system than the task's (no explicit language asked)?"""
    out = ctx.output
    if len(out) <= 3 or (out.isascii() and prompt.isascii() and (ctx.record.reference or "").isascii()):
        return None
    expected = T.script_of(ctx.record.reference or "") or T.script_of(prompt)
    got = T.script_of(out)
    if expected and got and got != expected:
        return Finding(B, "wrong-language", f"the output is written in {got} script, the task in {expected}")
    return None


def _case_class(ctx: DiagnosisContext) -> FailureClass:
    """Right content in the wrong case is a form problem; otherwise the instruction was ignored."""
    return M if ctx.content_correct else B


def uppercase(ctx: DiagnosisContext, prompt: str) -> Finding | None:
    """Asked for capital letters: does the output have lowercase letters?"""
    if _UPPER_RE.search(prompt) and any(c.islower() for c in ctx.output):
        return Finding(
            _case_class(ctx), "case", "asked for capital letters, the output has lowercase letters"
        )
    return None


def lowercase(ctx: DiagnosisContext, prompt: str) -> Finding | None:
    """Asked for lowercase: does the output have capital letters?"""
    if _LOWER_RE.search(prompt) and any(c.isupper() for c in ctx.output):
        return Finding(_case_class(ctx), "case", "asked for lowercase, the output has capital letters")
    return None


def exact_words(ctx: DiagnosisContext, prompt: str) -> Finding | None:
    """Asked for exactly N words: does the output have another number?"""
    m = _N_WORDS_RE.search(prompt)
    if m and (want := _count(m.group(1))) and (n_words := _n_words(ctx)) != want:
        return Finding(B, "length", f"asked for exactly {want} words, the output has {n_words}")
    return None


def max_words(ctx: DiagnosisContext, prompt: str) -> Finding | None:
    """Asked for at most N words: does the output have more?"""
    m = _MAX_WORDS_RE.search(prompt)
    if m and (want := _count(m.group(1))) and (n_words := _n_words(ctx)) > want:
        return Finding(B, "length", f"asked for at most {want} words, the output has {n_words}")
    return None


def max_sentences(ctx: DiagnosisContext, prompt: str) -> Finding | None:
    """Asked for at most N sentences (N <= 3): does the output have more?"""
    m = _MAX_SENT_RE.search(prompt)
    if m and (want := _count(m.group(1))):
        sentences = len([s for s in _SENTENCE_END_RE.split(ctx.output) if s.strip()])
        if sentences > want:
            return Finding(B, "length", f"asked for {want} sentence(s), the output has {sentences}")
    return None


def one_word(ctx: DiagnosisContext, prompt: str) -> Finding | None:
    """Asked for one word: does the output have more (around the right answer, or not)?"""
    if not _ONE_WORD_RE.search(prompt) or (n_words := _n_words(ctx)) <= 1:
        return None
    if ctx.content_correct:
        return Finding(
            M, "extra-prose", f"asked for one word; the answer is there but wrapped in {n_words} words"
        )
    return Finding(B, "length", f"asked for one word, the output has {n_words}")


def yes_no(ctx: DiagnosisContext, prompt: str) -> Finding | None:
    """Asked for yes or no: does the output add prose after it, or say neither?"""
    if not _YES_NO_RE.search(prompt):
        return None
    out = ctx.output
    first = T.words(out[:20])[:1]
    if first and first[0] in ("yes", "no"):
        if _n_words(ctx) > 1:
            return Finding(M, "extra-prose", "asked for yes or no; the output adds prose after it")
    elif not _YES_OR_NO_WORD_RE.search(out):
        return Finding(B, "constraint", "asked for yes or no, the output says neither")
    return None


#: after the language checks, the checks in the order their findings come (the verdict takes the
#: first finding of the strongest class)
CHECKS: tuple[Check, ...] = (
    uppercase,
    lowercase,
    exact_words,
    max_words,
    max_sentences,
    one_word,
    yes_no,
)
