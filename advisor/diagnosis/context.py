"""Per-record view that detectors share: normalised texts and parsed JSON, computed once."""

from __future__ import annotations

import dataclasses
import re
from typing import Any

from advisor import text as T
from advisor.diagnosis import evidence as E
from advisor.diagnosis.records import EvalRecord

_MATERIAL_RE = re.compile(
    r"(?:^|\n)\s*(?:[\w-]+ )?(?:text|passage|context|article|review|document|email|e-mail|paragraph|story|"
    r"excerpt|transcript|report|message|sentence|statement|description|conversation|dialogue|record|"
    r"input text|source|policy|rules|terms|facts|data|table|schedule|menu|manual|faq|notes|background|"
    r"information|product info)\s*:"
    r"|(?:from|in|of|text|passage|sentence|review|email)\s*:?\s*"
    r"['\"“][^'\"”]*(?:\s\S+){5,}?[^'\"”]*['\"”]"
    r"|\b(?:the|this) following (?:text|passage|article|review|paragraph|document|email|story)\b"
    r"|\baccording to (?:the|this) "
    r"(?:text|passage|article|review|sentence|paragraph|document|email|context)\b",
    re.I,
)

#: short references that are labels rather than facts: finding one in the prompt says nothing
LABEL_WORDS = frozenset(
    [
        "yes",
        "no",
        "true",
        "false",
        "positive",
        "negative",
        "neutral",
        "correct",
        "incorrect",
        "a",
        "b",
        "c",
        "d",
        "e",
    ]
)


#: "I don't know" and knowledge-cut-off statements: no answer was given, so its form says nothing
_NON_ANSWER_RE = re.compile(
    r"\b(i (?:do not|don['’]t|dont) know|i['’]?m not sure|i am not sure|not (?:aware|familiar) (?:of|with)|"
    r"(?:do not|don['’]t|dont) have (?:any )?(?:specific |enough |real-time |current |reliable |accurate "
    r"|up-to-date |verified )?"
    r"(?:information|data|knowledge|details)|knowledge cut-?off|"
    r"no (?:information|data|record) (?:about|on|available)|"
    r"(?:couldn't|could not|cannot|can't|unable to) (?:find|determine|tell|say) (?:any )?"
    r"(?:information|the|which|what|when|who|from|for sure|exactly)|unable to provide (?:any )?information|"
    r"there is no (?:known|such)|"
    r"(?:don't|do not|doesn't|does not) (?:say|mention|state) (?:anything|which|what|when|who))\b",
    re.I,
)
_CALC_ASK_RE = re.compile(
    r"\b(?:how (?:many|much|long|far|old)|total|sum|difference|calculat\w*|comput\w*|convert\w*|"
    r"percent\w*|average|remain\w*|left over|change|profit|cost|per|each|times|twice|half|split|"
    r"increase|decrease|discount|round(?:ed)? to|later|earlier|after|before|postponed|moved|perimeter|"
    r"area|volume|speed|rate|ratio|proportion|fraction|interest|tax|tip|score)\b|%",
    re.I,
)
_JSON_WANTED_RE = re.compile(
    r"\b(?:as|in|into|return|output|respond with|reply with|answer with|only|valid|raw|a|the)\s+"
    r"(?:a |an |the |valid |raw |only |strict )?json\b(?!\s+(?:file|files|document|path|config|data)\b)"
    r"|\bjson\s+(?:object|array|format|only|output|schema|list|with|response|reply)\b|json\.loads",
    re.I,
)


#: the longest expected answer (in words) an output can wrap in prose; longer ones are retold
RETOLD_WORDS = 6
_MARKUP_RE = re.compile(r"</?[a-z][a-z0-9]*(?:\s[^>]*)?>", re.I)


class cached_property:  # noqa: N801 - functools' version takes a lock on every first access (3.11)
    """Compute once per instance, then serve from the instance dict."""

    def __init__(self, fn):
        self.fn = fn
        self.name = fn.__name__
        self.__doc__ = fn.__doc__

    def __get__(self, obj, cls=None):
        if obj is None:
            return self
        value = obj.__dict__[self.name] = self.fn(obj)
        return value


