"""``advisor try``: diagnose a log, then measure the top recommendations on the user's own data and model.

The loop: diagnose LOG, build a task from the user's data (by default the log's own prompts and
references, split by document), take the recommended techniques that can run here (the others are skipped
with their reason), run each as an isolated harness cell into the results store (a run named after the
log, so ``--resume`` finishes a killed one without duplicates), then compare every technique with the
untouched model on the same test documents: the gain with a 95% paired bootstrap interval, and a verdict.
Finally it says, for each recommendation, whether the measurement confirmed the advice's order or
overturned it (a technique advised later that measurably beats one advised earlier).
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from advisor.errors import UsageError

#: the training kinds: they need training documents
TRAINS = ("peft", "full", "merge")
MIN_TRAIN = 8
#: per-cell costs measured on a 2-core CPU with the 135M model (quick suite): used by --time-budget
CELL_OVERHEAD_S = 25.0
EVAL_S_PER_DOC = 1.2
TRAIN_S_PER_EXAMPLE = 0.25
DEFAULT_TRAIN_LIMIT = 200
DEFAULT_EVAL_LIMIT = 60


@dataclass
class TryRequest:
    log: Path
    model: str = "smollm2-135m-instruct"
    top: int | None = None  # None: 3, quietly fewer when fewer can run
    techniques: list[str] = field(default_factory=list)  # explicit list instead of the advice's top N
    corpus: Path | None = None
    task_options: Any = None  # advisor.train.usertask.TaskOptions: --data/--train/--test/--metric
    data: Path | None = None
    fmt: str | None = None
    pass_threshold: float = 0.5
    seed: int = 0
    train_limit: int | None = None
    eval_limit: int | None = None
    time_budget_s: float | None = None
    db: str | None = None
    resume: bool = False
    progress: bool = True


class NothingToFix(Exception):
    """The log has no failures: there is nothing to try."""


def parse_duration(text: str) -> float:
    """``30m``, ``1h``, ``90s``, ``1h30m`` or plain seconds -> seconds."""
    text = text.strip().lower()
    if re.fullmatch(r"\d+(\.\d+)?", text):
        return float(text)
    parts = re.findall(r"(\d+(?:\.\d+)?)\s*([hms])", text)
    if not parts or "".join(f"{n}{u}" for n, u in parts) != text.replace(" ", ""):
        raise UsageError(f"--time-budget {text!r}: use e.g. 30m, 1h, 1h30m or 900 (seconds)")
    seconds = sum(float(n) * {"h": 3600, "m": 60, "s": 1}[u] for n, u in parts)
    if seconds <= 0:
        raise UsageError("--time-budget must be positive")
    return seconds


def _quick_suite() -> dict[str, Any]:
    from advisor.bench.suite import resolve_suite_path

    return tomllib.loads(resolve_suite_path("quick").read_text(encoding="utf-8"))


def quick_settings(suite: dict[str, Any] | None = None) -> dict[str, dict[str, Any]]:
    """The quick suite's settings per technique (sized for a CPU): what ``try`` trains with."""
    suite = _quick_suite() if suite is None else suite
    return {name: dict(t.get("settings", {})) for name, t in suite.get("techniques", {}).items()}


def choose(
    recommendations: list[Any],
    registry: Any,
    *,
    corpus: Path | None,
    train_size: int,
    device: str,
    top: int | None,
    techniques: list[str],
) -> tuple[list[tuple[str, int | None]], list[dict[str, Any]]]:
    """The techniques to run (name, advice rank) and the skipped ones with their reason."""
    from advisor.errors import did_you_mean
    from advisor.train.technique import Environment

    available = registry.techniques
    rank = {}
    for rec in recommendations:
        rank.setdefault(rec.technique, rec.rank)
    if techniques:
        for name in techniques:
            if name not in available:
                raise did_you_mean(name, list(available), "technique")
        wanted = [(name, rank.get(name)) for name in dict.fromkeys(techniques)]
    else:
        wanted = [(rec.technique, rec.rank) for rec in recommendations]
    env = Environment(device=device)
    chosen: list[tuple[str, int | None]] = []
    skipped: list[dict[str, Any]] = []
    limit = len(wanted) if techniques else (top or 3)
    for name, advice_rank in wanted:
        if name in (c for c, _ in chosen):
            continue
        reason = _skip_reason(available.get(name), name, corpus, train_size, env)
        if reason:
            skipped.append({"technique": name, "rank": advice_rank, "reason": reason})
        elif len(chosen) < limit:
            chosen.append((name, advice_rank))
    why = "; ".join(f"{s['technique']}: {s['reason']}" for s in skipped) or "no others"
    if top is not None and len(chosen) < top and not techniques:
        raise UsageError(f"--top {top}: only {len(chosen)} recommended technique(s) can run here ({why})")
    if not chosen:
        raise UsageError(f"none of the recommended techniques can run here: {why}")
    return chosen, skipped


