"""The main job: log -> records -> verdicts -> profile -> rules -> recommendations.

``run(request, pm)`` does it all and returns a ``Report``; the CLI only renders it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from advisor.diagnosis.judge import Options, diagnose_parallel
from advisor.diagnosis.profile import Profile
from advisor.diagnosis.readers import ReadContext, open_log
from advisor.diagnosis.records import Diagnosis, FailureClass, Recommendation
from advisor.errors import AdvisorError, UsageError
from advisor.rules import engine as R


@dataclass
class Request:
    path: Path
    format: str | None = None
    metric: str | None = None
    threshold: float = 0.5
    corpus: Path | None = None
    rule_files: list[Path] = field(default_factory=list)
    context: R.Context = field(default_factory=R.Context)
    strict: bool = False
    keep_records: bool = False
    examples: int = 3
    #: worker processes for the detectors (1: in this process)
    jobs: int = 1
    #: ``--judge``: a local model (folder, .gguf, smollm2) or an OpenAI-compatible base URL
    judge: str | None = None
    judge_model: str | None = None
    judge_key_env: str | None = None
    #: called with (records to judge, of them cached) before the judge runs; returns a progress
    #: callback taking the number of records judged since the last call (or None)
    judge_notice: Any = None
    #: called with each diagnosis as it is made (streaming ``--json``); records are then not kept
    on_record: Any = None


@dataclass
class TaskPlan:
    """One task's own ranking: the rules run on that task's counts alone."""

    dominant: str  # the largest failure class of the task, as the rules read it
    recommendations: list[Recommendation]


@dataclass
class Report:
    reader: str
    profile: Profile
    records: list[Diagnosis]
    recommendations: list[Recommendation]
    advice: list[dict]
    skipped: list[tuple[str, int, str]]
    warnings: list[str] = field(default_factory=list)
    #: a log with several tasks: the ranked recommendations of each failing task, by task
    plans: dict[str, TaskPlan] = field(default_factory=dict)
    #: what ``--judge`` did (None without it)
    judge: Any = None

    def summary_json(self) -> dict[str, Any]:
        summary = self.profile.summary()
        summary["reader"] = self.reader
        if self.judge is not None:
            summary["judge"] = dict(vars(self.judge))
        summary["skipped_lines"] = [f"{s}:{n}" for s, n, _ in self.skipped[:100]]
        return summary

    def tail_json(self) -> dict[str, Any]:
        """Everything but the records: what streaming ``--json`` writes after them."""
        return {
            "summary": self.summary_json(),
            "recommendations": [r.to_json() for r in self.recommendations],
            "plans": {task: [r.to_json() for r in plan.recommendations] for task, plan in self.plans.items()},
            "advice": self.advice,
        }

    def to_json(self) -> dict[str, Any]:
        return {"records": [d.to_json() for d in self.records], **self.tail_json()}


def params_from_model(model: str) -> float:
    """Parameter count from ``--model``: a config.json / model folder / .gguf, a model the memory
    calculator's table knows (``meta-llama/Llama-3.1-8B``), or a name with a size like 'llama-2-7b'."""
    from advisor import memory

    path = Path(model).expanduser()
    if path.exists():
        return float(memory.shape_from_config(path).params())
    shape = memory.known_model(model)
    if shape is not None:
        return float(shape.params())
    if model.lower().startswith("smollm2"):
        return 135e6
    m = re.search(r"(?<![\d.])(\d+(?:\.\d+)?)\s*([bm])(?![a-z])", model.lower())
    if not m:
        raise UsageError(f"cannot tell the size of model {model!r}: give a config path or --params (e.g. 7B)")
    return float(m.group(1)) * (1e9 if m.group(2) == "b" else 1e6)


