"""Built-in failure detectors (one plugin; each detector is one class with ``detect``).

Every detector answers one question about a failed record and returns findings with
evidence a person can check. The engine picks the verdict by precedence
(behaviour, factual, format); see DESIGN.md section 2 for the taxonomy.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from advisor import DiagnosisContext, FailureClass, Finding
from advisor import text as T

B, F, M = FailureClass.BEHAVIOUR, FailureClass.FACTUAL, FailureClass.FORMAT

_UNKNOWN_RE = re.compile(
    r"\b(i (?:do not|don't|dont) know|i'?m not sure|i am not sure|not (?:aware|familiar) (?:of|with)|"
    r"(?:do not|don't|dont) have (?:any )?(?:specific |enough |real-time |current )?(?:information|data|knowledge|details)|"
    r"no (?:information|data|record) (?:about|on|available)|(?:couldn't|could not|cannot|can't) find (?:any )?information|"
    r"unable to (?:find|provide) (?:any )?information|there is no (?:known|such))\b",
    re.I,
)
_REFUSAL_RE = re.compile(
    r"\b(i (?:can(?:no|')t|cannot|won't|will not|am unable to|'m unable to|must decline to)"
    r" (?:help|assist|provide|answer|comply|do that|fulfil|fulfill|respond|create|write|generate)|"
    r"(?:as an ai|as a language model)[^.]{0,60}(?:cannot|can't|not able)|i'?m sorry,? but i (?:can(?:no|')t|cannot|won't))",
    re.I,
)
_OUTDATED_RE = re.compile(
    r"\b(as of my (?:last|knowledge)|knowledge cut-?off|as of (?:19|20)\d\d|at the time of my training)\b",
    re.I,
)

# Instructions in a prompt that can be checked on the output.
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
_PERSONA_RE = re.compile(
    r"^\W*(?:as an ai|as a language model|as an ai language model|i am an ai|i'm an ai)\b", re.I
)
#: a cheap gate: prompts without any of these words carry no checkable instruction
_ANY_INSTRUCTION_RE = re.compile(
    r"\b(?:words?|sentences?|yes or no|capital|caps|uppercase|upper-case|lowercase|lower-case|"
    r"english|french|spanish|german|italian|portuguese)\b",
    re.I,
)
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


def _count(word: str) -> int | None:
    word = word.lower()
    return int(word) if word.isdigit() else _NUMBER_WORDS.get(word)


def _instruction_text(ctx: DiagnosisContext) -> str:
    """The instance part of the prompt: few-shot exemplars come before it."""
    return ctx.record.prompt[-800:]


class EmptyOutput:
    name = "empty-output"

    def detect(self, ctx: DiagnosisContext) -> Iterator[Finding]:
        if not ctx.output and not ctx.record.choices:
            yield Finding(B, "empty", "the output is empty")


class Repetition:
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
        if _PERSONA_RE.search(out) and not _REFUSAL_RE.search(out, 0, 160):
            yield Finding(
                B, "persona", f"steps out of the task to talk about being an AI: {T.clip(out, 60)!r}"
            )
            return
        if _UNKNOWN_RE.search(out):
            if ctx.grounded:
                yield Finding(
                    B,
                    "unfaithful-to-prompt",
                    "says it does not know, but the prompt gives what is needed to answer",
                )
            else:
                yield Finding(F, "unknown", f"the model says it does not know: {T.clip(out, 70)!r}")
        elif (m := _REFUSAL_RE.search(out, 0, 160)) and m.start() <= 40:
            yield Finding(B, "refusal", f"refuses the request: {T.clip(out, 70)!r}")


class EchoesPrompt:
    name = "echo"

    def detect(self, ctx: DiagnosisContext) -> Iterator[Finding]:
        out = ctx.output_norm
        if len(out) < 25 or len(out) < 0.5 * min(len(ctx.prompt_norm), 300):
            return
        if T.contains_phrase(ctx.prompt_norm, out) and not ctx.content_correct:
            yield Finding(B, "echo", "the output repeats the prompt instead of answering it")


_CLARIFY_RE = re.compile(
    r"^(?:could|can|would|do|did) you (?:please )?(?:clarify|specify|tell me|provide|explain|mean)|"
    r"^what do you mean|^(?:which|what) (?:one|event|person|year|country) do you mean|"
    r"\bcould you (?:please )?(?:clarify|specify|provide more)",
    re.I,
)
_CONTINUES_RE = re.compile(
    r"^(?:q|question|user|human|input|problem)\s*\d*\s*:|\n\s*(?:q|question|user|human)\s*\d*\s*:", re.I
)


class NoAttempt:
    """Asks a question back, or continues the prompt's pattern with new questions of its own."""

    name = "no-attempt"

    def detect(self, ctx: DiagnosisContext) -> Iterator[Finding]:
        out = ctx.output
        if not out or ctx.record.choices or ctx.content_correct:
            return
        if _CLARIFY_RE.search(out[:200]):
            yield Finding(
                B, "clarification", f"asks a question back instead of answering: {T.clip(out, 60)!r}"
            )
        elif _CONTINUES_RE.search(out[:300]):
            yield Finding(
                B, "off-topic", "writes new questions instead of answering (continues the prompt's pattern)"
            )