def _skip_reason(technique: Any, name: str, corpus: Path | None, train_size: int, env: Any) -> str | None:
    if technique is None:
        return "advice only: no technique plugin of that name to run"
    if technique.kind == "retrieval" and corpus is None:
        return "no --corpus: retrieval needs documents to retrieve from"
    if technique.kind == "merge":
        return "a merge needs several fine-tuned models of the same base"
    if technique.kind in TRAINS and train_size < MIN_TRAIN:
        return f"too little training data ({train_size} documents; at least {MIN_TRAIN})"
    return technique.skip_reason(env)


def limits(
    train_size: int,
    test_size: int,
    cells: list[tuple[str, str]],
    *,
    train_limit: int | None,
    eval_limit: int | None,
    budget_s: float | None,
    params: float = 135e6,
) -> tuple[int, int, str | None]:
    """Training examples and test documents per cell; with a time budget, scaled down to fit it.

    ``cells`` are (technique, kind). The estimate is per-cell overhead + evaluation + training, from the
    quick suite's measurements on a 2-core CPU, scaled by model size; returns what it chose and why.
    """
    train = min(train_size, train_limit or DEFAULT_TRAIN_LIMIT)
    test = min(test_size, eval_limit or DEFAULT_EVAL_LIMIT)
    if budget_s is None:
        return train, test, None
    scale = max(1.0, params / 135e6)
    settings = quick_settings()
    epochs = {name: settings.get(name, {}).get("epochs", 2) for name, kind in cells if kind in TRAINS}

    def cost(n_train: int, n_test: int) -> float:
        total = EVAL_S_PER_DOC * scale * n_test  # the baseline, once (cached)
        for name, _ in cells:
            total += CELL_OVERHEAD_S + EVAL_S_PER_DOC * scale * n_test
            total += TRAIN_S_PER_EXAMPLE * scale * n_train * epochs.get(name, 0)
        return total

    fitted_train, fitted_test = train, test
    while cost(fitted_train, fitted_test) > budget_s and (fitted_train > MIN_TRAIN or fitted_test > 10):
        fitted_train = max(MIN_TRAIN, int(fitted_train * 0.85))
        fitted_test = max(10, int(fitted_test * 0.9))
    fitted_test = min(fitted_test, test)
    estimate = cost(fitted_train, fitted_test)
    why = (
        f"time budget {budget_s / 60:.0f} min: {fitted_train} training example(s) and {fitted_test} test "
        f"document(s) per cell (estimated {estimate / 60:.1f} min for {len(cells)} cell(s))"
    )
    if estimate > budget_s:
        why += "; even the smallest sizes are estimated over the budget"
    return fitted_train, fitted_test, why


# -- statistics ---------------------------------------------------------------------------------------


def paired_interval(before: dict[str, float], after: dict[str, float]) -> tuple[float, float, float, int]:
    """(mean gain, low, high, n): the 95% paired bootstrap interval of after - before over the documents
    both have (the resampling of ``bench compare``'s paired bootstrap)."""
    from advisor.bench.compare import BOOTSTRAP_RESAMPLES, bootstrap_means

    docs = sorted(set(before) & set(after))
    if not docs:
        return float("nan"), float("nan"), float("nan"), 0
    diffs = [after[d] - before[d] for d in docs]
    means = sorted(bootstrap_means(diffs))
    low, high = means[int(0.025 * BOOTSTRAP_RESAMPLES)], means[int(0.975 * BOOTSTRAP_RESAMPLES) - 1]
    return sum(diffs) / len(diffs), low, high, len(diffs)


