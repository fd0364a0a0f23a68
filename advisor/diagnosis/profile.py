"""The failure profile: counts, rates and a few examples per class, accumulated without keeping records.

``Profile.flat()`` is what rule conditions read (``count.format``, ``share.factual``...).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from advisor.diagnosis.records import PRECEDENCE, Diagnosis, FailureClass


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
    #: failed records whose verdict rests on a close call (``confidence: low``)
    low_confidence: int = 0
    #: per model, where the log names one (``record.extra["model"]``): none/failed/class counts
    models: dict[str, Counter] = field(default_factory=dict)

    def add(self, d: Diagnosis) -> None:
        self.total += 1
        model = d.record.extra.get("model") if d.record.extra else None
        if model:
            per_model = self.models.get(model)
            if per_model is None:
                per_model = self.models[model] = Counter()
            per_model["total"] += 1
            per_model[d.verdict.value if d.passed is not None else "unjudged"] += 1
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
        subtype = f"{v}/{d.subtype}"
        self.verdicts[v] += 1
        if d.confidence == "low":
            self.low_confidence += 1
        self.subtypes[subtype] += 1
        per_task[v] += 1
        per_task[subtype] += 1  # "class/subtype" keys: what a per-task plan needs (for_task)
        bucket = self.examples.setdefault(v, [])
        if len(bucket) < self.examples_per_class:
            bucket.append(d)

    def reclassify(self, d: Diagnosis, old_verdict: str, old_subtype: str | None) -> None:
        """Move an added failure from its old class to ``d``'s current one (after ``--judge``)."""
        new = d.verdict.value
        if new == old_verdict and d.subtype == old_subtype:
            return
        per_task = self.tasks[d.record.task or "-"]
        per_model = self.models.get(d.record.extra.get("model") or "")
        if per_model is not None:
            per_model[old_verdict] -= 1
            per_model[new] += 1
        old_key, new_key = f"{old_verdict}/{old_subtype}", f"{new}/{d.subtype}"
        for counter in (self.verdicts, per_task):
            counter[old_verdict] -= 1
            counter[new] += 1
        for counter in (self.subtypes, per_task):
            counter[old_key] -= 1
            counter[new_key] += 1
            if counter[old_key] <= 0:
                del counter[old_key]
        old_bucket = self.examples.get(old_verdict, [])
        if d in old_bucket:
            old_bucket.remove(d)
        bucket = self.examples.setdefault(new, [])
        if len(bucket) < self.examples_per_class and d not in bucket:
            bucket.append(d)

    def for_task(self, task: str) -> Profile:
        """The counts of one task as a profile of its own (no examples), for a per-task plan."""
        counts = self.tasks[task]
        p = Profile(examples_per_class=0, passed=counts["none"], unjudged=counts["unjudged"])
        p.tasks = {task: Counter({k: n for k, n in counts.items() if "/" not in k})}
        p.verdicts = Counter({c.value: counts[c.value] for c in PRECEDENCE if counts[c.value]})
        p.subtypes = Counter({k: n for k, n in counts.items() if "/" in k})
        p.total = p.passed + p.unjudged + p.failed
        return p

    @property
    def failed(self) -> int:
        return sum(self.verdicts.values())

    def flat(self) -> dict[str, Any]:
        """The profile as flat keys (``count.format``, ``share.factual``...) for rule conditions."""
        failed = self.failed
        judged = self.total - self.unjudged
        flat: dict[str, Any] = {
            "total": self.total,
            "passed": self.passed,
            "failed": failed,
            "skipped": self.skipped,
            "unjudged": self.unjudged,
            "pass_rate": self.passed / judged if judged else 0.0,
            "tasks.count": len(self.tasks),
            "tasks.failing": sum(1 for c in self.tasks.values() if sum(c[v.value] for v in PRECEDENCE)),
            "tasks.clean": sum(1 for c in self.tasks.values() if not sum(c[v.value] for v in PRECEDENCE)),
            "corpus.checked": self.corpus_checked,
            "corpus.retrievable": self.retrievable,
            "corpus.retrievable_share": self.retrievable / self.corpus_checked
            if self.corpus_checked
            else 0.0,
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
            "low_confidence": self.low_confidence,
            "models": {m: dict(c) for m, c in sorted(self.models.items())},
            "tasks": {
                t: {k: c[k] for k in ("none", *[v.value for v in PRECEDENCE], "unjudged") if c[k]}
                for t, c in sorted(self.tasks.items())
            },
            "corpus": {"checked": self.corpus_checked, "retrievable": self.retrievable}
            if self.corpus_checked
            else None,
        }
