"""``advisor run``: one technique on one model and one task, measured before and after.

Steps: check the technique and its settings (before anything slow), load the task through
lm-eval and the model, evaluate the baseline (cached per model, task and limit), apply the
technique (training if it trains), evaluate again the same way, then measure what users ask
about: trainable and total parameters, train time and tokens/s, peak memory (RSS on a CPU,
``torch.cuda.max_memory_allocated`` on a GPU), adapter size on disk, generation latency, and for
LoRA the latency merged vs unmerged. The facts about each metric it emits (unit, direction, label,
format) are in ``advisor.train.metrics``.
"""

from __future__ import annotations

import hashlib
import json
import os
import resource
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from advisor.errors import UsageError, did_you_mean
from advisor.train.metrics import LATENCY_NEW_TOKENS
from advisor.train.technique import Environment, System, count_parameters

LATENCY_PROMPTS = ("Write one sentence about the sea.", "Name three colours.", "What is 12 plus 7?")


@dataclass
class RunRequest:
    technique: str
    task: str | None
    model: str = "smollm2-135m-instruct"
    seed: int = 0
    train_limit: int | None = None
    eval_limit: int | None = None
    settings: dict[str, Any] = field(default_factory=dict)
    merge: bool = False
    save: Path | None = None
    batch_size: int = 8
    use_cache: bool = True
    progress: bool = True
    #: how a dataset or eval log given as ``task`` becomes a task (``--train``, ``--test``, ``--metric``...)
    task_options: Any = None


def parse_sets(items: tuple[str, ...] | list[str]) -> dict[str, str]:
    out = {}
    for item in items:
        if "=" not in item:
            raise UsageError(f"--set expects key=value, got {item!r}")
        key, value = item.split("=", 1)
        out[key.strip().replace("-", "_")] = value.strip()
    return out


def _device() -> str:
    import torch

    from advisor.train import distributed

    launched = distributed.session()
    if launched is not None:  # the launcher placed this process (its own GPU, or the CPU)
        return str(launched.accelerator.device.type)
    return "cuda" if torch.cuda.is_available() else "cpu"


def _changes_weights(technique: Any) -> bool:
    """Whether applying the technique trains or changes the model (not prompting or retrieval)."""
    return technique.kind not in ("prompting", "retrieval")


def _peak_memory(device: str) -> int:
    if device == "cuda":
        import torch

        return int(torch.cuda.max_memory_allocated())
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak * (1 if sys.platform == "darwin" else 1024))


def _dir_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def _baseline_cache() -> Path:
    from advisor.train.models import cache_dir

    return cache_dir() / "baselines.json"