class OffTopic:
    """A long output that shares almost no content words with the prompt or the reference."""

    name = "off-topic"

    def detect(self, ctx: DiagnosisContext) -> Iterator[Finding]:
        if ctx.record.choices or ctx.wants_json:
            return
        out_words = T.content_words(ctx.output)
        if len(out_words) < 8:
            return
        anchor = T.content_words(_instruction_text(ctx)) | T.content_words(ctx.record.reference or "")
        if not anchor:
            return
        overlap = len(out_words & anchor) / len(out_words)
        if overlap < 0.05:
            yield Finding(
                B,
                "off-topic",
                f"only {len(out_words & anchor)} of {len(out_words)} content words of the output occur in the prompt or reference",
            )


class Instructions:
    """Checkable instructions of the prompt: language, case, length, yes/no."""

    name = "instructions"

    def detect(self, ctx: DiagnosisContext) -> Iterator[Finding]:
        rec = ctx.record
        if rec.choices or not ctx.output:
            return
        prompt = _instruction_text(ctx)
        out = ctx.output
        n_words = len(out.split())
        if not _ANY_INSTRUCTION_RE.search(prompt):
            yield from self._script(ctx, prompt, out)
            return
        # Language: an explicit instruction, or a script that differs from prompt and reference.
        m = _LANG_RE.search(prompt)
        named = (m.group(1) or m.group(2)).lower() if m else None
        want = _LANG_NAMES.get(named, named) if named else T.guess_language(prompt[-300:])
        if m and _TRANSLATE_RE.search(prompt):
            sources = [T.normalize(q) for q in _QUOTED_RE.findall(prompt)]
            if ctx.output_norm and any(ctx.output_norm == src for src in sources):
                yield Finding(
                    B,
                    "wrong-language",
                    f"asked for a translation into {want}; the output repeats the source text",
                )
                return
        got = T.guess_language(out) if want else None
        if want and got and got != want:
            how = "asked for" if m else "the prompt is in"
            yield Finding(B, "wrong-language", f"{how} {want}, the output reads as {got}")
        elif not m:
            yield from self._script(ctx, prompt, out)
        # Right content in the wrong case is a form problem; otherwise the instruction was ignored.
        case_class = M if ctx.content_correct else B
        if _UPPER_RE.search(prompt) and any(c.islower() for c in out):
            yield Finding(case_class, "case", "asked for capital letters, the output has lowercase letters")
        if _LOWER_RE.search(prompt) and any(c.isupper() for c in out):
            yield Finding(case_class, "case", "asked for lowercase, the output has capital letters")
        m = _N_WORDS_RE.search(prompt)
        if m and (want := _count(m.group(1))) and n_words != want:
            yield Finding(B, "length", f"asked for exactly {want} words, the output has {n_words}")
        m = _MAX_WORDS_RE.search(prompt)
        if m and (want := _count(m.group(1))) and n_words > want:
            yield Finding(B, "length", f"asked for at most {want} words, the output has {n_words}")
        m = _MAX_SENT_RE.search(prompt)
        if m and (want := _count(m.group(1))):
            sentences = len([s for s in re.split(r"[.!?]+(?:\s|$)", out) if s.strip()])
            if sentences > want:
                yield Finding(B, "length", f"asked for {want} sentence(s), the output has {sentences}")
        if _ONE_WORD_RE.search(prompt) and n_words > 1:
            if ctx.content_correct:
                yield Finding(
                    M,
                    "extra-prose",
                    f"asked for one word; the answer is there but wrapped in {n_words} words",
                )
            else:
                yield Finding(B, "length", f"asked for one word, the output has {n_words}")
        if _YES_NO_RE.search(prompt):
            first = T.words(out[:20])[:1]
            if first and first[0] in ("yes", "no"):
                if n_words > 1:
                    yield Finding(M, "extra-prose", "asked for yes or no; the output adds prose after it")
            elif not re.search(r"\b(yes|no)\b", out, re.I):
                yield Finding(B, "constraint", "asked for yes or no, the output says neither")

    @staticmethod
    def _script(ctx: DiagnosisContext, prompt: str, out: str) -> Iterator[Finding]:
        """An output in another writing system than the task's (no explicit language asked)."""
        if len(out) <= 3 or (out.isascii() and prompt.isascii() and (ctx.record.reference or "").isascii()):
            return
        expected = T.script_of(ctx.record.reference or "") or T.script_of(prompt)
        got = T.script_of(out)
        if expected and got and got != expected:
            yield Finding(
                B, "wrong-language", f"the output is written in {got} script, the task in {expected}"
            )


