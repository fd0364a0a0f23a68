"""Compare two runs: per-cell deltas and the regressions that should fail a nightly job.

Cells are matched on their configuration without the seed (model, task, technique, settings); the seeds
of a cell are its repeats. A cell regresses when

- a seed that was ``ok`` now failed, timed out or was killed;
- a quality score (``quality_*``, higher is better) dropped by more than ``quality_drop`` (absolute);
- a time (train time, latency; or throughput, which drops) or memory figure (peak memory, adapter size)
  grew by more than its relative threshold, by more than a small absolute floor, *and* by more than the
  spread (max - min) of either run's seeds;

and, where both runs have repeats and the sample sizes allow it, a one-sided Mann-Whitney U test agrees
at level ``alpha``. A quality score whose cell has per-document scores in both runs is instead paired on
the documents both runs scored (each document's score averaged over the seeds): an exact McNemar test when
every score is 0 or 1, else a paired bootstrap of the mean difference; a drop past ``quality_drop`` is a
regression only when that test gives p < ``alpha``, and ``suspect`` otherwise.

Times and memory are also held against their noise: with three or more earlier runs of the cell in the
store, a change must exceed three robust standard deviations of that history
(1.4826 x the median absolute deviation); with neither history nor repeats, a change is only
``suspect`` (shown, listed in ``--json``, never failing the job); between machines that differ (CPU,
core count, GPUs) timings are "not comparable" and never flagged. Which metric is which, and which way
is better, is in the registry ``advisor.train.metrics``; metrics without a direction there (parameter
counts, losses) are shown but never flagged.
"""

from __future__ import annotations

import math
import random
from dataclasses import asdict, dataclass, field
from typing import Any

from advisor.bench.store.engine import CellRecord, RunRecord, Store
from advisor.bench.suite import canonical_json, config_hash
from advisor.errors import UsageError
from advisor.train.metrics import metric as metric_facts

#: Growth below these is noise whatever the ratio (a 0.2 s cell that takes 0.3 s has not regressed).
FLOORS = {"s": 1.0, "ms": 1.0, "bytes": 16 * 2**20, "tokens/s": 1.0}
BAD_STATUSES = {"failed", "timeout", "killed"}
#: Families whose growth is judged relative to A, and the Thresholds field that bounds it.
GROWTH_LIMITS = {"time": "time_growth", "memory": "memory_growth", "size": "memory_growth"}
#: Quality scores that are paired per document, and the phase of the stored documents they come from.
PAIRED_PHASES = {"quality_before": "before", "quality_after": "after"}
BOOTSTRAP_RESAMPLES = 2000


@dataclass
class Thresholds:
    quality_drop: float = 0.05  # absolute, on scores in [0, 1]
    time_growth: float = 0.25  # relative
    memory_growth: float = 0.10  # relative
    alpha: float = 0.05  # level of the rank test on repeats and of the paired test on documents


@dataclass
class MetricDelta:
    name: str
    unit: str | None
    a: list[float]
    b: list[float]
    mean_a: float | None
    mean_b: float | None
    delta: float | None
    relative: float | None
    p_value: float | None = None
    regression: str | None = None  # why, when it is one
    suspect: str | None = None  # a change too large for the thresholds that noise cannot be ruled out of
    note: str | None = None  # why a change was not judged (different machines)
    noise_band: float | None = None  # three robust standard deviations of the cell's history
    test: str | None = None  # what gave p_value: "Mann-Whitney", "McNemar" or "paired bootstrap"
    paired_documents: int | None = None  # documents both runs scored (the paired tests)


@dataclass
class PairedTest:
    test: str  # "McNemar" or "paired bootstrap"
    p_value: float  # two-sided
    n: int  # paired documents
    mean_difference: float  # mean of B - A over the paired documents


@dataclass
class CellDelta:
    key: str
    model: str
    task: str
    technique: str
    settings: dict[str, Any]
    status_a: dict[int, str]  # seed -> status
    status_b: dict[int, str]
    metrics: list[MetricDelta] = field(default_factory=list)
    regressions: list[str] = field(default_factory=list)
    suspects: list[str] = field(default_factory=list)

    @property
    def label(self) -> str:
        return f"{self.technique} on {self.task} ({self.model})"

    def metric(self, name: str) -> MetricDelta | None:
        return next((m for m in self.metrics if m.name == name), None)


