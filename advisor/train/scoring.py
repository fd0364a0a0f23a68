"""How a task built from user data scores one generation against its reference.

The metrics of ``--metric``:

* ``exact``: equal after normalising (case, surrounding whitespace and quotes, a trailing full stop,
  runs of whitespace);
* ``contains``: the normalised reference appears in the normalised output as whole words;
* ``number``: the last number of the output equals the reference's number (relative tolerance 1e-4;
  thousands separators and a decimal comma are understood);
* ``json``: the first JSON object or array in the output equals the reference's JSON (key order and
  spacing do not matter);
* ``regex:PATTERN``: the pattern is searched in the output; with a group, the group's text must equal
  the reference (normalised), without one a match passes.

Any of a record's alternatives (a list reference) counts. Scores are 0.0 or 1.0. Standard library only:
the generated lm-eval ``utils.py`` of a user task imports this module in every evaluation.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable

from advisor.errors import UsageError

METRICS = ("exact", "contains", "number", "json")
_SPACE = re.compile(r"\s+")
_NUMBER = re.compile(r"[-+]?\d{1,3}(?:,\d{3})+(?:\.\d+)?|[-+]?\d+(?:[.,]\d+)?")


def check_metric(metric: str) -> str:
    """``metric`` if it is one of :data:`METRICS` or a valid ``regex:PATTERN``, else a UsageError."""
    if metric in METRICS:
        return metric
    if metric.startswith("regex:"):
        try:
            re.compile(metric[len("regex:") :])
        except re.error as exc:
            raise UsageError(
                f"--metric {metric!r}: the pattern is not a regular expression ({exc})"
            ) from None
        return metric
    raise UsageError(
        f"unknown metric {metric!r}: use one of {', '.join(METRICS)}, or regex:PATTERN "
        "(or a task YAML for lm-eval's own metrics)"
    )


def normalise(text: str) -> str:
    text = _SPACE.sub(" ", str(text)).strip().casefold()
    text = text.strip("\"'`“”‘’ ")
    return text[:-1].rstrip() if text.endswith(".") else text


def number_of(text: str, last: bool = True) -> float | None:
    found = _NUMBER.findall(str(text))
    if not found:
        return None
    raw = found[-1] if last else found[0]
    if re.fullmatch(r"[-+]?\d{1,3}(?:,\d{3})+(?:\.\d+)?", raw):
        raw = raw.replace(",", "")
    try:
        return float(raw.replace(",", "."))
    except ValueError:
        return None


def json_of(text: str) -> object | None:
    """The first JSON object or array in ``text`` (code fences and prose around it are ignored)."""
    text = str(text)
    decoder = json.JSONDecoder()
    for i, ch in enumerate(text):
        if ch in "{[":
            try:
                value, _ = decoder.raw_decode(text, i)
            except ValueError:
                continue
            return value
    return None


def _one(metric: str, output: str, reference: str) -> bool:
    if metric == "exact":
        return normalise(output) == normalise(reference)
    if metric == "contains":
        ref = normalise(reference)
        if not ref:
            return False
        return re.search(rf"(?<!\w){re.escape(ref)}(?!\w)", normalise(output)) is not None
    if metric == "number":
        want, got = number_of(reference, last=False), number_of(output)
        if want is None or got is None:
            return False
        return abs(got - want) <= 1e-4 * max(1.0, abs(want))
    if metric == "json":
        want_json = json_of(reference)
        return want_json is not None and json_of(output) == want_json
    pattern = metric[len("regex:") :]
    match = re.search(pattern, str(output))
    if match is None:
        return False
    return normalise(match.group(1)) == normalise(reference) if match.groups() else True


def score(metric: str, output: str, reference: str, alternatives: Iterable[str] | None = None) -> float:
    """1.0 when ``output`` passes against the reference or any alternative under ``metric``, else 0.0."""
    refs = [reference, *(alternatives or [])]
    return 1.0 if any(_one(metric, output, str(r)) for r in refs if r is not None) else 0.0


def guess_metric(references: list[str]) -> str:
    """The metric a dataset without a log calls for: JSON references -> json, numbers -> number,
    else exact."""
    refs = [r for r in references if str(r).strip()]
    if refs and all(isinstance(json_of(r), (dict, list)) and str(r).strip()[0] in "{[" for r in refs):
        return "json"
    if refs and all(re.fullmatch(r"\s*[-+]?[\d.,]+\s*\w{0,6}\s*", str(r)) for r in refs):
        return "number"
    return "exact"


def metric_agreement(metric: str, rows: list[tuple[str, str, list[str], bool]]) -> float:
    """How well ``metric`` reproduces the log's own verdicts on (output, reference, alternatives, passed)
    rows: the balanced accuracy (the mean of its agreement on the passed and on the failed records), so
    that a log that fails nearly everything does not make "fail everything" look right."""
    if not rows:
        return 0.0
    shares = []
    for verdict in (True, False):
        part = [r for r in rows if r[3] is verdict]
        if part:
            same = sum((score(metric, out, ref, alts) >= 1.0) == passed for out, ref, alts, passed in part)
            shares.append(same / len(part))
    return sum(shares) / len(shares)


def applicable(metric: str, references: list[str]) -> bool:
    """Whether the references can be scored that way at all: ``number`` needs numbers in (nearly) all of
    them, ``json`` JSON; ``exact`` and ``contains`` always apply."""
    refs = [r for r in references if str(r).strip()]
    if not refs or metric in ("exact", "contains"):
        return True
    if metric == "number":
        hits = sum(number_of(r, last=False) is not None for r in refs)
    else:
        hits = sum(isinstance(json_of(r), (dict, list)) for r in refs)
    return hits >= 0.9 * len(refs)


def metric_from_log(rows: list[tuple[str, str, list[str], bool]]) -> tuple[str, float]:
    """Of the metrics that apply to the references, the one that best reproduces the log's pass/fail
    (balanced accuracy; ties go to the stricter one, in the order exact, json, number, contains)."""
    references = [r[1] for r in rows]
    best, best_agreement = "exact", -1.0
    for metric in ("exact", "json", "number", "contains"):
        if not applicable(metric, references):
            continue
        agreement = metric_agreement(metric, rows)
        if agreement > best_agreement:
            best, best_agreement = metric, agreement
    return best, best_agreement
