"""Outputs that must be JSON, one detector per question.

Is there parseable JSON at all (``JsonSyntax``); is it wrapped in a fence or prose (``JsonWrapping``);
are the keys right (``JsonKeys``); are the values right, in form and in substance (``JsonValues``)?

A wrong value is a behaviour failure when the prompt gives the text it should come from, and a
factual one otherwise; everything else here is a format failure.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from advisor import DiagnosisContext, Finding
from advisor import text as T
from advisor_plugins.detectors._common import B, F, M, in_prompt


def _cut_off_json(ctx: DiagnosisContext) -> str | None:
    """The output (without a fence opener) when it opens a JSON value that never closes, else None."""
    stripped = ctx.output.lstrip("`json \n")
    if stripped.startswith(("{", "[")) and T.first_balanced(stripped) is None:
        return stripped
    return None


class JsonSyntax:
    """Is there parseable JSON in the output? Cut off, unparseable, or prose where JSON was required."""

    name = "json-syntax"

    def detect(self, ctx: DiagnosisContext) -> Iterator[Finding]:
        if not (ctx.wants_json and ctx.output) or ctx.output_json[1] != "none":
            return
        if _cut_off_json(ctx) is not None:
            yield Finding(M, "truncated", "the JSON output is cut off before its closing bracket")
        elif "{" in ctx.output or "[" in ctx.output:
            yield Finding(M, "json-invalid", "the output has a JSON-like block that does not parse")
        else:
            yield _prose_instead_of_json(ctx)


def _in_output(ctx: DiagnosisContext, value) -> bool:
    """Is an expected JSON value in the (prose) output: as a phrase, or, for a query or a program, as
    the same code by structure ({"sql": "SELECT ..."} answered with the bare query)?"""
    if T.contains_phrase(ctx.output_norm, T.normalize(str(value))):
        return True
    kind = isinstance(value, str) and ctx.code_kind_of(value)
    if not kind:
        return False
    code = ctx.code_in_output(kind)
    return code is not None and ctx.same_code(code, value, kind)


def _prose_instead_of_json(ctx: DiagnosisContext) -> Finding:
    """Prose where JSON was required: with most expected values (a form problem) or not (no attempt)?"""
    values = T.json_leaves(ctx.reference_json)
    found = sum(1 for v in values if _in_output(ctx, v))
    if values and found < len(values) / 2:
        return Finding(
            B,
            "no-attempt",
            f"JSON was required; the output is prose with {found} of "
            f"{len(values)} expected values: {T.clip(ctx.output, 60)!r}",
        )
    return Finding(M, "json-invalid", f"JSON was required; the output is prose: {T.clip(ctx.output, 60)!r}")


class JsonWrapping:
    """Is the JSON wrapped in a code fence or in prose?"""

    name = "json-wrapping"

    def detect(self, ctx: DiagnosisContext) -> Iterator[Finding]:
        if not (ctx.wants_json and ctx.output):
            return
        how = ctx.output_json[1]
        if how == "fenced":
            yield Finding(M, "code-fence", "the JSON is wrapped in a Markdown code fence")
        elif how == "embedded":
            yield Finding(M, "extra-prose", "the JSON is surrounded by prose")


def _objects(ctx: DiagnosisContext) -> tuple[dict, dict] | None:
    """(expected, written) when both are JSON objects, else None.

    A cut-off object counts for what it wrote: the expected object is cut down to the keys it has.
    """
    ref = ctx.reference_json
    if isinstance(ref, list) and ctx.wants_json:
        # an array of objects, answered with as many objects: compared object by object
        value, _ = ctx.output_json
        ref_items, got_items = _entries(ref), _entries(value)
        if ref_items is None or got_items is None or len(ref) != len(value):
            return None
        return ref_items, got_items
    if not isinstance(ref, dict) or not (ctx.wants_json and ctx.output):
        return None
    value, how = ctx.output_json
    if how == "none":
        cut = _cut_off_json(ctx)
        value = None if cut is None else T.repair_truncated(cut)  # compare the values it did write
        if not isinstance(value, dict):
            return None
        got = {k.lower() for k in value}
        ref = {k: v for k, v in ref.items() if k.lower() in got}
    if not isinstance(value, dict):
        return None
    return ref, value


def _entries(value: Any) -> dict | None:
    """An array of objects as one object keyed '[i].key' (None for anything else)."""
    if not isinstance(value, list) or not value or not all(isinstance(x, dict) for x in value):
        return None
    return {f"[{i}].{k}": v for i, item in enumerate(value) for k, v in item.items()}


def _key_difference(ref: dict, value: dict) -> str | None:
    """'missing a, b; extra c' when the written keys differ from the expected ones (any case)."""
    want, got = set(map(str.lower, ref)), {k.lower() for k in value}
    if want == got:
        return None
    missing, extra = sorted(want - got), sorted(got - want)
    parts = ([f"missing {', '.join(missing)}"] if missing else []) + (
        [f"extra {', '.join(extra)}"] if extra else []
    )
    return "; ".join(parts)


def _without_keys(value: Any) -> Any:
    """The JSON value with its object keys dropped (values kept in order, nulls and list lengths kept):
    two values that are equal this way and differ with keys differ only in key names."""
    if isinstance(value, dict):
        return ("{", *(_without_keys(v) for v in value.values()))
    if isinstance(value, list):
        return ("[", *(_without_keys(v) for v in value))
    return T.canon(value)


def renamed_keys(want: Any, got: Any) -> bool:
    """The same values in the same places, under other key names (``label`` for ``type`` inside each
    entity, ``depart_date`` for ``departure_date`` inside a tool call's arguments)."""
    return (
        isinstance(want, (dict, list))
        and T.canon(want) != T.canon(got)
        and _without_keys(want) == _without_keys(got)
    )


def other_shape(want: Any, got: Any) -> str | None:
    """'an object where an array was asked' when the values are there, in order, in the other kind of
    container (each the same, or sharing at least half its words: wording is not the question here)."""

    def kind(value: Any) -> str | None:
        return "an array" if isinstance(value, list) else "an object" if isinstance(value, dict) else None

    asked, given = kind(want), kind(got)
    if asked is None or given is None or asked == given:
        return None
    a, b = T.json_leaves(want), T.json_leaves(got)
    if not a or len(a) != len(b) or not all(_close_values(x, y) for x, y in zip(a, b, strict=True)):
        return None
    return f"the values are there, in {given} where {asked} was asked"


def _close_values(want: Any, got: Any) -> bool:
    if T.canon(want) == T.canon(got):
        return True
    wa, wb = set(T.words(str(want))), set(T.words(str(got)))
    return bool(wa) and len(wa & wb) >= 0.5 * len(wa | wb)


class JsonKeys:
    """Does the JSON have the expected keys, at the top and inside nested objects?"""

    name = "json-keys"

    def detect(self, ctx: DiagnosisContext) -> Iterator[Finding]:
        ref = ctx.reference_json
        if isinstance(ref, list) and ctx.wants_json and renamed_keys(ref, ctx.output_json[0]):
            yield Finding(M, "json-keys", "the right values under other key names inside the array's objects")
            return
        if ctx.wants_json and (shape := other_shape(ref, ctx.output_json[0])) is not None:
            yield Finding(M, "json-keys", shape)
            return
        pair = _objects(ctx)
        if pair is not None and (difference := _key_difference(*pair)) is not None:
            yield Finding(M, "json-keys", f"wrong keys: {difference}")
        elif pair is not None:
            inside = [k for k in pair[0] if renamed_keys(pair[0][k], _get_ci(pair[1], k))]
            if inside:
                yield Finding(
                    M, "json-keys", f"the right values under other key names inside {', '.join(inside)}"
                )


class JsonValues:
    """With the right keys: are the values right, in the expected form and type?"""

    name = "json-values"

    def detect(self, ctx: DiagnosisContext) -> Iterator[Finding]:
        pair = _objects(ctx)
        if pair is None or _key_difference(*pair) is not None:
            return
        ref, value = pair
        if _cut_off_json(ctx) is not None and value:
            last = list(value)[-1].lower()  # the value written last may be cut short
            ref = {k: v for k, v in ref.items() if k.lower() != last}
        wrong = [
            k
            for k in ref
            if T.canon(ref[k]) != T.canon(_get_ci(value, k))
            and not _same_free_text(ref[k], _get_ci(value, k))
            and not renamed_keys(ref[k], _get_ci(value, k))  # JsonKeys tells
        ]
        typed = [k for k in ref if k not in wrong and type(ref[k]) is not type(_get_ci(value, k))]
        reformed = [k for k in wrong if _same_value_other_form(ref[k], _get_ci(value, k))]
        if typed or reformed:
            yield Finding(
                M, "value-form", f"right values in the wrong form or type for {', '.join(typed + reformed)}"
            )
        wrong = [k for k in wrong if k not in reformed]
        if wrong:
            yield _wrong_values(ctx, ref, value, wrong)


def _wrong_values(ctx: DiagnosisContext, ref: dict, value: dict, wrong: list[str]) -> Finding:
    """Values that differ: misread from the text the prompt gives (behaviour), or not known (factual)?"""
    detail = ", ".join(
        f"{k}: {T.clip(str(_get_ci(value, k)), 20)!r} vs {T.clip(str(ref[k]), 20)!r}" for k in wrong[:3]
    )
    invented = [k for k in wrong if ref[k] is None]
    if invented and len(invented) == len(wrong):
        return Finding(
            B, "unfaithful-to-prompt", f"fills {', '.join(invented)}, which the text leaves empty ({detail})"
        )
    leaves = [v for k in wrong for v in (T.json_leaves(ref[k]) or [ref[k]])]
    # wrong numbers are wrong: not looked for elsewhere in the output (a 6 inside a date is not 6 nights)
    numeric = all(isinstance(ref[k], (int, float)) and not isinstance(ref[k], bool) for k in wrong)
    # an option the prompt lists ('"likely" | "unlikely"') is not the answer given
    offered = {T.normalize(str(v)) for v in leaves if ctx.listed_as_option(v)}
    grounding = ctx.grounding_of(leaves, known_wrong=numeric).not_held(offered)
    written = all(
        in_prompt(ctx, ref[k], any_date_form=True) and not ctx.listed_as_option(ref[k]) for k in wrong
    )
    if grounding.grounded or written:
        return Finding(
            B,
            "unfaithful-to-prompt",
            f"values differ from the text given in the prompt ({detail})",
            grounding.clear,
        )
    return Finding(F, "wrong-fact", f"wrong values ({detail}); {grounding.evidence()}", grounding.clear)


def _same_free_text(want: Any, got: Any) -> bool:
    """Free text (a summary, a note, a reply, or a list of them): the same when it keeps the numbers
    and most of the words of the expected text; wording is not what a JSON check is about."""
    if isinstance(want, list) and isinstance(got, list):
        return bool(want) and _same_free_text(" ".join(map(str, want)), " ".join(map(str, got)))
    if not isinstance(want, str) or not isinstance(got, str) or len(want.split()) < 4:
        return False
    want_words, got_words = T.content_words(want), T.content_words(got)
    want_nums, got_nums = set(T.numbers_in(want)), set(T.numbers_in(got))
    shared = len(want_words & got_words) / max(1, len(want_words))
    return want_nums <= got_nums and shared >= 0.4


def _same_value_other_form(want: Any, got: Any) -> bool:
    """'14 May 2025' for '2025-05-14', '149.90 EUR' for 149.9, '3' for 3; inside a nested object,
    every value the same or the same in another form."""
    if isinstance(want, dict) and isinstance(got, dict):
        return set(map(str.lower, want)) == {k.lower() for k in got} and all(
            T.canon(v) == T.canon(_get_ci(got, k)) or _same_value_other_form(v, _get_ci(got, k))
            for k, v in want.items()
        )
    if got is None or isinstance(got, (dict, list)):
        return False
    want_s, got_s = str(want), str(got)
    if T.same_date(want_s, got_s):
        return True
    if isinstance(want, (int, float)) and not isinstance(want, bool):
        return any(abs(n - want) < 1e-9 * max(1.0, abs(want)) for n in T.values_in(got_s))
    return T.normalize(want_s.replace("_", " ")) == T.normalize(got_s.replace("_", " "))  # 'payment_terms'


def _get_ci(d: dict, key: str) -> Any:
    """``d[key]``, else the value of a key that differs only in case, else None."""
    if key in d:
        return d[key]
    low = key.lower()
    return next((v for k, v in d.items() if k.lower() == low), None)


class JsonItems:
    """An array of extracted items with items added or left out: does the text the prompt gives hold
    them? Adding what the text does not hold, or leaving out what it does, is not following it."""

    name = "json-items"

    def detect(self, ctx: DiagnosisContext) -> Iterator[Finding]:
        ref = ctx.reference_json
        value, how = ctx.output_json
        if (
            not (isinstance(ref, list) and isinstance(value, list) and ref and ctx.wants_json)
            or how == "none"
            or len(value) == len(ref)  # as many items: a different one is a wrong value (JsonValues)
        ):
            return
        if not all(_item_in_prompt(ctx, item) for item in ref):
            return  # not an extraction from the prompt's text
        want, got = [T.canon(x) for x in ref], [T.canon(x) for x in value]
        added = [x for x, c in zip(value, got, strict=True) if c not in want]
        left_out = [x for x, c in zip(ref, want, strict=True) if c not in got]
        invented = [x for x in added if not _item_in_prompt(ctx, x)]
        if invented:
            shown = ", ".join(T.clip(str(x), 30) for x in invented[:3])
            yield Finding(B, "unfaithful-to-prompt", f"adds {shown}, which the text does not hold")
        elif left_out and not added:
            shown = ", ".join(T.clip(str(x), 30) for x in left_out[:3])
            yield Finding(B, "unfaithful-to-prompt", f"leaves out {shown}, which the text holds")


def _item_in_prompt(ctx: DiagnosisContext, item: Any) -> bool:
    """Is every value of an array item (a name, or an object's values) written in the prompt?"""
    leaves = [v for v in T.json_leaves(item) if isinstance(v, str)]
    return bool(leaves) and all(in_prompt(ctx, v) for v in leaves)


#: a tool listed as a line of its own: '- send_email(to: string, ...)', '2. get_weather(city)'
_TOOL_LINE_RE = re.compile(r"^\s*(?:[-*•]|\d+[.)])?\s*([a-z][a-z0-9]*_[a-z0-9_]+)\s*\(", re.M)


class ToolChoice:
    """A tool call: is the tool one the prompt offers?"""

    name = "tool-choice"

    def detect(self, ctx: DiagnosisContext) -> Iterator[Finding]:
        value, how = ctx.output_json
        if how == "none" or not isinstance(value, dict) or not isinstance(value.get("name"), str):
            return
        if "arguments" not in value and "parameters" not in value and "args" not in value:
            return
        prompt = ctx.record.prompt
        offered = (
            set(re.findall(r'"name"\s*:\s*"([^"]+)"', prompt))
            | set(re.findall(r"\b(?:def|function)\s+(\w+)\s*\(", prompt))
            | set(_TOOL_LINE_RE.findall(prompt))
        )
        if len(offered) >= 1 and value["name"] not in offered and value["name"] not in prompt:
            yield Finding(
                B,
                "unfaithful-to-prompt",
                f"calls {value['name']!r}, which is not among the tools the prompt offers "
                f"({', '.join(sorted(offered)[:5])})",
            )