@dataclass
class Comparison:
    run_a: RunRecord
    run_b: RunRecord
    cells: list[CellDelta]
    only_a: list[str]  # cells of A that B lacks (labels)
    only_b: list[str]
    thresholds: Thresholds

    same_machine: bool = True
    #: with ``--history``: the earlier runs (newest first) pooled as the reference; run_a is the newest
    history_runs: list[int] = field(default_factory=list)

    @property
    def reference(self) -> str:
        """What B is compared with, in words."""
        if self.history_runs:
            ids = ", ".join(str(r) for r in self.history_runs)
            return f"history of {len(self.history_runs)} runs ({ids})"
        return f"run {self.run_a.run_id} ({self.run_a.name})"

    @property
    def regressions(self) -> list[tuple[CellDelta, str]]:
        return [(cell, why) for cell in self.cells for why in cell.regressions]

    @property
    def suspects(self) -> list[tuple[CellDelta, str]]:
        return [(cell, why) for cell in self.cells for why in cell.suspects]

    def to_json(self) -> dict[str, Any]:
        def run(r: RunRecord) -> dict[str, Any]:
            return {
                "run_id": r.run_id,
                "name": r.name,
                "suite": r.suite,
                "git_commit": r.git_commit,
                "started_at": r.started_at.isoformat() if r.started_at else None,
            }

        return {
            "run_a": run(self.run_a),
            "run_b": run(self.run_b),
            "thresholds": asdict(self.thresholds),
            "regressions": [{"cell": c.label, "key": c.key, "reason": why} for c, why in self.regressions],
            "suspects": [{"cell": c.label, "key": c.key, "reason": why} for c, why in self.suspects],
            "same_machine": self.same_machine,
            "history_runs": self.history_runs,
            "cells": [asdict(c) | {"label": c.label} for c in self.cells],
            "only_in_a": self.only_a,
            "only_in_b": self.only_b,
        }


def group_key(cell: CellRecord) -> str:
    return config_hash(
        {"model": cell.model, "task": cell.task, "technique": cell.technique, "settings": cell.settings}
    )


def pick_runs(
    store: Store, run_a: str | None, run_b: str | None, suite: str | None = None
) -> tuple[RunRecord, RunRecord] | None:
    """The two runs to compare: both given, or B given (A = the run of its suite before it), or none
    given (the last two runs of the suite of the latest run). None when there is nothing to compare."""
    if run_a is not None and run_b is not None:
        return store.run(run_a), store.run(run_b)
    if run_a is not None:  # one run given: compare it with the one before it
        b = store.run(run_a)
        earlier = [r for r in store.runs(b.suite) if r.run_id < b.run_id]
        return (earlier[0], b) if earlier else None
    runs = store.runs(latest_run(store, suite).suite, limit=2)
    return (runs[1], runs[0]) if len(runs) == 2 else None


def latest_run(store: Store, suite: str | None = None) -> RunRecord:
    """The newest run (of ``suite``); a UsageError when there is none."""
    latest = store.runs(suite, limit=1)
    if not latest:
        raise UsageError(f"no runs{f' of suite {suite!r}' if suite else ''} in {store.safe_url}")
    return latest[0]


def compare_runs(
    store: Store, a: RunRecord, b: RunRecord, thresholds: Thresholds | None = None
) -> Comparison:
    thresholds = thresholds or Thresholds()
    cells_a = _groups(store.cells(a.run_id, documents=True))
    cells_b = _groups(store.cells(b.run_id, documents=True))
    return _compare(store, a, b, cells_a, cells_b, thresholds)


def history_runs(store: Store, b: RunRecord) -> list[RunRecord]:
    """The earlier runs of B's suite made on B's kind of machine, newest first (at most HISTORY_RUNS)."""
    earlier = [r for r in store.runs(b.suite) if r.run_id < b.run_id and same_machine(r, b)]
    return earlier[:HISTORY_RUNS]


def compare_with_history(
    store: Store, b: RunRecord, thresholds: Thresholds | None = None, runs: list[RunRecord] | None = None
) -> Comparison | None:
    """B against its history: each cell's runs in the earlier runs of the suite on the same machine
    (or ``runs``), pooled as repeats (their mean is the reference, their spread and noise band the noise;
    quality is paired on the documents they scored, averaged). None when there is no earlier run."""
    runs = history_runs(store, b) if runs is None else runs
    if not runs:
        return None
    cells_a: dict[str, list[CellRecord]] = {}
    for run in reversed(runs):  # oldest first: a seed's status is its newest
        for key, cells in _groups(store.cells(run.run_id, documents=True)).items():
            cells_a.setdefault(key, []).extend(cells)
    cells_b = _groups(store.cells(b.run_id, documents=True))
    comparison = _compare(store, runs[0], b, cells_a, cells_b, thresholds or Thresholds())
    comparison.history_runs = [r.run_id for r in runs]
    return comparison