class JsonStructure:
    """Outputs that must be JSON: invalid, truncated, wrapped, wrong keys, wrong values."""

    name = "json"

    def detect(self, ctx: DiagnosisContext) -> Iterator[Finding]:
        if not ctx.wants_json or not ctx.output:
            return
        value, how = ctx.output_json
        ref = ctx.reference_json
        if how == "none":
            stripped = ctx.output.lstrip("`json \n")
            if stripped.startswith(("{", "[")) and T.first_balanced(stripped) is None:
                yield Finding(M, "truncated", "the JSON output is cut off before its closing bracket")
                value = T.repair_truncated(stripped)  # compare the values it did write
                if not isinstance(value, dict):
                    return
            elif "{" in ctx.output or "[" in ctx.output:
                yield Finding(M, "json-invalid", "the output has a JSON-like block that does not parse")
                return
            else:
                values = _leaf_values(ref)
                found = sum(1 for v in values if T.contains_phrase(ctx.output_norm, T.normalize(str(v))))
                if values and found < len(values) / 2:
                    yield Finding(
                        B,
                        "no-attempt",
                        f"JSON was required; the output is prose with {found} of "
                        f"{len(values)} expected values: {T.clip(ctx.output, 60)!r}",
                    )
                else:
                    yield Finding(
                        M,
                        "json-invalid",
                        f"JSON was required; the output is prose: {T.clip(ctx.output, 60)!r}",
                    )
                return
        if how == "fenced":
            yield Finding(M, "code-fence", "the JSON is wrapped in a Markdown code fence")
        elif how == "embedded":
            yield Finding(M, "extra-prose", "the JSON is surrounded by prose")
        if isinstance(ref, dict) and isinstance(value, dict):
            want, got = set(map(str.lower, ref)), set(k.lower() for k in value)
            truncated = how == "none"
            if truncated:  # a cut-off object: judge only the keys it wrote
                want = want & got
                ref = {k: v for k, v in ref.items() if k.lower() in got}
            if want != got:
                missing, extra = sorted(want - got), sorted(got - want)
                parts = ([f"missing {', '.join(missing)}"] if missing else []) + (
                    [f"extra {', '.join(extra)}"] if extra else []
                )
                yield Finding(M, "json-keys", f"wrong keys: {'; '.join(parts)}")
                return
            wrong = [k for k in ref if T.canon(ref[k]) != T.canon(_get_ci(value, k))]
            typed = [k for k in ref if k not in wrong and type(ref[k]) is not type(_get_ci(value, k))]
            reformed = [k for k in wrong if _same_value_other_form(ref[k], _get_ci(value, k))]
            if typed or reformed:
                yield Finding(
                    M,
                    "value-form",
                    f"right values in the wrong form or type for {', '.join(typed + reformed)}",
                )
            wrong = [k for k in wrong if k not in reformed]
            if not wrong:
                return
            detail = ", ".join(
                f"{k}: {T.clip(str(_get_ci(value, k)), 20)!r} vs {T.clip(str(ref[k]), 20)!r}"
                for k in wrong[:3]
            )
            if ctx.grounded or all(_in_prompt(ctx, ref[k]) for k in wrong):
                yield Finding(
                    B, "unfaithful-to-prompt", f"values differ from the text given in the prompt ({detail})"
                )
            else:
                yield Finding(F, "wrong-fact", f"wrong values ({detail})")


def _leaf_values(value) -> list:
    if isinstance(value, dict):
        return [x for v in value.values() for x in _leaf_values(v)]
    if isinstance(value, list):
        return [x for v in value for x in _leaf_values(v)]
    return [] if value is None or isinstance(value, bool) else [value]


