"""Evaluate a ``System`` with lm-eval on a task's local data.

Every technique, and the baseline, goes through the same path: the task's lm-eval YAML (with
absolute data paths, written by ``advisor.train.tasks.materialize_tasks``), lm-eval's own filters and
metrics, and an ``HFLM`` built around the in-memory model. The only hook is the prompt: a
technique's ``System.rewrite`` is applied to the user prompt before the chat template (or to the
raw context for models without one).
"""

from __future__ import annotations

import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from advisor.errors import InputError, UsageError
from advisor.train.technique import System, TaskData


def _offline() -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


@dataclass
class LoadedTask:
    """A task ready to evaluate: its lm-eval task object, data for techniques and primary metric."""

    name: str
    include_path: Path
    task: Any  # lm_eval.api.task.Task
    data: TaskData
    primary: str  # "metric,filter" as lm-eval reports it
    manager: Any = None  # the lm-eval TaskManager that loaded it (indexing tasks takes seconds)


def load_task(spec: Any, workdir: Path | None = None, train_limit: int | None = None) -> LoadedTask:
    """Materialise a registered task's YAML, load it through lm-eval, and render its training pairs.

    ``spec`` is an ``advisor.Task`` (``registry.tasks[name]``).
    """
    _offline()
    from advisor.train.tasks import materialize_tasks

    name = spec.name
    workdir = Path(workdir or tempfile.mkdtemp(prefix="advisor-tasks-"))
    yaml_file = getattr(spec, "yaml_file", None)
    if yaml_file is not None:  # an lm-eval YAML used as it is: its folder is the include path
        include = Path(yaml_file).parent
    else:
        include = materialize_tasks(workdir / "tasks", [str(spec.path)])
    from lm_eval.tasks import TaskManager

    # lm-eval's own task index (thousands of YAMLs, ~14 s on 2 cores) is only read for a user's YAML,
    # which may name lm-eval's tasks or groups; a bundled or generated task stands alone.
    manager = TaskManager(include_path=str(include), include_defaults=yaml_file is not None)
    try:
        task = manager.load_task_or_group([name])[name]
    except KeyError:
        raise InputError(f"lm-eval found no task {name!r} under {include}") from None
    train_docs = list(task.training_docs()) if task.has_training_docs() else []
    if train_limit:
        train_docs = train_docs[:train_limit]
    rows = [{"prompt": str(task.doc_to_text(d)), "target": _target_text(task, d)} for d in train_docs]
    corpus = None
    if getattr(spec, "corpus", None):
        from advisor.diagnosis.corpus import load_corpus

        corpus = load_corpus(Path(spec.corpus))
    return LoadedTask(name, include, task, TaskData(name, rows, corpus), primary_metric(task), manager)


def _target_text(task: Any, doc: dict) -> str:
    target = task.doc_to_target(doc)
    if isinstance(target, list):
        target = target[0]
    if isinstance(target, int) and getattr(task, "OUTPUT_TYPE", "") == "multiple_choice":
        target = task.doc_to_choice(doc)[target]
    return str(target)


def primary_metric(task: Any) -> str:
    """``metadata.primary_metric`` of the YAML, else the first metric under the first filter."""
    cfg = task.config
    meta = getattr(cfg, "metadata", None) or {}
    if isinstance(meta, dict) and meta.get("primary_metric"):
        return str(meta["primary_metric"])
    metric = cfg.metric_list[0]["metric"] if cfg.metric_list else "acc"
    filters = cfg.filter_list or []
    first = filters[0]["name"] if filters and isinstance(filters[0], dict) else "none"
    return f"{metric},{first}"


def make_lm(system: System, batch_size: int = 8) -> Any:
    """An lm-eval HFLM around the system's in-memory model that applies its prompt rewrite."""
    from lm_eval.models.huggingface import HFLM

    class AdvisorLM(HFLM):
        def apply_chat_template(self, chat_history, add_generation_prompt=True):
            if system.rewrite is not None:
                chat_history = [dict(m) for m in chat_history]
                last = max(i for i, m in enumerate(chat_history) if m.get("role") == "user")
                chat_history[last]["content"] = system.prompt(chat_history[last]["content"])
            return super().apply_chat_template(chat_history, add_generation_prompt)

    lm = AdvisorLM(pretrained=system.model, tokenizer=system.tokenizer, batch_size=batch_size)
    return lm


def evaluate(
    system: System,
    loaded: LoadedTask,
    limit: int | None = None,
    batch_size: int = 8,
    log_samples: bool = False,
) -> dict[str, Any]:
    """Run lm-eval; returns {"metrics": {"metric,filter": value}, "primary": value, "seconds": s}."""
    _offline()
    from lm_eval import simple_evaluate
    from lm_eval.tasks import TaskManager

    if system.rewrite is not None and not getattr(system.tokenizer, "chat_template", None):
        raise UsageError("prompt-rewriting techniques need a model with a chat template")
    chat = bool(getattr(system.tokenizer, "chat_template", None))
    lm = make_lm(system, batch_size)
    started = time.perf_counter()
    out = simple_evaluate(
        model=lm,
        tasks=[loaded.name],
        task_manager=loaded.manager or TaskManager(include_path=str(loaded.include_path)),
        limit=limit,
        apply_chat_template=chat,
        log_samples=True,  # the per-document scores come from the samples
        bootstrap_iters=0,
        random_seed=0,
        numpy_random_seed=0,
        torch_random_seed=0,
        fewshot_random_seed=0,
        verbosity="ERROR",
    )
    seconds = time.perf_counter() - started
    results = out["results"][loaded.name]
    metrics = {k: float(v) for k, v in results.items() if isinstance(v, (int, float)) and "_stderr" not in k}
    if loaded.primary not in metrics:
        raise UsageError(
            f"task {loaded.name!r} reports no metric {loaded.primary!r} (it has: {', '.join(metrics)})"
        )
    samples = out.get("samples", {}).get(loaded.name, [])
    result = {
        "metrics": metrics,
        "primary": metrics[loaded.primary],
        "seconds": seconds,
        "documents": document_scores(samples, loaded.primary),
    }
    if log_samples:
        result["samples"] = samples
    return result


def document_scores(samples: list[dict[str, Any]], primary: str) -> dict[str, float]:
    """The primary metric of every test document (doc id as a string) from lm-eval's logged samples:
    what a paired comparison of two cells needs."""
    metric, _, filter_name = primary.partition(",")
    scores: dict[str, float] = {}
    for sample in samples:
        if filter_name and sample.get("filter", filter_name) != filter_name:
            continue
        value = sample.get(metric)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            continue
        scores[str(sample.get("doc_id"))] = float(value)
    return scores
