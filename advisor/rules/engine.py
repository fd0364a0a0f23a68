"""The rules engine: rules are data (TOML or dicts), matched against a flat profile.

A rule never runs code. Conditions are ``KEY OP VALUE`` strings, scores are sums of
``N*KEY`` terms, rationales are templates with ``{KEY}`` placeholders. See
``default.toml`` for the format and docs/rules.md for the guide.
"""

from __future__ import annotations

import math
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from advisor.diagnosis.records import Recommendation
from advisor.errors import PluginError, UsageError

_COND_RE = re.compile(r"^\s*(not\s+)?([\w.+\-/]+)\s*(?:(>=|<=|==|!=|>|<)\s*(.+?))?\s*$")
_TERM_RE = re.compile(r"^\s*(?:(-?[\d.]+(?:e-?\d+)?)\s*\*\s*)?([A-Za-z_][\w.+\-/]*)?\s*$")
_PLACEHOLDER_RE = re.compile(r"\{([A-Za-z_][\w.+\-/]*)(?::([^{}]*))?\}")
_ALLOWED_KEYS = {
    "id",
    "technique",
    "kind",
    "when",
    "score",
    "rationale",
    "advice",
    "applies_to",
    "requires_fit",
    "skip_if_tried",
    "description",
}


@dataclass
class Rule:
    id: str
    when: list[str] = field(default_factory=list)
    technique: str | None = None
    kind: str | None = None
    score: str = "0"
    rationale: str = ""
    applies_to: list[str] = field(default_factory=list)
    requires_fit: bool = False
    skip_if_tried: bool = True
    origin: str = "default"

    @classmethod
    def from_dict(cls, data: dict, origin: str) -> Rule:
        unknown = set(data) - _ALLOWED_KEYS
        if "id" not in data:
            raise PluginError(f"{origin}: a rule has no id")
        if unknown:
            raise PluginError(f"{origin}: rule {data['id']!r} has unknown keys: {', '.join(sorted(unknown))}")
        when = data.get("when", [])
        when = [when] if isinstance(when, str) else list(when)
        for cond in when:
            if not _COND_RE.match(str(cond)):
                raise PluginError(f"{origin}: rule {data['id']!r} has a condition I cannot read: {cond!r}")
        rule = cls(
            id=str(data["id"]),
            when=[str(c) for c in when],
            technique=data.get("technique"),
            kind=data.get("kind"),
            score=str(data.get("score", "0")),
            rationale=str(data.get("rationale", "")),
            applies_to=[data["applies_to"]]
            if isinstance(data.get("applies_to"), str)
            else list(data.get("applies_to", [])),
            requires_fit=bool(data.get("requires_fit", False)),
            skip_if_tried=bool(data.get("skip_if_tried", True)),
            origin=origin,
        )
        _parse_score(rule.score, f"{origin}: rule {rule.id!r}")
        return rule


def _value(token: str) -> Any:
    token = token.strip().strip("\"'")
    low = token.lower()
    if low in ("true", "false"):
        return low == "true"
    try:
        return float(token)
    except ValueError:
        return token


def condition_holds(cond: str, profile: dict[str, Any]) -> bool:
    m = _COND_RE.match(cond)
    if not m:
        return False
    negate, key, op, raw = m.groups()
    value = profile.get(key)
    if op is None:
        result = bool(value)
        return not result if negate else result
    if value is None:
        return False
    right = _value(raw)
    if isinstance(right, str) and right in profile:  # compare two profile keys
        right = profile[right]
    try:
        result = {
            ">=": lambda a, b: a >= b,
            "<=": lambda a, b: a <= b,
            ">": lambda a, b: a > b,
            "<": lambda a, b: a < b,
            "==": lambda a, b: a == b,
            "!=": lambda a, b: a != b,
        }[op](value, right)
    except TypeError:
        return False
    return not result if negate else result


def _parse_score(expr: str, where: str) -> list[tuple[float, str | None]]:
    terms: list[tuple[float, str | None]] = []
    for sign, chunk in re.findall(r"(^|\s[+-]\s)([^\s].*?)(?=\s[+-]\s|$)", " ".join(expr.split())):
        if re.fullmatch(r"-?[\d.]+(?:e-?\d+)?", chunk):
            coef, key = float(chunk), None
        else:
            m = _TERM_RE.match(chunk)
            if not m or m.group(2) is None:
                raise PluginError(f"{where}: cannot read the score term {chunk!r} in {expr!r}")
            coef, key = float(m.group(1)) if m.group(1) else 1.0, m.group(2)
        terms.append((-coef if sign.strip() == "-" else coef, key))
    if not terms:
        raise PluginError(f"{where}: empty score {expr!r}")
    return terms


def score_of(expr: str, profile: dict[str, Any]) -> float:
    total = 0.0
    for coef, key in _parse_score(expr, "score"):
        v = 1.0 if key is None else profile.get(key, 0) or 0
        total += coef * float(v)
    return total


def render(template: str, profile: dict[str, Any]) -> str:
    def sub(m: re.Match) -> str:
        key, spec = m.group(1), m.group(2) or ""
        if key not in profile or profile[key] is None:
            return "?"
        value = profile[key]
        try:
            if (
                spec
                and isinstance(value, (int, float))
                and spec.endswith((",", "d"))
                and not isinstance(value, bool)
            ):
                value = int(value)
            return format(value, spec)
        except (ValueError, TypeError):
            return str(value)

    return _PLACEHOLDER_RE.sub(sub, template)