def _same_value_other_form(want, got) -> bool:
    """'14 May 2025' for '2025-05-14', '149.90 EUR' for 149.9, '3' for 3."""
    if got is None or isinstance(got, (dict, list)):
        return False
    want_s, got_s = str(want), str(got)
    if T.same_date(want_s, got_s):
        return True
    if isinstance(want, (int, float)) and not isinstance(want, bool):
        nums = T.numbers_in(got_s)
        return len(nums) == 1 and abs(nums[0] - want) < 1e-9
    return T.normalize(want_s) == T.normalize(got_s)


def _get_ci(d: dict, key: str):
    if key in d:
        return d[key]
    low = key.lower()
    return next((v for k, v in d.items() if k.lower() == low), None)


def _in_prompt(ctx: DiagnosisContext, value) -> bool:
    norm = T.normalize(str(value))
    return bool(norm) and T.contains_phrase(ctx.prompt_norm, norm)


class BareAnswer:
    """The right answer is in the output but not in the form the task extracts."""

    name = "bare-answer"

    def detect(self, ctx: DiagnosisContext) -> Iterator[Finding]:
        rec = ctx.record
        if rec.choices or ctx.wants_json or not ctx.output or not rec.reference:
            return
        if ctx.is_choice:
            letter = T.choice_letter(ctx.output)
            want = rec.reference.strip().strip("()").upper()
            if letter == want and ctx.output.strip().strip("().").upper() != want:
                yield Finding(
                    M, "choice-not-bare", f"the right choice {want} is given inside prose, not bare"
                )
            elif letter is None:
                options = _options(rec.prompt)
                picked = [
                    k for k, text in options.items() if text and T.contains_phrase(ctx.output_norm, text)
                ]
                if picked == [want]:
                    yield Finding(
                        M, "choice-not-bare", f"gives the text of option {want} instead of its letter"
                    )
                elif len(picked) == 1:
                    yield Finding(
                        F, "wrong-fact", f"gives the text of option {picked[0]}; the answer is {want}"
                    )
            return
        ref_n, out_n = ctx.reference_norm, ctx.output_norm
        if out_n and len(out_n) >= 0.4 * len(ref_n) and ref_n.startswith(out_n + " "):
            yield Finding(M, "truncated", "the output stops part-way through the expected answer")
            return
        if ctx.reference_number is not None:
            ref = ctx.reference_number
            nums = T.numbers_in(ctx.output)
            pct = "%" in ctx.output or "percent" in ctx.output.lower()
            if any(
                abs(n - ref) < 1e-9
                or (pct and abs(n / 100 - ref) < 1e-9)
                or ("%" in rec.reference and abs(n * 100 - ref) < 1e-9)
                for n in nums
            ):
                if ctx.output_norm != ctx.reference_norm:
                    n_words = len(ctx.output.split())
                    # lm-eval's answer filters expect reasoning before the answer: long is fine there
                    filtered = rec.extra.get("filter_invalid") or rec.extra.get("raw_output")
                    if n_words > _LONG_ANSWER_WORDS and not filtered:
                        yield Finding(B, "length", f"a {n_words}-word answer where a number was asked")
                    else:
                        yield Finding(
                            M,
                            "number-form" if n_words <= 3 else "extra-prose",
                            f"the number {rec.reference.strip()} is in the output but not in the expected form",
                        )
            return
        if _same_items(rec.reference, ctx.output):
            yield Finding(M, "list-form", "the same items as expected, listed in another form")
            return
        if out_n and len(out_n) >= 0.4 * len(ref_n) and ref_n.startswith(out_n) and out_n != ref_n:
            yield Finding(M, "truncated", "the output stops part-way through the expected answer")
            return
        if T.same_date(rec.reference, ctx.output):
            if ctx.output_norm != ctx.reference_norm:
                yield Finding(M, "date-form", "the date is right but written in another form")
            return
        if ctx.content_correct and ctx.output_norm != ctx.reference_norm:
            n_words = len(ctx.output.split())
            if n_words > _LONG_ANSWER_WORDS and len(rec.reference.split()) <= 4 and "```" not in ctx.output:
                yield Finding(B, "length", f"a {n_words}-word answer where a short one was expected")
            elif "```" in ctx.output:
                yield Finding(M, "code-fence", "the answer is wrapped in a code fence")
            else:
                yield Finding(
                    M,
                    "extra-prose",
                    f"the expected answer {T.clip(rec.reference, 30)!r} is in the output, wrapped in {len(ctx.output.split())} words",
                )


