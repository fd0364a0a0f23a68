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
    r"(?<!each )(?<!every )(?<!per )"
    r"\b(?:at most|no more than|fewer than|less than|under|up to|a maximum of|max\.?|maximum)\s+(\w+)\s+"
    r"words\b(?!\s+(?:each|per|for each|apiece))|\b(\d+)\s+words\s+(?:or (?:less|fewer)|max(?:imum)?)\b",
    re.I,
)
_MAX_SENT_RE = re.compile(
    r"\b(?:in|with|using|of|by|to) (?:at most |no more than |only )?"
    r"(one|a single|1|two|2|three|3) (?:short |brief |simple |plain |complete |full )?sentences?\b",
    re.I,
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
    r"\b(?:in|into|to) (english|french|spanish|german|italian|portuguese|dutch)\b|"
    r"\b(?:en|auf|in|em|al) (anglais|français|francais|español|espanol|deutsch|italiano|português|portugues|"
    r"inglés|ingles|francés|frances|alemán|aleman|englisch|französisch|spanisch|allemand|espagnol|"
    r"inglese|francese|tedesco|inglês|francês|alemão)\b",
    re.I,
)
_LANG_NAMES = {
    "inglés": "english",
    "ingles": "english",
    "englisch": "english",
    "inglese": "english",
    "inglês": "english",
    "francés": "french",
    "frances": "french",
    "französisch": "french",
    "francese": "french",
    "francês": "french",
    "alemán": "german",
    "aleman": "german",
    "allemand": "german",
    "tedesco": "german",
    "alemão": "german",
    "spanisch": "spanish",
    "espagnol": "spanish",
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
_NUMBER_WORDS = {**T.NUMBER_WORDS, "a": 1, "single": 1}

#: a check reads the record and the instance part of its prompt, and returns at most one finding
Check = Callable[[DiagnosisContext, str], Finding | None]


class Instructions:
    """Checkable instructions of the prompt: language, case, length, yes/no."""

    name = "instructions"

    def detect(self, ctx: DiagnosisContext) -> Iterator[Finding]:
        failed = ctx.record.extra.get("instructions_failed")
        if failed:  # the log's own instruction checks (lm-eval's ifeval) say which were not followed
            yield Finding(
                B, "constraint", f"does not follow the instruction(s) {', '.join(map(str, failed[:4]))}"
            )
            return
        if ctx.record.choices or not ctx.output:
            return
        prompt = instruction_text(ctx)
        asked = asked_language(prompt)
        if asked is not None and (found := repeats_translation_source(ctx, prompt, asked)) is not None:
            yield found
            return  # the output is the source text: its case and length say nothing more
        found = language_mismatch(ctx, prompt, asked)
        if found is not None:
            yield found
        for check in FORM_CHECKS + (formal_address, plain_language, forbidden_marks):
            found = check(ctx, prompt)
            if found is not None:
                yield found
        if not _ANY_INSTRUCTION_RE.search(prompt):
            return
        for check in CHECKS:
            found = check(ctx, prompt)
            if found is not None:
                yield found


def _count(word: str) -> int | None:
    word = word.lower()
    return int(word) if word.isdigit() else _NUMBER_WORDS.get(word)


def _n_words(ctx: DiagnosisContext) -> int:
    """Words of the output; of a JSON answer, those of its longest text value (a limit such as
    '{"summary": "<max 30 words>"}' is on a field, not on the keys and brackets)."""
    if ctx.wants_json and ctx.output_json[1] != "none":
        texts = [v for v in T.json_leaves(ctx.output_json[0]) if isinstance(v, str)]
        return max((len(v.split()) for v in texts), default=0)
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
    """Is the output in another language than the one expected?

    Expected: the language the prompt asks for ('in French', 'auf Deutsch', 'en inglés'); else the
    reference's, when it is prose; else, outside translation tasks, the prompt's own. Languages are
    identified by fastText's identifier (``advisor.text.identify_language``). With nothing to go on,
    the writing system decides (``script_mismatch``).
    """
    if ctx.wants_json or ctx.code_kind:
        return None
    got = T.identify_language(ctx.output)
    if got is None or got[1] < 0.5:
        return script_mismatch(ctx, prompt) if asked is None else None
    want, how = asked, "asked for"
    if want is None:
        # a reference that describes the answer names its language ("a friendly email in French")
        want = asked_language(ctx.record.reference or "")
        how = "the expected answer is in"
    if want is None:
        ref = T.identify_language(ctx.record.reference or "")
        if ref is not None and ref[1] >= 0.5:
            want, how = ref[0], "the expected answer is in"
    if want is None and not _TRANSLATE_RE.search(prompt):
        own = T.identify_language(prompt[-300:])
        if own is not None and own[1] >= 0.6:
            want, how = own[0], "the prompt is in"
    if want and got[0] != want:
        return Finding(B, "wrong-language", f"{how} {want}, the output is in {got[0]}", got[1] >= 0.8)
    return None


def script_mismatch(ctx: DiagnosisContext, prompt: str) -> Finding | None:
    """Is the output written in another writing system than the task's (no explicit language asked)?"""
    out = ctx.output
    if len(out) <= 3 or (out.isascii() and prompt.isascii() and (ctx.record.reference or "").isascii()):
        return None
    asker = T.script_of(prompt)
    expected = T.script_of(ctx.record.reference or "") or asker
    got = T.script_of(out)
    if expected and got and got != expected and got != asker:  # the asker's own script is fine
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
    if m and (want := _count(m.group(1) or m.group(2))) and (n_words := _n_words(ctx)) > want:
        return Finding(B, "length", f"asked for at most {want} words, the output has {n_words}")
    return None


def max_sentences(ctx: DiagnosisContext, prompt: str) -> Finding | None:
    """Asked for at most N sentences (N <= 3): does the output have more?"""
    m = _MAX_SENT_RE.search(prompt)
    if m and (want := _count(m.group(1).split()[-1])):
        if prompt[max(0, m.start() - 12) : m.start()].lower().rstrip().endswith("followed"):
            want += 1  # 'Yes or No followed by one sentence': the answer word ends a sentence of its own
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


_NO_MARKDOWN_RE = re.compile(
    r"\bno (?:markdown|bullet|bold|headings?|formatting)|\bplain[- ]text\b|without (?:markdown|formatting)",
    re.I,
)
_MARKDOWN_RE = re.compile(r"^\s*#{1,6}\s|\*\*[^*]+\*\*|^\s*[-*•]\s+\S", re.M)
_ONLY_RE = re.compile(
    r"\b(?:only (?:the|return|output|reply)|return only|output only|reply with only|respond with only|"
    r"no (?:explanation|preamble|other text|commentary)|nothing else|without (?:explanation|any other)|"
    r"uniquement|sans explication|nur (?:den|die|das))\b",
    re.I,
)
_PREAMBLE_RE = re.compile(
    r"^\s*(?:sure|certainly|of course|here(?:'s| is| are)|below is|voici|hier ist|aquí tienes)\b", re.I
)
_EXACT_QUOTED_RE = re.compile(
    r"(?:exact(?:ly)?|must (?:start|begin|contain|include)|verbatim)[^\n\"“]{0,40}[\"“]([^\"”]{2,60})[\"”]",
    re.I,
)
_FIRST_LINE_RE = re.compile(
    r"first line[^\n.]{0,40}?(?:must be|should be|is)\s+(?:exactly\s+)?([A-Z_]{3,})\b"
)
_BULLETS_RE = re.compile(
    r"\b(?:\d+|three|four|five) bullet(?:s| points?)\b|\bas (?:a )?bullet(?:ed)? list\b", re.I
)


def markdown_forbidden(ctx: DiagnosisContext, prompt: str) -> Finding | None:
    """Asked for plain text or no markdown: does the output use headings, bold or bullets?"""
    if _NO_MARKDOWN_RE.search(prompt) and _MARKDOWN_RE.search(ctx.output):
        return Finding(M, "markdown", "plain text was asked for; the output uses Markdown")
    return None


def preamble(ctx: DiagnosisContext, prompt: str) -> Finding | None:
    """Asked for the answer only: does the output open with a preamble ('Sure! Here's ...')?"""
    if _ONLY_RE.search(prompt) and _PREAMBLE_RE.search(ctx.output):
        return Finding(M, "extra-prose", "the answer only was asked for; the output opens with a preamble")
    return None


def exact_text(ctx: DiagnosisContext, prompt: str) -> Finding | None:
    """Asked for an exact string ('must start with the exact tag "[ACTION REQUIRED]"'): is it there?"""
    m = _EXACT_QUOTED_RE.search(prompt)
    if m is None or m.group(1) in ctx.output or ctx.wants_json:
        return None
    want = m.group(1)
    squashed = "".join(ch for ch in want.lower() if ch.isalnum())
    if not squashed:  # only punctuation and spaces ('- ', '* ', '|'): a marker of the form, not content
        return Finding(M, "exact-text", f"the output does not use the marker {want!r} the prompt asks for")
    if squashed in "".join(ch for ch in ctx.output.lower() if ch.isalnum()):
        return Finding(M, "exact-text", f"{want!r} is there, but not written exactly as asked")
    return Finding(B, "constraint", f"the output does not contain {want!r}, which the prompt requires")


def first_line(ctx: DiagnosisContext, prompt: str) -> Finding | None:
    """Asked for a token on the first line ('the FIRST line must be exactly ELIGIBLE or ...')."""
    m = _FIRST_LINE_RE.search(prompt)
    if m is None:
        return None
    options = re.findall(r"\b[A-Z][A-Z_]{2,}\b", prompt[m.start() : m.end() + 60])
    head = ctx.output.strip().splitlines()[0].strip() if ctx.output.strip() else ""
    if head in options:
        return None
    if any(opt.replace("_", " ").lower() in ctx.output.lower() for opt in options):
        return Finding(
            M, "first-line", f"the first line is not one of {', '.join(options)}; the decision is in prose"
        )
    return Finding(B, "constraint", f"the first line is not one of {', '.join(options)}")


def bullets(ctx: DiagnosisContext, prompt: str) -> Finding | None:
    """Asked for bullet points: does the output have none?"""
    if _BULLETS_RE.search(prompt) and not re.search(r"^\s*(?:[-*•]|\d+[.)])\s+", ctx.output, re.M):
        return Finding(M, "list-form", "bullet points were asked for; the output is a paragraph")
    return None


#: form instructions checked on every failed prose answer (their own cheap gates)
FORM_CHECKS: tuple[Check, ...] = (markdown_forbidden, preamble, exact_text, first_line, bullets)


_FORMAL_ASKED_RE = re.compile(
    r"\bformal\b|\b(?:address|use)\b[^.\n]{0,30}[\"“']?(?:Sie|vous|usted|Lei)\b|\bsiezen\b|\bvouvo|"
    r"höflichkeitsform|[\"“«']\s?(?:Sie|vous|usted|Lei)\s?[\"”»']",
    re.I,
)
_INFORMAL_RE = re.compile(
    r"\b(?:du|dich|dir|dein|deine|deinen|deiner|tu|toi|ton|ta|tes|tú|tienes|puedes)\b", re.I
)
_FORMAL_RE = re.compile(r"\b(?:Sie|Ihnen|Ihr|Ihre|vous|votre|vos|usted|ustedes|Lei)\b")
_PLAIN_ASKED_RE = re.compile(
    r"\bplain (?:language|words|english|terms)\b|\beveryday words\b|\bsimple words\b|"
    r"\b(?:for|to) (?:an? )?(?:\d{1,2}|eight|ten|twelve)[- ]year[- ]olds?\b|"
    r"\b(?:for|to) (?:a |young )?(?:child|children|kids?)\b|\bno jargon\b|\blayperson\b",
    re.I,
)


_NO_EMOJI_RE = re.compile(
    r"\bno (?:\w+, )*emojis?\b|\b(?:without|avoid|never use|don't use|do not use) emojis?\b", re.I
)
_NO_EXCLAMATION_RE = re.compile(
    r"\bno (?:\w+, )*exclamation (?:marks?|points?)\b|"
    r"\b(?:without|avoid|never use|don't use|do not use) exclamation (?:marks?|points?)\b",
    re.I,
)
_EMOJI_RE = re.compile("[\U0001f300-\U0001faff\u2600-\u27bf]")


def forbidden_marks(ctx: DiagnosisContext, prompt: str) -> Finding | None:
    """The prompt forbids emojis or exclamation marks (a tone rule): does the output use them?"""
    if _NO_EMOJI_RE.search(prompt) and (m := _EMOJI_RE.search(ctx.output)):
        return Finding(B, "tone", f"emojis were ruled out; the output uses {m.group()!r}")
    if _NO_EXCLAMATION_RE.search(prompt) and "!" in ctx.output.replace("!=", ""):
        return Finding(B, "tone", "exclamation marks were ruled out; the output uses them")
    return None


def formal_address(ctx: DiagnosisContext, prompt: str) -> Finding | None:
    """Asked for the formal address (Sie, vous, usted): does the output use the informal one?"""
    informal = _INFORMAL_RE.search(ctx.output)
    if informal and _FORMAL_ASKED_RE.search(prompt) and not _FORMAL_RE.search(ctx.output):
        return Finding(B, "tone", f"the formal address was asked for; the output says {informal.group()!r}")
    return None


def plain_language(ctx: DiagnosisContext, prompt: str) -> Finding | None:
    """Asked for plain words (a child, everyday words): is the output full of long, technical words?"""
    if not _PLAIN_ASKED_RE.search(prompt):
        return None
    words = re.findall(r"[^\W\d_]+", ctx.output)
    if len(words) < 12:
        return None
    long_share = sum(1 for w in words if len(w) >= 10) / len(words)
    if long_share >= 0.12:
        return Finding(
            B,
            "register",
            f"plain words were asked for; {long_share:.0%} of the output's words are 10+ letters long",
        )
    return None