def _read_cache(path: Path) -> dict:
    """The baseline cache; a missing or damaged file is an empty cache (it is only a cache)."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _baseline_key(model_dir: str, task: str, limit: int | None, batch_size: int) -> str:
    import lm_eval

    stamp = ""
    for name in ("model.safetensors", "config.json"):
        p = Path(model_dir) / name
        if p.exists():
            stamp += f"{p.stat().st_size}:{int(p.stat().st_mtime)}"
    # "documents": entries from before per-document scores were cached are not used; the batch size is
    # part of the key because padding a batch can move a greedy answer by a rounding error
    raw = json.dumps([str(model_dir), stamp, task, limit, batch_size, lm_eval.__version__, "documents"])
    return hashlib.sha256(raw.encode()).hexdigest()[:16]


#: timed generations after the warm-up; the latency is their median, their spread is stored beside it
LATENCY_REPEATS = 5
#: tokens of the warm-up generation: enough to run the prefill and the decoding step once each
LATENCY_WARMUP_TOKENS = 4


def latency_stats(
    model: Any,
    tokenizer: Any,
    new_tokens: int = LATENCY_NEW_TOKENS,
    repeats: int = LATENCY_REPEATS,
    clock: Any = time.perf_counter,
) -> tuple[float, float]:
    """(median, spread) in ms of greedy generation of ``new_tokens`` tokens: one warm-up call, then
    ``repeats`` timed calls over short prompts. The median does not move with one slow call; the spread
    (max - min) says how noisy the machine was."""
    import torch

    from advisor.train.loop import chat_prompt

    device = next(model.parameters()).device
    times = []
    with torch.no_grad():
        for i in range(repeats + 1):
            prompt = LATENCY_PROMPTS[i % len(LATENCY_PROMPTS)]
            ids = tokenizer(chat_prompt(tokenizer, prompt), return_tensors="pt").to(device)
            n = new_tokens if i else min(new_tokens, LATENCY_WARMUP_TOKENS)
            started = clock()
            model.generate(
                **ids,
                max_new_tokens=n,
                min_new_tokens=n,
                do_sample=False,
                pad_token_id=tokenizer.pad_token_id or tokenizer.eos_token_id,
            )
            if device.type == "cuda":
                torch.cuda.synchronize()
            if i:  # the first call warms up
                times.append(1000 * (clock() - started))
    return statistics.median(times), max(times) - min(times)


def latency_ms(model: Any, tokenizer: Any, new_tokens: int = LATENCY_NEW_TOKENS) -> float:
    """The median generation latency in ms (see :func:`latency_stats`)."""
    return latency_stats(model, tokenizer, new_tokens)[0]


def run(req: RunRequest, registry: Any = None) -> dict[str, Any] | None:
    """Run one cell; returns the JSON-ready result (the contract of ``advisor run --json``).

    Under ``accelerate launch`` only the main process returns a result; the others take part in
    training and return None (see ``advisor.train.distributed``)."""
    from advisor.train import distributed

    if registry is None:
        from advisor.plugins import get_registry

        registry = get_registry()
    available = registry.techniques
    if req.technique not in available:
        raise did_you_mean(req.technique, list(available), "technique")
    technique = available[req.technique]
    settings = technique.settings(req.settings)
    from advisor.train.usertask import resolve_task

    task = resolve_task(req.task, registry, req.task_options)
    result: dict[str, Any] = {
        "technique": technique.name,
        "kind": technique.kind,
        "task": task.name,
        "model": req.model,
        "seed": req.seed,
        "status": "ok",
        "reason": None,
        "settings": settings,
        "metric": None,
        "metrics": {},
        "documents": {},
        "notes": list(getattr(task, "notes", ())),
    }
    launched = distributed.session()
    if launched is not None:
        result["processes"] = launched.processes
        result["engine"] = launched.engine
    device = _device()
    with tempfile.TemporaryDirectory(prefix="advisor-run-") as tmp:
        env = Environment(device=device, workdir=Path(tmp), seed=req.seed, progress=req.progress)
        reason = technique.skip_reason(env)
        if reason:
            result.update(status="skipped", reason=reason)
            return None if distributed.is_helper() else result
        if distributed.is_helper():
            _help_train(req, technique, settings, env, task)
            return None
        result["metrics"] = _measure(req, technique, settings, env, result, task)
    return result


def _help_train(
    req: RunRequest, technique: Any, settings: dict[str, Any], env: Environment, task: Any
) -> None:
    """A launched process other than the main one: load, and take part in the technique's training
    (nothing to do for a technique that does not change the weights)."""
    if not _changes_weights(technique):
        return
    from advisor.train.evaluate import load_task

    loaded = load_task(task, env.workdir, req.train_limit)
    model, tokenizer = _load_model(req, env.device)
    _apply(technique, model, tokenizer, loaded, settings, env)


#: What the measuring functions return: metric name -> value. Every name must be in
#: ``advisor.train.metrics.METRICS``; a test reads the keys of every function annotated ``-> Metrics``.
Metrics = dict[str, Any]


def _measure(
    req: RunRequest,
    technique: Any,
    settings: dict[str, Any],
    env: Environment,
    result: dict[str, Any],
    task: Any,
) -> Metrics:
    """Load, evaluate the baseline, apply the technique, evaluate again and measure.

    The order matters: the adapter is saved before LoRA is merged for the latency, and peak memory is
    read last so that it covers everything the cell did.
    """
    from advisor.train.evaluate import load_task
    from advisor.train.models import resolve_model

    model_dir = resolve_model(req.model)
    loaded = load_task(task, env.workdir, req.train_limit)
    result["metric"] = loaded.primary
    model, tokenizer = _load_model(req, env.device)
    metrics = _baseline(req, str(model_dir), System(model, tokenizer), loaded, result)
    system, apply_seconds = _apply(technique, model, tokenizer, loaded, settings, env)
    metrics.update(_evaluate_after(req, system, loaded, result))
    metrics.update(_parameters(system))
    metrics.update(_training(system.info, apply_seconds))
    metrics["adapter_bytes"] = _save(system, technique, req, env.workdir)
    metrics.update(_latency(system, tokenizer, technique, req))
    metrics.update(_peak(env.device))
    return metrics


def _load_model(req: RunRequest, device: str) -> tuple[Any, Any]:
    """Seed, load the model onto the device and start counting its peak memory from there."""
    from advisor.train.loop import seed_everything
    from advisor.train.models import load_model

    seed_everything(req.seed)
    model, tokenizer = load_model(req.model)
    model.to(device)
    if device == "cuda":
        import torch

        torch.cuda.reset_peak_memory_stats()
    return model, tokenizer


def _baseline(
    req: RunRequest, model_dir: str, system: System, loaded: Any, result: dict[str, Any]
) -> Metrics:
    """The untouched model's score (and per-document scores into ``result``), from the cache when it
    holds this model, task and limit."""
    from advisor.train.evaluate import evaluate

    cache_file, key = _baseline_cache(), _baseline_key(model_dir, loaded.name, req.eval_limit, req.batch_size)
    cache = _read_cache(cache_file) if req.use_cache else {}
    if key in cache:
        result["documents"]["before"] = cache[key].get("documents", {})
        return {"baseline_cached": True, "quality_before": cache[key]["primary"]}
    before = evaluate(system, loaded, req.eval_limit, req.batch_size)
    before.pop("samples", None)
    result["documents"]["before"] = before["documents"]
    if req.use_cache:
        _write_cache(cache_file, key, before)
    return {"quality_before": before["primary"]}


def _write_cache(path: Path, key: str, value: dict[str, Any]) -> None:
    cache = _read_cache(path)  # re-read: another cell may have added to it meanwhile
    cache[key] = value
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", dir=path.parent, suffix=".tmp", delete=False) as fh:
        json.dump(cache, fh)
    os.replace(fh.name, path)


def _apply(
    technique: Any, model: Any, tokenizer: Any, loaded: Any, settings: dict[str, Any], env: Environment
) -> tuple[System, float]:
    """Apply the technique; returns the system to evaluate and the seconds it took."""
    if getattr(technique, "loads_own_base", False) and env.device == "cuda":
        import torch

        model.to("cpu")  # the technique loads its own (quantised) base: free the GPU and measure that alone
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
    started = time.perf_counter()
    system = technique.apply(model, tokenizer, loaded.data, settings, env)
    return system, time.perf_counter() - started


def _evaluate_after(req: RunRequest, system: System, loaded: Any, result: dict[str, Any]) -> Metrics:
    from advisor.train.evaluate import evaluate

    after = evaluate(system, loaded, req.eval_limit, req.batch_size)
    result["documents"]["after"] = after["documents"]
    return {
        "quality_after": after["primary"],
        "eval_seconds": after["seconds"],
        "all_after": after["metrics"],
    }


def _parameters(system: System) -> Metrics:
    """Trainable and total parameters: as the technique reports them, else counted on the model."""
    trainable, total = count_parameters(system.model)
    info = system.info
    return {
        "trainable_params": int(info.get("trainable_params", trainable)),
        "total_params": int(info.get("total_params", total)),
    }


def _training(info: dict[str, Any], apply_seconds: float) -> Metrics:
    """The training loop's statistics; for a technique that does not train, how long applying it took."""
    train = info.get("train")
    if not train:
        return {"apply_seconds": apply_seconds}
    losses = train["train_loss"]
    return {
        "train_time_s": train["seconds"],
        "tokens_per_s": train["tokens_per_s"],
        "train_steps": train["steps"],
        "train_loss_first": losses[0] if losses else None,
        "train_loss_last": losses[-1] if losses else None,
        "val_loss": train["val_loss"],
    }


