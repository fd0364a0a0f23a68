"""Per-record view that detectors share: normalised texts and parsed JSON, computed once."""

from __future__ import annotations

import re
from typing import Any

from advisor import text as T
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
_CALC_RE = re.compile(
    r"\b(?:convert|calculate|compute|how many|how much|total|sum|difference|percent|average|"
    r"times|divided|multiplied|plus|minus|remain|left|later|earlier|after|before|postponed)\b|%",
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
        return "json" in self.record.prompt[-600:].lower()

    @cached_property
    def reference_number(self) -> float | None:
        """The number a short reference stands for: '12', '$0', '1,200 m', '25%' (as 25)."""
        ref = self.record.reference
        if not ref or len(ref) > 24 or T.has_date(ref):
            return None
        value = T.to_number(ref)
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
    def arithmetic(self) -> bool:
        """A numeric or date answer to be computed from numbers the prompt gives."""
        if self.reference_number is None and not T.has_date(self.record.reference or ""):
            return False
        nums = T.numbers_in(self.instance_prompt)
        return len(nums) >= 2 or (len(nums) == 1 and bool(_CALC_RE.search(self.instance_prompt)))

    @cached_property
    def grounded(self) -> bool:
        """The prompt holds what is needed to answer: a wrong answer is not missing knowledge."""
        return self.reference_in_prompt or self.gives_material or self.arithmetic

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
        if not self.reference_norm:
            return None
        if self.is_choice:
            letter = T.choice_letter(self.output)
            return None if letter is None else letter == rec.reference.strip().strip("()").upper()
        if T.same_date(rec.reference or "", self.output):
            return True
        if self.reference_number is not None:
            nums = T.numbers_in(self.output)
            if nums:
                return any(abs(n - self.reference_number) < 1e-9 for n in nums)
        return T.contains_phrase(self.output_norm, self.reference_norm)