def memory_needs(ctx: R.Context, techniques: dict[str, Any]) -> dict[str, int]:
    """Training memory of every registered technique that names an ``advisor memory`` method."""
    if ctx.params is None:
        return {}
    from advisor import memory

    needs = {}
    for name, technique in techniques.items():
        method = technique.memory_method
        if not method:
            continue
        precision = technique.memory_precision or ctx.precision
        try:
            est = memory.estimate(params=int(ctx.params), method=method, precision=precision)
        except AdvisorError:  # a method the calculator does not model: no memory claim
            continue
        needs[name] = int(est.total_bytes)
    return needs


def technique_kinds(techniques: dict[str, Any], rules: list[R.Rule]) -> dict[str, str | None]:
    """Every technique a user may name (``--tried``) or a rule may recommend, with its kind."""
    kinds: dict[str, str | None] = {name: t.kind for name, t in techniques.items()}
    for rule in rules:
        if rule.technique and rule.technique not in kinds:
            kinds[rule.technique] = rule.kind
    return kinds


def load_rules(registry: Any, files: list[Path]) -> list[R.Rule]:
    """The plugins' rules in precedence order (built-ins first), then ``--rules`` files: later ids win."""
    rule_sets = [R.load_rules(source) for _plugin, source in registry.rule_sources]
    rule_sets += [R.load_rules(p) for p in files]
    return R.merge_rules(rule_sets)


def _judge(request: Request, unsure: list[Diagnosis], profile: Profile) -> Any:
    """Run ``--judge`` on the low-confidence failures and move the ones it reclassifies."""
    from advisor.diagnosis import llm_judge as J

    cache = J.default_cache()
    backend = J.backend_for(request.judge or "", request.judge_model, request.judge_key_env)
    cached = sum(1 for d in unsure if cache.get(cache.key(backend.name, d)) is not None)
    progress = request.judge_notice(len(unsure), cached) if request.judge_notice else None
    before = [(d.verdict.value, d.subtype) for d in unsure]
    run = J.judge_all(unsure, backend, cache, progress=progress)
    for d, (verdict, subtype) in zip(unsure, before, strict=True):
        profile.reclassify(d, verdict, subtype)
    return run


def run(request: Request, registry: Any = None) -> Report:
    """Diagnose ``request.path`` with the registry's readers, detectors and rules."""
    if registry is None:
        from advisor.plugins import get_registry

        registry = get_registry()
    readers = registry.readers
    detectors = list(registry.detectors.values())
    rules = load_rules(registry, request.rule_files)
    kinds = technique_kinds(registry.techniques, rules)
    for name in sorted(request.context.tried):
        if name not in kinds:
            from advisor.errors import did_you_mean

            raise did_you_mean(name, list(kinds), "technique in --tried")

    read_ctx = ReadContext(strict=request.strict)
    reader, records, read_ctx = open_log(request.path, readers, request.format, read_ctx)
    corpus = None
    if request.corpus is not None:
        from advisor.diagnosis.corpus import CorpusIndex

        corpus = CorpusIndex.from_path(request.corpus)
    profile = Profile(examples_per_class=request.examples)
    corpus_by_task: dict[str, list[int]] = {}  # task -> [checked, retrievable], for the per-task plans
    kept: list[Diagnosis] = []
    unsure: list[Diagnosis] = []  # low-confidence failures, for --judge
    options = Options(metric=request.metric, threshold=request.threshold)
    for d in diagnose_parallel(records, detectors, options, jobs=request.jobs):
        if request.judge and d.confidence == "low" and d.verdict is not FailureClass.NONE:
            unsure.append(d)
        if corpus is not None and d.verdict is FailureClass.FACTUAL and d.record.reference:
            retrievable = _check_corpus(corpus, d)
            profile.corpus_checked += 1
            profile.retrievable += retrievable
            checked = corpus_by_task.setdefault(d.record.task or "-", [0, 0])
            checked[0] += 1
            checked[1] += retrievable
        profile.add(d)
        if request.keep_records or (request.on_record is not None and request.judge):
            kept.append(d)  # with --judge, records are written once it had its say, in the log's order
        elif request.on_record is not None:
            request.on_record(d)
    profile.skipped = len(read_ctx.skipped)
    judge_run = _judge(request, unsure, profile) if request.judge else None
    if request.on_record is not None and request.judge:
        for d in kept:
            request.on_record(d)
        if not request.keep_records:
            kept = []
    if request.metric and not options.metric_found and profile.total:
        from advisor.errors import did_you_mean

        raise did_you_mean(
            request.metric,
            sorted(options.metrics_seen) or ["(none: the log has no metrics)"],
            "--metric (no record has it)",
        )
    if profile.total == 0:
        from advisor.errors import InputError

        raise InputError(f"{request.path} has no readable records ({profile.skipped} lines skipped)")

    ctx = replace(
        request.context, memory=memory_needs(request.context, registry.techniques), techniques=kinds
    )
    flat = R.enrich(profile.flat(), ctx, dict(profile.subtypes))
    recs, advice = R.recommend(flat, rules, ctx)
    plans = task_plans(profile, corpus_by_task, rules, ctx) if len(profile.tasks) > 1 else {}
    return Report(
        reader.name,
        profile,
        kept,
        recs,
        advice,
        read_ctx.skipped,
        registry.warnings() + read_ctx.notes,
        plans,
        judge_run,
    )