def load_rules(source: Any, origin: str | None = None) -> list[Rule]:
    """Rules from a TOML path or a list of dicts (what the ``advisor_register_rules`` hook gives)."""
    if isinstance(source, (str, Path)):
        path = Path(source)
        origin = origin or str(path)
        if not path.is_file():
            raise UsageError(f"no such rules file: {path}")
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise UsageError(f"{path} is not a valid TOML rules file: {exc}") from None
        items = data.get("rules")
        if not isinstance(items, list):
            raise UsageError(f"{path} has no [[rules]] entries")
    else:
        items = list(source)
        origin = origin or "plugin"
    return [Rule.from_dict(item, origin) for item in items]


def merge_rules(rule_sets: list[list[Rule]]) -> list[Rule]:
    """Later sets override earlier ones by rule id; order of first appearance is kept."""
    merged: dict[str, Rule] = {}
    for rules in rule_sets:
        for rule in rules:
            merged[rule.id] = rule
    return list(merged.values())


@dataclass
class Context:
    """What the user told us beyond the log (``--params``, ``--gpu-memory``, ...)."""

    params: float | None = None
    gpu_memory: float | None = None
    train_examples: int | None = None
    tried: frozenset[str] = frozenset()
    precision: str = "bf16"
    memory: dict[str, int] = field(default_factory=dict)
    #: every technique that can be named (registered, or recommended by a rule) -> its kind
    techniques: dict[str, str | None] = field(default_factory=dict)


def enrich(flat: dict[str, Any], ctx: Context, subtypes: dict[str, int]) -> dict[str, Any]:
    """Add context keys, per-class flags and memory fits to the flat profile."""
    p = dict(flat)
    for cls in ("factual", "behaviour", "format"):
        p[f"dominant.{cls}"] = 1 if p.get("dominant") == cls else 0
    p["json_failures"] = sum(
        n
        for k, n in subtypes.items()
        if k.startswith("format/")
        and k.split("/", 1)[1] in ("json-invalid", "json-keys", "truncated", "value-form", "code-fence")
    )
    if ctx.params is not None:
        p["context.params"] = ctx.params
        p["context.small_model"] = 1 if ctx.params < 1e9 else 0
    if ctx.gpu_memory is not None:
        p["context.gpu_memory"] = ctx.gpu_memory
    if ctx.train_examples is not None:
        p["context.train_examples"] = ctx.train_examples
    for name in ctx.techniques:
        p[f"tried.{name}"] = 1 if name in ctx.tried else 0
        p[f"not_tried.{name}"] = 0 if name in ctx.tried else 1
    for name, need in ctx.memory.items():
        p[f"memory.{name}"] = need
        if ctx.gpu_memory is not None:
            fits = need <= ctx.gpu_memory
            p[f"fits.{name}"] = 1 if fits else 0
            p[f"nofit.{name}"] = 0 if fits else 1
    if p.get("corpus.checked"):
        p["corpus_note"] = (
            f" {p['corpus.retrievable']} of {p['corpus.checked']} factual failures have their "
            "answer in the top BM25 passages of your corpus."
        )
    else:
        p["corpus_note"] = " (Pass --corpus DOCS to check that the answers are retrievable.)"
    return p


def recommend(
    profile: dict[str, Any], rules: list[Rule], ctx: Context
) -> tuple[list[Recommendation], list[dict]]:
    """Ranked recommendations (best rule per technique) and general advice, from the rules."""
    best: dict[str, tuple[float, Rule]] = {}
    advice_rules: list[Rule] = []
    for rule in rules:
        if not all(condition_holds(c, profile) for c in rule.when):
            continue
        if rule.technique is None:
            advice_rules.append(rule)
            continue
        if rule.skip_if_tried and rule.technique in ctx.tried:
            continue
        score = score_of(rule.score, profile)
        if rule.requires_fit and profile.get(f"nofit.{rule.technique}"):
            score *= 0.5
        if not math.isfinite(score):
            continue
        if rule.technique not in best or score > best[rule.technique][0]:
            best[rule.technique] = (score, rule)
    ranked = sorted(best.items(), key=lambda kv: -kv[1][0])
    recs: list[Recommendation] = []
    for rank, (technique, (score, rule)) in enumerate(ranked, 1):
        kind = rule.kind or ctx.techniques.get(technique)
        rationale = render(rule.rationale, profile)
        need = profile.get(f"memory.{technique}")
        fits = None if f"fits.{technique}" not in profile else bool(profile[f"fits.{technique}"])
        if need is not None and ctx.gpu_memory is not None:
            verb = "fits" if fits else "does NOT fit"
            rationale += (
                f" Needs about {need / 1e9:.1f} GB for training: {verb} {ctx.gpu_memory / 1e9:.0f} GB."
            )
        rec = Recommendation(
            rank=rank,
            technique=technique,
            rule=rule.id,
            rationale=rationale,
            score=score,
            kind=kind,
            memory_bytes=need,
            fits_gpu=fits,
        )
        recs.append(rec)
    general = []
    by_name = {r.technique: r for r in recs}
    for rule in advice_rules:
        text = render(rule.rationale, profile)
        if rule.applies_to:  # shown once, with the best-ranked technique it applies to
            targets = sorted((by_name[t] for t in rule.applies_to if t in by_name), key=lambda r: r.rank)
            if targets:
                targets[0].advice.append(text)
            continue
        general.append({"rule": rule.id, "text": text, "applies_to": rule.applies_to})
    return recs, general
