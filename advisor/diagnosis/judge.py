"""Judge each record (pass/fail), run the detectors on failures, pick the verdict.

``diagnose(records, detectors, options)`` streams ``Diagnosis`` objects.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from advisor import text as T
from advisor.diagnosis.context import DiagnosisContext
from advisor.diagnosis.records import PRECEDENCE, Diagnosis, EvalRecord, FailureClass, Finding

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

    None when nothing can tell (no metric, no pass field, no reference), and when the log says its
    tool did not judge the record (``extra["not_judged"]``: an errored Inspect sample, a predict-only run).
    """
    if record.extra.get("not_judged"):
        return None
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
    """Output vs reference (any of ``extra["alternatives"]`` when the log gives several)."""
    alternatives = record.extra.get("alternatives")
    if alternatives:
        verdicts = [_compare(record, alt) for alt in alternatives]
        return any(verdicts) if any(v is not None for v in verdicts) else None
    return _compare(record, record.reference)


def _compare(record: EvalRecord, ref: str | None) -> bool | None:
    if record.choices and record.picked is not None and ref is not None:
        return T.normalize(record.choices[record.picked]) == T.normalize(ref)
    if ref is None or not ref.strip():
        return None
    ref_json = T.loose_json(ref)
    if ref_json is not None:
        value, how = T.parse_json(record.output)
        return how != "none" and T.canon(value) == T.canon(ref_json)
    out_norm, ref_norm = T.normalize(record.output), T.normalize(ref)
    return out_norm == ref_norm or T.contains_phrase(out_norm, ref_norm)


def classify(findings: list[Finding], ctx: DiagnosisContext) -> tuple[FailureClass, str, list[str], str]:
    """The verdict (class, subtype, evidence, confidence): the first finding of the strongest class.

    Confidence is ``high`` when that finding is a clear-cut judgement, ``low`` when it is a close call
    or when no detector found anything (the fallbacks below).
    """
    if not findings:
        if ctx.content_correct and not ctx.content_retold:
            return (
                FailureClass.FORMAT,
                "other-form",
                ["the expected answer is in the output, but the metric rejects its form"],
                "low",
            )
        return (
            FailureClass.FACTUAL,
            "unverified",
            ["no behaviour or format cause found; counted as a content error"],
            "low",
        )
    best = min(findings, key=lambda f: _RANK[f.verdict])
    if not best.confident:
        # a close call about the content does not override a clear breach of the form the prompt asked
        # for: that breach explains the failure by itself ("answered X, expected Y" would not)
        best = next((f for f in findings if f.confident and f.verdict is FailureClass.FORMAT), best)
    evidence = [best.evidence] + [f.evidence for f in findings if f is not best]
    return best.verdict, best.subtype, evidence, "high" if best.confident else "low"


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
        verdict, subtype, evidence, confidence = classify(findings, ctx)
        yield Diagnosis(record, False, verdict, subtype, evidence, confidence)


#: what forked workers of ``diagnose_parallel`` diagnose with (set before the pool forks)
_WORKER: dict[str, Any] = {}


def _diagnose_batch(batch: list[EvalRecord]) -> tuple[list[Diagnosis], bool, set[str]]:
    options = Options(metric=_WORKER["options"].metric, threshold=_WORKER["options"].threshold)
    out = list(diagnose(batch, _WORKER["detectors"], options))
    return out, options.metric_found, options.metrics_seen


def _batches(records: Iterable[EvalRecord], size: int) -> Iterator[list[EvalRecord]]:
    batch: list[EvalRecord] = []
    for record in records:
        batch.append(record)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def diagnose_parallel(
    records: Iterable[EvalRecord],
    detectors: list[Any],
    options: Options | None = None,
    jobs: int = 2,
    batch_size: int = 2000,
) -> Iterator[Diagnosis]:
    """``diagnose`` on ``jobs`` forked worker processes, batch by batch, in the log's order.

    The reading stays in this process; workers inherit the detectors at fork time (so plugins need not
    be importable by name). Where fork is not available, this is ``diagnose``.
    """
    import multiprocessing as mp

    options = options or Options()
    if jobs <= 1 or "fork" not in mp.get_all_start_methods():
        yield from diagnose(records, detectors, options)
        return
    _WORKER.update(detectors=detectors, options=options)
    with mp.get_context("fork").Pool(jobs) as pool:
        for found, metric_found, seen in pool.imap(_diagnose_batch, _batches(records, batch_size)):
            options.metric_found |= metric_found
            if len(options.metrics_seen) < 50:
                options.metrics_seen.update(seen)
            yield from found