def task_plans(
    profile: Profile, corpus_by_task: dict[str, list[int]], rules: list[R.Rule], ctx: R.Context
) -> dict[str, TaskPlan]:
    """The same rules on each failing task's own profile: a factual task and a format task get different
    first steps, where the log-wide ranking follows only the largest class."""
    plans = {}
    for task in sorted(profile.tasks):
        task_profile = profile.for_task(task)
        if task_profile.failed:
            task_profile.corpus_checked, task_profile.retrievable = corpus_by_task.get(task, (0, 0))
            flat = R.enrich(task_profile.flat(), ctx, dict(task_profile.subtypes))
            plans[task] = TaskPlan(flat["dominant"], R.recommend(flat, rules, ctx)[0])
    return plans


def _check_corpus(corpus: Any, d: Diagnosis) -> bool:
    """Whether the reference of a factual failure is in the top BM25 passages; the evidence says so."""
    from advisor.diagnosis.corpus import question_of

    hit = corpus.find(question_of(d.record.prompt), d.record.reference)
    if hit:
        rank, doc = hit
        d.evidence.append(
            f"the reference is in BM25 passage #{rank} of the corpus ({doc}): RAG can supply it"
        )
        return True
    d.evidence.append("the reference is not in the top BM25 passages of the corpus")
    return False


_FAIL_ON_RE = re.compile(r"^\s*(factual|behaviour|behavior|format|failed)\s*(>=|>)\s*([\d.]+%?)\s*$")


def parse_fail_on(spec: str) -> list[tuple[str, str, float]]:
    """``format>0.2,factual>=10%`` -> [(class, op, rate)]."""
    out = []
    for part in spec.split(","):
        m = _FAIL_ON_RE.match(part)
        if not m:
            raise UsageError(f"cannot read --fail-on {part.strip()!r} (example: format>0.2,factual>=10%)")
        cls, op, raw = m.groups()
        value = float(raw.rstrip("%")) / (100 if raw.endswith("%") else 1)
        out.append(("behaviour" if cls == "behavior" else cls, op, value))
    return out


def breached(report: Report, thresholds: list[tuple[str, str, float]]) -> list[str]:
    flat = report.profile.flat()
    out = []
    for cls, op, limit in thresholds:
        rate = 1 - flat["pass_rate"] if cls == "failed" else flat[f"rate.{cls}"]
        if (rate > limit) if op == ">" else (rate >= limit):
            out.append(f"{cls} rate {rate:.1%} {op} {limit:.1%}")
    return out