def _latency(system: System, tokenizer: Any, technique: Any, req: RunRequest) -> Metrics:
    """Generation latency; for LoRA also merged into the weights (and the merged model saved if asked)."""
    median, spread = latency_stats(system.model, tokenizer)
    metrics: Metrics = {"latency_ms": median, "latency_spread_ms": spread}
    if technique.name == "lora" and hasattr(system.model, "merge_and_unload"):
        # One adapter is best served merged into the weights: measure what merging buys.
        merged = system.model.merge_and_unload()
        metrics["latency_merged_ms"], metrics["latency_merged_spread_ms"] = latency_stats(merged, tokenizer)
        system.model = merged
        if req.merge and req.save:
            merged.save_pretrained(req.save / "merged")
            tokenizer.save_pretrained(req.save / "merged")
    return metrics


def _peak(device: str) -> Metrics:
    kind = "cuda_max_allocated" if device == "cuda" else "process_max_rss"
    return {"peak_memory_bytes": _peak_memory(device), "peak_memory_kind": kind, "device": device}


def _save(system: System, technique: Any, req: RunRequest, workdir: Path) -> int | None:
    """Save what the technique produced (PEFT adapters in PEFT's format); returns its size on disk."""
    model = system.model
    if not _changes_weights(technique):
        return 0
    target = (req.save / "adapter") if req.save else (workdir / "adapter")
    if hasattr(model, "peft_config"):
        model.save_pretrained(target)
        if req.save:
            system.tokenizer.save_pretrained(target)
        return _dir_bytes(target)
    # Non-adapter techniques change the model itself: what has to be stored is the trained tensors.
    trained = {n: p for n, p in model.named_parameters() if p.requires_grad}
    if not trained:  # a merge folded into the weights (SLERP): the whole model is what changed
        trained = dict(model.named_parameters())
    if req.save:
        from safetensors.torch import save_file

        target.mkdir(parents=True, exist_ok=True)
        save_file(
            {n: p.detach().cpu().contiguous() for n, p in trained.items()},
            str(target / "trained.safetensors"),
        )
        return _dir_bytes(target)
    return sum(p.numel() * p.element_size() for p in trained.values())