#: a short expected answer given in more words than this is a length problem, not wrapping
_LONG_ANSWER_WORDS = 25
_ITEM_SPLIT_RE = re.compile(r"\s*(?:,|;|\n|\band\b|\bor\b|^\s*[-*•]|\n\s*[-*•\d.]+)\s*", re.I)


def _same_items(reference: str, output: str) -> bool:
    """'alpha, beta, gamma' vs 'alpha, beta and gamma' or a bulleted list of the same items."""
    ref = [T.normalize(x) for x in _ITEM_SPLIT_RE.split(reference) if x and T.normalize(x)]
    if len(ref) < 2:
        return False
    out = [T.normalize(x) for x in _ITEM_SPLIT_RE.split(output) if x and T.normalize(x)]
    return sorted(ref) == sorted(out) and reference.strip() != output.strip()


_OPTION_RE = re.compile(r"^\s*\(?([A-H])[).:]\s+(.+?)\s*$", re.M)


def _options(prompt: str) -> dict[str, str]:
    """Options 'A) text' / 'B. text' of the last question in a prompt, normalised."""
    return {m.group(1): T.normalize(m.group(2)) for m in _OPTION_RE.finditer(prompt[-1500:])}


class StrictFilter:
    """lm-eval: this filter fails where another filter of the same document passes."""

    name = "strict-filter"

    def detect(self, ctx: DiagnosisContext) -> Iterator[Finding]:
        if ctx.record.extra.get("filter_invalid") and ctx.content_correct:
            yield Finding(
                M,
                "strict-extraction",
                f"filter {ctx.record.filter!r} extracted no answer, but the generation holds the right one",
            )
            return
        if ctx.record.extra.get("raw_output") and ctx.content_correct:
            yield Finding(
                M,
                "strict-extraction",
                f"filter {ctx.record.filter!r} extracted the wrong part; the generation holds the right answer",
            )
            return
        siblings = ctx.record.extra.get("sibling_filters")
        if not siblings or ctx.options is None:
            return
        for name, metrics in siblings.items():
            if ctx.options.metrics_pass(ctx.record, metrics):
                yield Finding(
                    M,
                    "strict-extraction",
                    f"filter {ctx.record.filter!r} fails where filter {name!r} of the same document passes",
                )
                return


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
                f"an answer computed from numbers the prompt gives is wrong (expected {T.clip(rec.reference, 30)})",
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
                f"picked {T.clip(rec.choices[rec.picked], 30)!r}, the answer is {T.clip(rec.reference or '?', 30)!r}",
            )
            return
        if ctx.content_correct is False and ctx.output and not ctx.wants_json:
            sub = "outdated" if _OUTDATED_RE.search(ctx.output) else "wrong-fact"
            yield Finding(
                F, sub, f"answered {T.clip(ctx.output, 40)!r}, expected {T.clip(rec.reference or '', 40)!r}"
            )


class PromptfooAssertions:
    """promptfoo's failed assertions are direct evidence of the failure class."""

    name = "promptfoo-assertions"
    FORMAT_TYPES = (
        "is-json",
        "contains-json",
        "is-xml",
        "contains-xml",
        "is-sql",
        "contains-sql",
        "regex",
        "starts-with",
        "is-valid-openai-tools-call",
        "is-valid-openai-function-call",
        "is-html",
    )

    def detect(self, ctx: DiagnosisContext) -> Iterator[Finding]:
        for kind, ok, reason in ctx.record.assertions:
            if ok:
                continue
            why = f"promptfoo {kind} failed" + (f": {T.clip(reason, 60)}" if reason else "")
            if kind in self.FORMAT_TYPES:
                yield Finding(M, "json-invalid" if "json" in kind else "format", why)
            elif kind in ("not-is-refusal",):
                yield Finding(B, "refusal", why)
            elif kind in ("is-refusal", "moderation"):
                yield Finding(B, "unsafe", why)


BUILTIN_DETECTORS = (
    EmptyOutput(),
    Repetition(),
    RefusalOrUnknown(),
    NoAttempt(),
    EchoesPrompt(),
    OffTopic(),
    Instructions(),
    StrictFilter(),
    JsonStructure(),
    BareAnswer(),
    ReadingAndReasoning(),
    WrongFact(),
    PromptfooAssertions(),
)