def _compare(
    store: Store,
    a: RunRecord,
    b: RunRecord,
    cells_a: dict[str, list[CellRecord]],
    cells_b: dict[str, list[CellRecord]],
    thresholds: Thresholds,
) -> Comparison:
    same = same_machine(a, b)
    history = _history(store, a, b)
    deltas = []
    for key in [k for k in cells_b if k in cells_a]:
        deltas.append(compare_cell(key, cells_a[key], cells_b[key], thresholds, history.get(key, {}), same))
    only_a = [_label(cells_a[k][0]) for k in cells_a if k not in cells_b]
    only_b = [_label(cells_b[k][0]) for k in cells_b if k not in cells_a]
    return Comparison(a, b, deltas, only_a, only_b, thresholds, same)


#: how many earlier runs of a suite give a cell's noise band
HISTORY_RUNS = 8


def same_machine(a: RunRecord, b: RunRecord) -> bool:
    """Were both runs made on the same kind of machine (CPU model, core count, GPUs)?"""
    keys = ("cpu", "cpus", "gpus")
    return all((a.hardware or {}).get(k) == (b.hardware or {}).get(k) for k in keys)


def _history(store: Store, a: RunRecord, b: RunRecord) -> dict[str, dict[str, list[float]]]:
    """Per cell key and metric: the mean of each earlier ok run of B's suite on B's machine, A included."""
    earlier = [r for r in store.runs(b.suite) if r.run_id < b.run_id and same_machine(r, b)][:HISTORY_RUNS]
    out: dict[str, dict[str, list[float]]] = {}
    for run in earlier:
        for key, cells in _groups(store.cells(run.run_id)).items():
            ok = [c for c in cells if c.status == "ok"]
            for name in {n for c in ok for n in c.metrics}:
                values = [c.metrics[name] for c in ok if name in c.metrics]
                out.setdefault(key, {}).setdefault(name, []).append(sum(values) / len(values))
    return out