def verdict(low: float, high: float) -> str:
    if low > 0:
        return "helps"
    if high < 0:
        return "hurts"
    return "no measurable effect"


def order_check(rows: list[dict[str, Any]], documents: dict[str, dict[str, float]]) -> list[str]:
    """A line per advised technique: confirmed, or overturned by a later-advised one that measurably
    beats it on the same documents (the 95% paired interval of their difference is above zero)."""
    advised = sorted((r for r in rows if r.get("rank") is not None), key=lambda r: r["rank"])
    lines = []
    for i, row in enumerate(advised):
        beaten_by = []
        for later in advised[i + 1 :]:
            diff, low, _, n = paired_interval(documents[row["technique"]], documents[later["technique"]])
            if n and low > 0:
                beaten_by.append(f"{later['technique']} (+{diff:.2f}, 95% CI above 0)")
        head = f"#{row['rank']} {row['technique']}: {row['verdict']} ({row['gain']:+.2f})"
        if beaten_by:
            lines.append(f"{head}; overturned: later advice measured better: {', '.join(beaten_by)}")
        else:
            lines.append(f"{head}; the advised order holds (no later-advised technique measured better)")
    return lines


# -- the loop ------------------------------------------------------------------------------------------


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:40] or "log"


def _dominant(verdicts: dict[str, int]) -> str | None:
    failed = {k: v for k, v in verdicts.items() if k not in ("none", "unjudged") and v}
    return max(failed, key=lambda k: failed[k]) if failed else None


def run_try(req: TryRequest, registry: Any = None, note: Any = None) -> dict[str, Any]:
    """Diagnose, choose, run and measure; returns the JSON-ready result (``advisor try --json``).

    Everything the user can get wrong is checked before the store is opened: nothing is written for a
    bad input. ``note`` receives lines for the user (progress, choices, warnings).
    """
    from advisor.diagnosis import pipeline as D
    from advisor.rules.engine import Context
    from advisor.train.models import check_model
    from advisor.train.usertask import TaskOptions, resolve_task

    note = note or (lambda line: None)
    if registry is None:
        from advisor.plugins import get_registry

        registry = get_registry()
    if not Path(req.log).exists() and str(req.log) != "-":
        raise UsageError(f"{req.log}: no such file or folder")
    check_model(req.model)  # a bad model path fails here, before anything is stored
    params = D.params_from_model(req.model)
    report = D.run(
        D.Request(
            path=req.log,
            format=req.fmt,
            threshold=req.pass_threshold,
            corpus=req.corpus,
            context=Context(params=params),
        ),
        registry,
    )
    summary = report.profile.summary()
    if not summary["failed"]:
        raise NothingToFix(f"{req.log}: no failed samples ({summary['total']} records): nothing to fix")
    dominant = _dominant(summary["verdicts"])
    note(
        f"diagnosis: {summary['failed']} of {summary['total']} failed, mostly {dominant}; advice: "
        + ", ".join(r.technique for r in report.recommendations[:6])
    )

    options = req.task_options or TaskOptions()
    options.corpus = req.corpus
    options.failure_class = dominant
    if req.data is None and options.train is None:
        options.fmt = req.fmt
    source = req.data or (None if options.train is not None else req.log)
    task = resolve_task(str(source) if source else None, registry, options)
    for line in task.notes:
        note(line)
    train_size, test_size = task.train_size or 0, task.test_size or 0

    device = _device()
    chosen, skipped = choose(
        report.recommendations,
        registry,
        corpus=task.corpus,
        train_size=train_size,
        device=device,
        top=req.top,
        techniques=req.techniques,
    )
    for s in skipped:
        note(f"skipped {s['technique']}: {s['reason']}")
    kinds = [(name, registry.techniques[name].kind) for name, _ in chosen]
    n_train, n_test, why = limits(
        train_size,
        test_size,
        kinds,
        train_limit=req.train_limit,
        eval_limit=req.eval_limit,
        budget_s=req.time_budget_s,
        params=params,
    )
    if why:
        note(why)
    note(
        f"trying {', '.join(n for n, _ in chosen)} on {req.model}: {n_train} training example(s), "
        f"{n_test} test document(s)"
    )

    from advisor.bench.runner import Progress, run_suite
    from advisor.bench.store.engine import Store
    from advisor.bench.suite import Cell, Suite

    quick = _quick_suite()
    settings, batch_size = quick_settings(quick), quick.get("batch_size")  # and its evaluation batch
    cells = [
        Cell(
            model=req.model,
            task=task.name,
            technique=name,
            seed=req.seed,
            settings={**settings.get(name, {}), "train_limit": n_train, "eval_limit": n_test},
            time_limit_s=3600.0,
            batch_size=batch_size,
        )
        for name, _ in chosen
    ]
    suite = Suite(
        name=f"try-{_slug(Path(req.log).name)}", path=None, description=f"advisor try {req.log}", cells=cells
    )
    with Store(req.db) as store:
        done = run_suite(suite, store, resume=req.resume, progress=Progress(enabled=req.progress))
        records = {c.config_hash: c for c in store.cells(done.run.run_id, documents=True)}
        documents = {h: c.documents for h, c in records.items()}
        result = _measure(req, task, chosen, skipped, cells, records, documents, registry)
        result.update(
            run=done.run.name,
            run_id=done.run.run_id,
            db=store.safe_url,
            diagnosis={
                "total": summary["total"],
                "failed": summary["failed"],
                "dominant": dominant,
                "verdicts": summary["verdicts"],
                "advice": [r.technique for r in report.recommendations],
            },
            limits={"train": n_train, "test": n_test, "why": why},
        )
    return result