class DiagnosisContext:
    """What detectors know about one failed record. Properties are computed lazily."""

    def __init__(self, record: EvalRecord, options: Any = None) -> None:
        self.record = record
        self.options = options

    @cached_property
    def output(self) -> str:
        return self.record.output.strip()

    @cached_property
    def output_norm(self) -> str:
        return T.normalize(self.output)

    @cached_property
    def reference_norm(self) -> str:
        return T.normalize(self.record.reference or "")

    @cached_property
    def prompt_norm(self) -> str:
        return T.normalize(self.record.prompt)

    @cached_property
    def prompt_iso_norm(self) -> str:
        """The prompt with its dates rewritten as YYYY-MM-DD, normalised."""
        return T.normalize(E.iso_dates(self.record.prompt))

    @cached_property
    def reference_json(self) -> Any:
        return T.loose_json(self.record.reference)

    @cached_property
    def output_json(self) -> tuple[Any, str]:
        return T.parse_json(self.output)

    @cached_property
    def wants_json(self) -> bool:
        fmt = (self.record.format or "").lower()
        if fmt:
            return fmt == "json"
        if self.reference_json is not None:
            return True
        if E.code_kind(self.record.reference or ""):
            return False
        return self.asks_for_json(self.record.prompt)

    @staticmethod
    def asks_for_json(prompt: str) -> bool:
        """Does the prompt (its last part, where the instruction is) ask for a JSON answer?"""
        return bool(_JSON_WANTED_RE.search(prompt[-600:]))

    @cached_property
    def reference_number(self) -> float | None:
        """The number a short reference stands for: '12', '$0', '1,200 m', '25%' (as 25)."""
        ref = self.record.reference
        if not ref or len(ref) > 24 or T.has_date(ref):
            return None
        value = T.to_number(ref)
        if value is None:
            value = E.fraction(ref)  # '1/16', answered 0.0625
        if value is not None:
            return value
        nums = T.numbers_in(ref)
        return nums[0] if len(nums) == 1 and len(ref.split()) <= 3 else None

    @cached_property
    def is_choice(self) -> bool:
        """A multiple-choice record (log-likelihood picks, or a bare choice letter as reference)."""
        if self.record.choices:
            return True
        ref = (self.record.reference or "").strip().strip("()").upper()
        return len(ref) == 1 and ref in "ABCDEFGH"

    @cached_property
    def reference_in_prompt(self) -> bool:
        """The expected answer is written in the prompt itself (extraction, reading passage)."""
        ref = self.reference_norm
        if not ref or self.record.choices or ref in LABEL_WORDS or len(ref) < 3:
            return False
        if self.reference_json is not None:
            values = [str(v) for v in T.json_leaves(self.reference_json)]
            return bool(values) and all(T.contains_phrase(self.prompt_norm, T.normalize(v)) for v in values)
        return T.contains_phrase(self.prompt_norm, ref)

    @cached_property
    def instance_prompt(self) -> str:
        """The last part of the prompt, where the instance is (few-shot exemplars come before it)."""
        return self.record.prompt[-1200:]

    @cached_property
    def gives_material(self) -> bool:
        """The prompt hands the model a text to work from (passage, review, context, ...)."""
        return bool(_MATERIAL_RE.search(self.instance_prompt))

    @cached_property
    def content_correct(self) -> bool | None:
        """Is the answer inside the output right, whatever its form? None: cannot tell.

        For lm-eval records whose filter extracted a wrong part, the raw generation counts too.
        """
        verdict = self._content_correct()
        raw = self.record.extra.get("raw_output")
        if verdict is False and raw and self.reference_number is not None:
            if any(abs(n - self.reference_number) < 1e-9 for n in T.numbers_in(raw)):
                return True
        elif verdict is False and raw and self.reference_norm:
            return T.contains_phrase(T.normalize(raw), self.reference_norm)
        return verdict

    def _content_correct(self) -> bool | None:
        rec = self.record
        if rec.choices and rec.picked is not None:
            return T.normalize(rec.choices[rec.picked]) == self.reference_norm
        if self.reference_json is not None:
            value, how = self.output_json
            if how == "none":
                return None
            return T.canon(value) == T.canon(self.reference_json)
        if self.json_leaf_matches:
            return True
        if not self.reference_norm and not self.is_choice:
            return None
        if self.is_choice:
            want = (rec.reference or "").strip().strip("()").upper()
            if self.output.strip().strip("().").upper() == want:
                return True  # 'c' for 'C'
            letter = T.choice_letter(self.output)
            return None if letter is None else letter == want
        if self.code_kind:
            return self.code_matches
        return self._text_correct()

    def _text_correct(self) -> bool:
        """A text answer, compared leniently: numbers in any notation and rounding, clock times,
        dates inside sentences, spacing and punctuation, most of a long reference's content."""
        ref = self.record.reference or ""
        answer = self.final_answer or self.output
        short = len(ref.split()) <= 6  # a date or number compared alone, not inside a description
        if short and (T.same_date(ref, answer) or T.same_date(ref, self.output)):
            return True
        if self.reference_number is not None:
            values = E.numbers(answer)
            # '+44 7700 900123' for '+447700900123', but not '2595' for '259.5' nor '-3' for '3'
            answer_norm = self.output_norm if answer is self.output else T.normalize(answer)
            same_sign = ("minus" in answer_norm.split()) == ("minus" in self.reference_norm.split())
            if E.squash(answer) == E.squash(ref) and not re.search(r"\d[.,]\d", ref) and same_sign:
                return True
            if values:
                return E.same_number(self.reference_number, values, ref) or E.same_quantity(
                    self.reference_number, answer, ref
                )
        ref_times = E.times(ref)
        if ref_times and ref_times & E.times(answer):
            return True
        ref_sq = E.squash(ref)
        if ref_sq == E.squash(answer) or (
            len(ref_sq) >= 6 and not ref_sq.isdigit() and ref_sq in E.squash(self.output)
        ):
            return True
        if T.has_date(ref) or E._DOTTED_DATE_RE.search(ref):
            if T.contains_phrase(T.normalize(E.iso_dates(self.output)), T.normalize(E.iso_dates(ref))):
                return True
        ref_units, missing = self.reference_units, self.missing
        if len(ref_units) >= 8 and len(missing) <= 0.15 * len(ref_units):
            # a long reference, nearly all there: right unless a number or a name is what is missing
            names = E.names_in(ref)
            if not any(v is not None or u in names for u, v in missing):
                return True
        return T.contains_phrase(self.output_norm, self.reference_norm)

    @cached_property
    def content_retold(self) -> bool:
        """The content is right only in the lenient sense: a reference of a sentence or more (not JSON,
        not code) whose words the output mostly has, without writing the reference itself, and whose
        form the output keeps (the reference is one paragraph of prose, or the output has as many lines).
        Such an output retells the expected answer; it does not wrap it in prose. A reference with a
        structure the output does not keep (HTML, 'KEY: value' lines, JSON Lines) is a form question."""
        ref = self.record.reference or ""
        if not (
            self.content_correct
            and self.reference_json is None
            and not self.code_kind
            and len(ref.split()) > RETOLD_WORDS
            and not T.contains_phrase(self.output_norm, self.reference_norm)
        ):
            return False
        ref_lines = [line for line in ref.splitlines() if line.strip()]
        out_lines = [line for line in self.output.splitlines() if line.strip()]
        prose = len(ref_lines) == 1 and not _MARKUP_RE.search(ref)
        return prose or len(ref_lines) == len(out_lines)

    @cached_property
    def final_answer(self) -> str | None:
        """The part after an explicit final-answer marker ('#### 18'), if the output has one."""
        return E.final_answer(self.output)

    @cached_property
    def json_leaf_matches(self) -> bool:
        """The output is JSON and one of its values is the (non-JSON) reference: right under a key."""
        if self.reference_json is not None or not self.output.lstrip().startswith(("{", "[", "`")):
            return False
        value, how = self.output_json
        if how == "none":
            return False
        want = (self.record.reference or "").strip().lower()
        return bool(want) and any(str(v).strip().lower() == want for v in T.json_leaves(value))

    @cached_property
    def code_kind(self) -> str | None:
        """'sql' or 'python' when the reference is a query or a program."""
        return E.code_kind(self.record.reference or "")

    @cached_property
    def output_code(self) -> str | None:
        """The code of the reference's kind in the output (whole, fenced or after prose), or None."""
        return E.code_in(self.output, self.code_kind) if self.code_kind else None

    @cached_property
    def code_matches(self) -> bool:
        """Is the output's code the reference's, by structure (names, aliases, annotations aside)?"""
        code, kind = self.output_code, self.code_kind
        return bool(code and kind and E.same_code(code, self.record.reference or "", kind))

    @staticmethod
    def code_kind_of(text: str) -> str | None:
        """'sql' or 'python' when ``text`` is a query or a program (a JSON field's value, say)."""
        return E.code_kind(text)

    def code_in_output(self, kind: str) -> str | None:
        """The code of ``kind`` in the output (whole, fenced or after prose), or None."""
        return E.code_in(self.output, kind)

    @staticmethod
    def same_code(code: str, reference: str, kind: str) -> bool:
        """Are two programs or queries the same by structure (names, aliases, annotations aside)?"""
        return E.same_code(code, reference, kind)

    @cached_property
    def code_similarity(self) -> float:
        """Token overlap (0-1) of the output's code with the reference's; 0 when there is no code."""
        code = self.output_code
        return E.similar_code(code, self.record.reference or "") if code else 0.0

    def date_from_prompt(self, text: str) -> bool:
        """Is ``text`` a date of the prompt moved by a number of days the prompt gives?"""
        return E.date_derivable(text, self.record.prompt, self.prompt_numbers)

    @cached_property
    def offered_labels(self) -> set[str]:
        """The labels the prompt offers as the only answers ('Allowed intents: a, b, c'), normalised."""
        return E.offered_labels(self.record.prompt, self.reference_norm)

    def listed_as_option(self, value: Any) -> bool:
        """Is ``value`` one of the options the prompt lists (a label list, a schema's quoted options)?
        Listing the options does not say which one is the answer."""
        norm = T.normalize(str(value))
        return norm in self.offered_labels or norm in self._quoted_options

    @cached_property
    def _quoted_options(self) -> set[str]:
        return E.quoted_options(self.record.prompt)

    @cached_property
    def non_answer(self) -> bool:
        """The output says it does not know or cannot tell (also: as of my knowledge cut-off)."""
        return bool(_NON_ANSWER_RE.search(self.output[:400]))

    @cached_property
    def reference_units(self) -> list[tuple[str, float | None]]:
        """The reference as units: its JSON values, or its numbers and content words (of a rubric-like
        reference, those of its content: 'Plain text, <=50 words: ...' does not ask for the word 'plain')."""
        ref = self.record.reference or ""
        return E.units(ref if self.reference_json is not None else E.rubric_body(ref), self.reference_json)

    @cached_property
    def output_numbers(self) -> list[float]:
        return E.numbers(self.output)

    @cached_property
    def missing(self) -> list[tuple[str, float | None]]:
        """The reference's units that the output does not have."""
        return E.missing_units(self.reference_units, self.output_norm, self.output_numbers)

    @cached_property
    def material(self) -> str:
        """The prompt's text without its option lines: what an answer can be drawn from."""
        return E.material(self.record.prompt)

    @cached_property
    def material_norm(self) -> str:
        """The material, normalised; when the reference is one of the labels the prompt offers, without
        the line that lists them (naming the labels does not give the answer; a rule that names one does)."""
        labels = self.offered_labels
        return T.normalize(E.without_label_lines(self.material, labels) if labels else self.material)

    @cached_property
    def prompt_numbers(self) -> list[float]:
        """The numbers of the prompt's material, read leniently (words, fractions, percentages)."""
        return E.numbers(self.material[-3000:])

    @cached_property
    def grounding(self) -> E.Grounding:
        """Of what the answer missed, how much the prompt writes or lets one compute."""
        found = E.grounding(
            self.missing,
            self.material_norm,
            self.record.prompt,
            self.prompt_numbers,
            E.names_in(self.record.reference or ""),
        )
        if found.computable and not self.asks_to_compute:
            # a number stated as a fact ("it is 330 m tall") is not computed, whatever arithmetic
            # on the prompt's numbers happens to reach it
            found = E.Grounding(found.missing, found.in_prompt, (), found.numeric, found.names)
        if found.grounded and found.computable and self.premises:
            # the model computed from a number it brought itself: the recalled fact is what failed
            return E.Grounding(found.missing, found.in_prompt, (), found.numeric)
        computed_date = len((self.record.reference or "").split()) <= 5 and self.reference_is_computed_date
        if computed_date:
            return self._date_computed(found)
        if found.grounded and len(self.reference_units) >= 8 and not (found.numeric or found.names):
            return dataclasses.replace(found, close=True)
        return found

    @staticmethod
    def _date_computed(found: E.Grounding) -> E.Grounding:
        """What was missed counts as computed when it is a date the prompt's days lead to."""
        if found.missing and not found.grounded:
            return E.Grounding(found.missing, (), found.missing, found.numeric)
        return found

    @cached_property
    def asks_to_compute(self) -> bool:
        """Does the question ask for a computation, or does the output show one?"""
        question = self.record.prompt.rstrip().rsplit("\n\n", 1)[-1][-400:]  # the last paragraph asks
        return bool(_CALC_ASK_RE.search(question)) or bool(E._OPERAND_RE.search(self.output))

    @cached_property
    def premises(self) -> list[float]:
        """Numbers the output computes with that the prompt does not give (facts the model recalled)."""
        return E.premises(self.output, self.prompt_numbers)

    @cached_property
    def reference_is_computed_date(self) -> bool:
        """The reference is a date of the prompt moved by a number of days the prompt gives."""
        return E.date_derivable(self.record.reference or "", self.record.prompt, self.prompt_numbers)

    def grounding_of(self, values: list, split: bool = False, known_wrong: bool = False) -> E.Grounding:
        """``grounding`` for some reference values only (the wrong fields of a JSON answer, the right
        option of a multiple-choice question). ``split``: judge each value by its words and numbers.
        ``known_wrong``: the output is already known to lack every value (its field holds another), so
        they are not looked for elsewhere in the output."""
        if split:
            units = [u for v in values for u in E.units(str(v))]
        else:
            units = [(T.normalize(str(v)), float(v) if isinstance(v, (int, float)) else None) for v in values]
        units = [(u, v) for u, v in units if u]
        missing = units if known_wrong else E.missing_units(units, self.output_norm, self.output_numbers)
        found = E.grounding(missing, self.material_norm, self.record.prompt, self.prompt_numbers)
        # 'Meta' in the prompt does not write the ticker 'META'
        found = found.not_held(
            {
                T.normalize(v)
                for v in values
                if isinstance(v, str) and T.code_written(self.record.prompt, v) is False
            }
        )
        if any(self.date_from_prompt(str(v)) for v in values):
            return self._date_computed(found)
        return found

    @cached_property
    def grounded(self) -> bool:
        """The prompt holds what is needed to answer: a wrong answer is not missing knowledge."""
        verdict = self.grounding.grounded
        if verdict is None:
            return self.reference_in_prompt or self.gives_material
        return verdict
