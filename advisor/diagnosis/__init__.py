"""Diagnosis: judge each record, run the detectors on failures, accumulate a profile.

``diagnose(records, detectors, options)`` streams ``Diagnosis`` objects; ``Profile``
accumulates what the rules engine and the report need without keeping records.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from advisor.diagnosis import text as T
from advisor.diagnosis.context import DiagnosisContext
from advisor.records import PRECEDENCE, Diagnosis, EvalRecord, FailureClass, Finding

__all__ = ["DiagnosisContext", "Options", "Profile", "diagnose", "judge"]

_RANK = {cls: i for i, cls in enumerate(PRECEDENCE)}


@dataclass
class Options:
    """How pass/fail is decided: ``metric`` picks the metric, ``threshold`` the pass mark."""

    metric: str | None = None
    threshold: float = 0.5
    #: whether any record had ``metric``, and metric names seen (for a clear error on a typo)
    metric_found: bool = False
    metrics_seen: set[str] = field(default_factory=set)

    def metrics_pass(self, record: EvalRecord, metrics: dict[str, float]) -> bool | None:
        if not metrics:
            return None
        hib = record.metric_higher_is_better
        name = self.metric if self.metric in metrics else None
        if name is None:
            name = next((m for m in metrics if hib.get(m, True)), None)
        if name is None:
            return None
        value = metrics[name]
        return value >= self.threshold if hib.get(name, True) else value <= self.threshold


def judge(record: EvalRecord, options: Options) -> bool | None:
    """Did the record pass? The log's metric, then its pass field, then output vs reference.

    None when nothing can tell (no metric, no pass field, no reference).
    """
    if options.metric:
        if options.metric in record.metrics:
            options.metric_found = True
            return options.metrics_pass(record, record.metrics)
        if len(options.metrics_seen) < 50:
            options.metrics_seen.update(record.metrics)
    if record.passed is not None:
        return record.passed
    verdict = options.metrics_pass(record, record.metrics)
    if verdict is not None:
        return verdict
    return compare_to_reference(record)


def compare_to_reference(record: EvalRecord) -> bool | None:
    if record.choices and record.picked is not None and record.reference is not None:
        return T.normalize(record.choices[record.picked]) == T.normalize(record.reference)
    ref = record.reference
    if ref is None or not ref.strip():
        return None
    ref_json = T.loose_json(ref)
    if ref_json is not None:
        value, how = T.parse_json(record.output)
        return how != "none" and T.canon(value) == T.canon(ref_json)
    out_norm, ref_norm = T.normalize(record.output), T.normalize(ref)
    return out_norm == ref_norm or T.contains_phrase(out_norm, ref_norm)


def classify(findings: list[Finding], ctx: DiagnosisContext) -> tuple[FailureClass, str, list[str]]:
    if not findings:
        if ctx.content_correct:
            return FailureClass.FORMAT, "other-form", ["the expected answer is in the output, but the metric rejects its form"]
        return FailureClass.FACTUAL, "unverified", ["no behaviour or format cause found; counted as a content error"]
    best = min(findings, key=lambda f: _RANK[f.verdict])
    evidence = [best.evidence] + [f.evidence for f in findings if f is not best]
    return best.verdict, best.subtype, evidence


def diagnose(
    records: Iterable[EvalRecord], detectors: list[Any], options: Options | None = None
) -> Iterator[Diagnosis]:
    options = options or Options()
    for record in records:
        passed = judge(record, options)
        if passed is None or passed:
            yield Diagnosis(record, passed, FailureClass.NONE, None if passed else "unjudged", [])
            continue
        ctx = DiagnosisContext(record, options)
        findings = [f for d in detectors for f in (d.detect(ctx) or ())]
        verdict, subtype, evidence = classify(findings, ctx)
        yield Diagnosis(record, False, verdict, subtype, evidence)


@dataclass
class Profile:
    """Counts the rules engine reads; a few examples per class for the report."""

    examples_per_class: int = 3
    total: int = 0
    passed: int = 0
    unjudged: int = 0
    skipped: int = 0
    verdicts: Counter = field(default_factory=Counter)
    subtypes: Counter = field(default_factory=Counter)
    tasks: dict[str, Counter] = field(default_factory=dict)
    examples: dict[str, list[Diagnosis]] = field(default_factory=dict)
    corpus_checked: int = 0
    retrievable: int = 0

    def add(self, d: Diagnosis) -> None:
        self.total += 1
        task = d.record.task or "-"
        per_task = self.tasks.get(task)
        if per_task is None:
            per_task = self.tasks[task] = Counter()
        if d.verdict is FailureClass.NONE:
            if d.subtype == "unjudged":
                self.unjudged += 1
                per_task["unjudged"] += 1
            else:
                self.passed += 1
                per_task["none"] += 1
            return
        v = d.verdict.value
        self.verdicts[v] += 1
        self.subtypes[f"{v}/{d.subtype}"] += 1
        per_task[v] += 1
        bucket = self.examples.setdefault(v, [])
        if len(bucket) < self.examples_per_class:
            bucket.append(d)

    @property
    def failed(self) -> int:
        return sum(self.verdicts.values())

    def flat(self) -> dict[str, Any]:
        """The profile as flat keys (``count.format``, ``share.factual``...) for rule conditions."""
        failed = self.failed
        judged = self.total - self.unjudged
        flat: dict[str, Any] = {
            "total": self.total, "passed": self.passed, "failed": failed, "skipped": self.skipped,
            "unjudged": self.unjudged, "pass_rate": self.passed / judged if judged else 0.0,
            "tasks.count": len(self.tasks),
            "tasks.failing": sum(1 for c in self.tasks.values() if sum(c[v.value] for v in PRECEDENCE)),
            "tasks.clean": sum(1 for c in self.tasks.values() if not sum(c[v.value] for v in PRECEDENCE)),
            "corpus.checked": self.corpus_checked, "corpus.retrievable": self.retrievable,
            "corpus.retrievable_share": self.retrievable / self.corpus_checked if self.corpus_checked else 0.0,
        }
        for cls in PRECEDENCE:
            n = self.verdicts[cls.value]
            flat[f"count.{cls.value}"] = n
            flat[f"share.{cls.value}"] = n / failed if failed else 0.0
            flat[f"rate.{cls.value}"] = n / judged if judged else 0.0
        for key, n in self.subtypes.items():
            flat[f"count.{key}"] = n
        flat["share.format+behaviour"] = flat["share.format"] + flat["share.behaviour"]
        flat["count.format+behaviour"] = flat["count.format"] + flat["count.behaviour"]
        # On a tie the factual class wins: with both kinds of failure present, start with RAG (cheaper).
        tie_order = (FailureClass.FACTUAL, FailureClass.BEHAVIOUR, FailureClass.FORMAT)
        top = max(tie_order, key=lambda c: (self.verdicts[c.value], -tie_order.index(c))) if failed else None
        flat["dominant"] = top.value if top else "none"
        return flat

    def summary(self) -> dict[str, Any]:
        judged = self.total - self.unjudged
        return {
            "total": self.total,
            "passed": self.passed,
            "failed": self.failed,
            "unjudged": self.unjudged,
            "skipped": self.skipped,
            "pass_rate": round(self.passed / judged, 4) if judged else None,
            "verdicts": {c.value: self.verdicts[c.value] for c in PRECEDENCE},
            "subtypes": dict(self.subtypes.most_common()),
            "tasks": {t: {k: c[k] for k in ("none", *[v.value for v in PRECEDENCE], "unjudged") if c[k]}
                      for t, c in sorted(self.tasks.items())},
            "corpus": {"checked": self.corpus_checked, "retrievable": self.retrievable}
            if self.corpus_checked else None,
        }