def _device() -> str:
    try:
        import torch
    except ImportError:
        return "cpu"
    return "cuda" if torch.cuda.is_available() else "cpu"


def _measure(
    req: TryRequest,
    task: Any,
    chosen: list[tuple[str, int | None]],
    skipped: list[dict[str, Any]],
    cells: list[Any],
    records: dict[str, Any],
    documents: dict[str, dict[str, dict[str, float]]],
    registry: Any,
) -> dict[str, Any]:
    rows: list[dict[str, Any]] = []
    after_docs: dict[str, dict[str, float]] = {}
    baseline: dict[str, float] = {}
    for cell in cells:  # the baseline is the same in every cell (cached): take the first that has it
        before = documents.get(cell.config_hash, {}).get("before") or {}
        if before and not baseline:
            baseline = before
    for (name, rank), cell in zip(chosen, cells, strict=True):
        record = records.get(cell.config_hash)
        row: dict[str, Any] = {
            "technique": name,
            "kind": registry.techniques[name].kind,
            "rank": rank,
            "status": record.status if record else "missing",
        }
        docs = documents.get(cell.config_hash, {})
        after = docs.get("after") or {}
        if record is None or record.status != "ok" or not after:
            row.update(
                reason=(record.error if record else "not run") or "no per-document scores",
                before=None,
                after=None,
                gain=None,
                low=None,
                high=None,
                documents=0,
                verdict="not measured",
            )
            rows.append(row)
            continue
        before = docs.get("before") or baseline
        gain, low, high, n = paired_interval(before, after)
        common = sorted(set(before) & set(after))
        row.update(
            before=sum(before[d] for d in common) / n if n else None,
            after=sum(after[d] for d in common) / n if n else None,
            gain=gain if n else None,
            low=low if n else None,
            high=high if n else None,
            documents=n,
            verdict=verdict(low, high) if n else "not measured",
            train_time_s=record.metrics.get("train_time_s"),
            peak_memory_bytes=record.metrics.get("peak_memory_bytes"),
            duration_s=record.duration_s,
        )
        after_docs[name] = after
        rows.append(row)
    measured = [r for r in rows if r["gain"] is not None]
    order = order_check(measured, after_docs)
    best = max(measured, key=lambda r: r["gain"], default=None)
    return {
        "log": str(req.log),
        "model": req.model,
        "task": {
            "name": task.name,
            "path": str(task.path),
            "metric": task.metric,
            "train_size": task.train_size,
            "test_size": task.test_size,
            "corpus": str(task.corpus) if task.corpus else None,
            "notes": list(task.notes),
        },
        "baseline": {
            "quality": (sum(baseline.values()) / len(baseline)) if baseline else None,
            "documents": len(baseline),
        },
        "techniques": rows,
        "skipped": skipped,
        "order": order,
        "best": best["technique"] if best and best["verdict"] == "helps" else None,
    }
