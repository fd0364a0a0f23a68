"""The shapes that flow through the main job: records in, verdicts and recommendations out."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any, NamedTuple


class FailureClass(str, Enum):
    """The primary class of a sample (docs/architecture.md, the failure taxonomy). ``NONE``: it passed."""

    NONE = "none"
    FACTUAL = "factual"
    BEHAVIOUR = "behaviour"
    FORMAT = "format"


#: When several classes hold for one sample, the first one in this order wins.
PRECEDENCE = (FailureClass.BEHAVIOUR, FailureClass.FACTUAL, FailureClass.FORMAT)


@dataclass(slots=True)
class EvalRecord:
    """One evaluated sample, whatever log it came from.

    ``passed`` is the log's own judgement where it has one (``None`` otherwise: the
    diagnosis then judges ``output`` against ``reference``). ``metrics`` holds every
    numeric metric the log gives for this sample; ``metric_higher_is_better`` the
    direction where the log says it.
    """

    source: str
    line: int
    prompt: str = ""
    output: str = ""
    reference: str | None = None
    id: str | None = None
    task: str | None = None
    doc_id: int | None = None
    filter: str | None = None
    passed: bool | None = None
    metrics: dict[str, float] = field(default_factory=dict)
    metric_higher_is_better: dict[str, bool] = field(default_factory=dict)
    #: lm-eval's request type: generate_until, loglikelihood, multiple_choice, ...
    output_type: str | None = None
    #: for multiple-choice records: the choices and the index the model picked
    choices: list[str] | None = None
    picked: int | None = None
    #: a declared output format (``json``, ``number``, ``choice``...) where the log states one
    format: str | None = None
    #: direct evidence from the log (promptfoo assertion results): (type, passed, reason)
    assertions: list[tuple[str, bool, str]] = field(default_factory=list)
    #: anything else the reader kept (e.g. lm-eval ``n-shot``)
    extra: dict[str, Any] = field(default_factory=dict)


class Finding(NamedTuple):
    """What one detector concluded about one failed record.

    ``confident`` is False when the judgement behind it was a close call (a borderline grounding, a
    language guess of low probability, code judged by token overlap): the verdict it decides is then
    marked ``low`` confidence.
    """

    verdict: FailureClass
    subtype: str
    evidence: str
    confident: bool = True


@dataclass(slots=True)
class Diagnosis:
    """The verdict of one record: the winning finding plus every piece of evidence."""

    record: EvalRecord
    #: None when nothing could judge the record (no metric, pass field or reference)
    passed: bool | None
    verdict: FailureClass
    subtype: str | None
    evidence: list[str]
    #: for failed records: "high" when the judgements behind the verdict are clear-cut, "low" when the
    #: verdict rests on a close call or on no finding at all; None for passed and unjudged records
    confidence: str | None = None
    #: with ``--judge``: the judge's verdict and reason, and the detectors' verdict it replaced
    judge: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        r = self.record
        return {
            "source": r.source,
            "task": r.task,
            "id": r.id if r.id is not None else str(r.line),
            "doc_id": r.doc_id,
            "filter": r.filter,
            "passed": self.passed,
            "verdict": self.verdict.value,
            "subtype": self.subtype,
            "evidence": self.evidence,
            "confidence": self.confidence,
            "judge": self.judge,
        }


@dataclass(slots=True)
class Recommendation:
    """One ranked next step produced by the rules engine."""

    rank: int
    technique: str
    rule: str
    rationale: str
    score: float
    kind: str | None = None
    memory_bytes: int | None = None
    fits_gpu: bool | None = None
    advice: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "rank": self.rank,
            "technique": self.technique,
            "rule": self.rule,
            "rationale": self.rationale,
            "score": round(self.score, 3),
            "kind": self.kind,
            "memory_bytes": self.memory_bytes,
            "fits_gpu": self.fits_gpu,
            "advice": self.advice,
        }