def noise_band(values: list[float]) -> float | None:
    """Three robust standard deviations (1.4826 x MAD) of a metric's history; None under 3 values."""
    if len(values) < 3:
        return None
    ordered = sorted(values)
    median = ordered[len(ordered) // 2] if len(ordered) % 2 else sum(ordered[len(ordered) // 2 - 1 :][:2]) / 2
    deviations = sorted(abs(v - median) for v in values)
    n = len(deviations)
    mad = deviations[n // 2] if n % 2 else (deviations[n // 2 - 1] + deviations[n // 2]) / 2
    return 3 * 1.4826 * mad


def compare_cell(
    key: str,
    a: list[CellRecord],
    b: list[CellRecord],
    t: Thresholds,
    history: dict[str, list[float]] | None = None,
    same: bool = True,
) -> CellDelta:
    first = a[0]
    delta = CellDelta(
        key=key,
        model=first.model,
        task=first.task,
        technique=first.technique,
        settings=first.settings,
        status_a={c.seed: c.status for c in a},
        status_b={c.seed: c.status for c in b},
    )
    for seed, status in sorted(delta.status_b.items()):
        before = delta.status_a.get(seed)
        if before == "ok" and status in BAD_STATUSES:
            error = next((c.error for c in b if c.seed == seed), None) or ""
            from advisor.bench.runner import first_line

            delta.regressions.append(
                f"seed {seed}: ok -> {status}" + (f" ({first_line(error)})" if error else "")
            )
    ok_a, ok_b = [c for c in a if c.status == "ok"], [c for c in b if c.status == "ok"]
    names = sorted({n for c in ok_a + ok_b for n in c.metrics})
    for name in names:
        va = [c.metrics[name] for c in ok_a if name in c.metrics]
        vb = [c.metrics[name] for c in ok_b if name in c.metrics]
        unit = next((c.units.get(name) for c in ok_a + ok_b if name in c.units), None)
        phase = PAIRED_PHASES.get(name)
        docs_a = document_scores(ok_a, phase) if phase else {}
        docs_b = document_scores(ok_b, phase) if phase else {}
        metric = compare_metric(
            name, unit, va, vb, t, (history or {}).get(name, []), same, docs_a=docs_a, docs_b=docs_b
        )
        delta.metrics.append(metric)
        if metric.regression:
            delta.regressions.append(metric.regression)
        elif metric.suspect:
            delta.suspects.append(metric.suspect)
    return delta


def compare_metric(
    name: str,
    unit: str | None,
    a: list[float],
    b: list[float],
    t: Thresholds,
    history: list[float] | None = None,
    same: bool = True,
    *,
    docs_a: dict[str, float] | None = None,
    docs_b: dict[str, float] | None = None,
) -> MetricDelta:
    """The delta of one metric between the seeds of A and of B, judged against the thresholds.

    ``docs_a``/``docs_b`` (doc id -> score, quality only): with documents in common, the paired test on
    them decides whether a quality drop is significant; without, the seeds' rank test (as before)."""
    mean_a, mean_b = _mean(a), _mean(b)
    if mean_a is None or mean_b is None:
        return MetricDelta(name, unit, a, b, mean_a, mean_b, None, None)
    diff = mean_b - mean_a
    relative = diff / abs(mean_a) if mean_a else None
    metric = MetricDelta(name, unit, a, b, mean_a, mean_b, diff, relative)
    facts = metric_facts(name)
    direction = facts.direction
    if direction == 0:
        return metric
    worse = -diff * direction  # > 0: B is worse than A
    spread = max(_spread(a), _spread(b))
    fmt = facts.format
    if facts.family == "quality":
        candidate = worse > t.quality_drop
        why = f"{name} {fmt(mean_a)} -> {fmt(mean_b)} ({diff:+.3f}, threshold {t.quality_drop:g})"
        paired = paired_test(docs_a or {}, docs_b or {})
        if paired is not None:
            return _against_documents(metric, paired, candidate, why, direction, t)
    else:
        limit = growth_limit(facts.family, t)
        candidate = worse > limit * abs(mean_a) and worse > FLOORS.get(unit or "", 0.0) and worse > spread
        pct = f"{relative:+.0%}" if relative is not None else "new"
        why = (
            f"{name} {fmt(mean_a)} -> {fmt(mean_b)} ({pct}, threshold {limit:.0%}"
            f"{f', seed spread {fmt(spread)}' if spread else ''})"
        )
    if len(a) >= 2 and len(b) >= 2:
        metric.p_value = rank_test(a, b, direction)
        metric.test = "Mann-Whitney" if metric.p_value is not None else None
        if metric.p_value is not None and _min_p(len(a), len(b)) <= t.alpha:
            candidate = candidate and metric.p_value <= t.alpha
            why += f", Mann-Whitney p={metric.p_value:.3g}"
    if candidate and facts.family != "quality":
        return _against_noise(metric, worse, why, history or [], same)
    if candidate:
        metric.regression = why
    return metric


def _against_documents(
    metric: MetricDelta, paired: PairedTest, candidate: bool, why: str, direction: int, t: Thresholds
) -> MetricDelta:
    """A quality score paired on documents: a drop past the threshold is a regression only if the
    paired test finds it significant (and in the same direction); otherwise it is suspect."""
    metric.p_value, metric.test, metric.paired_documents = paired.p_value, paired.test, paired.n
    if not candidate:
        return metric
    p = f"{paired.test} p={paired.p_value:.3g}"
    if paired.p_value >= t.alpha:
        metric.suspect = f"{why}; not significant on {paired.n} paired documents ({p})"
    elif paired.mean_difference * direction >= 0:
        metric.suspect = (
            f"{why}; the {paired.n} paired documents do not show a drop "
            f"(mean {paired.mean_difference:+.3f}, {p})"
        )
    else:
        metric.regression = f"{why}, {p} on {paired.n} paired documents"
    return metric


def document_scores(cells: list[CellRecord], phase: str) -> dict[str, float]:
    """doc id -> its score in ``phase``, averaged over the seeds (cells) that scored it."""
    sums: dict[str, list[float]] = {}
    for cell in cells:
        for doc_id, score in cell.documents.get(phase, {}).items():
            sums.setdefault(doc_id, []).append(score)
    return {doc_id: sum(v) / len(v) for doc_id, v in sums.items()}


def paired_test(a: dict[str, float], b: dict[str, float]) -> PairedTest | None:
    """Two-sided paired test of B against A on the documents both scored; None when they share none.

    Scores that are all 0 or 1: the exact McNemar test (a binomial test on the discordant pairs).
    Otherwise: a paired bootstrap of the mean difference (seeded, so the verdict is reproducible)."""
    common = sorted(set(a) & set(b))
    if not common:
        return None
    pairs = [(a[d], b[d]) for d in common]
    n = len(pairs)
    mean_difference = sum(y - x for x, y in pairs) / n
    if all(v in (0.0, 1.0) for pair in pairs for v in pair):
        lost = sum(1 for x, y in pairs if x > y)
        gained = sum(1 for x, y in pairs if y > x)
        return PairedTest("McNemar", mcnemar(lost, gained), n, mean_difference)
    return PairedTest("paired bootstrap", paired_bootstrap([y - x for x, y in pairs]), n, mean_difference)


def mcnemar(lost: int, gained: int) -> float:
    """Exact two-sided McNemar p-value: a binomial test (p = 1/2) on the discordant pairs."""
    n = lost + gained
    if n == 0:
        return 1.0
    try:
        from scipy.stats import binomtest
    except ImportError:
        tail = sum(math.comb(n, k) for k in range(min(lost, gained) + 1)) / 2**n
        return min(1.0, 2 * tail)
    return float(binomtest(gained, n, 0.5).pvalue)


def bootstrap_means(differences: list[float], resamples: int = BOOTSTRAP_RESAMPLES) -> list[float]:
    """The means of ``resamples`` resamples (with replacement, seeded: reproducible) of the paired
    differences: what the paired bootstrap's p-value here and ``advisor try``'s intervals come from."""
    rng = random.Random(0)
    n = len(differences)
    return [sum(rng.choices(differences, k=n)) / n for _ in range(resamples)]


def paired_bootstrap(differences: list[float], resamples: int = BOOTSTRAP_RESAMPLES) -> float:
    """Two-sided p-value of "the mean paired difference is 0": twice the smaller share of resampled
    means on either side of 0 (each share counted as (k + 1) / (resamples + 1), so never 0)."""
    means = bootstrap_means(differences, resamples)
    below = sum(mean <= 0 for mean in means)
    above = sum(mean >= 0 for mean in means)
    return min(1.0, 2 * (min(below, above) + 1) / (resamples + 1))


def _against_noise(
    metric: MetricDelta, worse: float, why: str, history: list[float], same: bool
) -> MetricDelta:
    """A time or memory change past its thresholds: a regression only if it is also past its noise."""
    if not same:
        metric.note = "not comparable: the runs were made on different machines"
        return metric
    band = noise_band(history)
    metric.noise_band = band
    if band is not None:
        if worse > band:
            metric.regression = f"{why}, beyond its noise band {metric_facts(metric.name).format(band)}"
        return metric
    if len(metric.a) < 2 and len(metric.b) < 2:
        metric.suspect = f"{why}; one sample each and no history: re-run to confirm"
        return metric
    metric.regression = why
    return metric


def growth_limit(family: str, t: Thresholds) -> float:
    """The relative growth threshold of a family that has a direction (every one but quality)."""
    if family not in GROWTH_LIMITS:
        raise ValueError(f"metrics of the family {family!r} cannot be compared; give them no direction")
    return getattr(t, GROWTH_LIMITS[family])


def rank_test(a: list[float], b: list[float], direction: int) -> float | None:
    """One-sided Mann-Whitney U p-value for "B is worse than A"; None without scipy or variation."""
    try:
        from scipy.stats import mannwhitneyu
    except ImportError:
        return None
    if len(set(a) | set(b)) < 2:
        return None
    alternative = "greater" if direction > 0 else "less"  # A greater than B means B got worse
    return float(mannwhitneyu(a, b, alternative=alternative).pvalue)


def _min_p(n: int, m: int) -> float:
    """The smallest one-sided p-value an exact U test can give with these sample sizes."""
    return 1.0 / math.comb(n + m, n)


def _groups(cells: list[CellRecord]) -> dict[str, list[CellRecord]]:
    groups: dict[str, list[CellRecord]] = {}
    for cell in cells:
        groups.setdefault(group_key(cell), []).append(cell)
    return groups


def _label(cell: CellRecord) -> str:
    settings = f" {canonical_json(cell.settings)}" if cell.settings else ""
    return f"{cell.technique} on {cell.task} ({cell.model}){settings}"


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def _spread(values: list[float]) -> float:
    return max(values) - min(values) if len(values) > 1 else 0.0
