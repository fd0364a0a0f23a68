"""The supervised fine-tuning loop shared by every trainable technique.

One loop for LoRA, IA3, prompt/prefix tuning, BitFit, partial and full fine-tuning: the technique
decides which parameters are trainable, this module trains them. It is a plain PyTorch loop (no
``transformers.Trainer``) so that it stays small, measurable and exactly comparable with a
hand-written PEFT loop (``benchmarks/perf/train_speed.py``).

Settings (``TrainSettings``, which every trainable technique's ``Settings`` extends; ``TrainConfig``
adds the seed): learning rate, epochs or max steps, batch size with gradient
accumulation, prompt-loss weight (0 masks the prompt tokens), gradient checkpointing, bf16
autocast on a GPU, the seed, and a validation split whose loss is recorded with the train loss.
"""

from __future__ import annotations

import math
import random
import time
from dataclasses import asdict, dataclass, field, fields
from typing import Any, ClassVar

from advisor.train.technique import TechniqueSettings, setting


@dataclass
class TrainSettings(TechniqueSettings):
    """The settings every trainable technique takes (its ``Settings`` extends this class, changing
    defaults such as ``learning_rate`` by redeclaring the field)."""

    learning_rate: float = setting(2e-4, "AdamW peak learning rate (linear warm-up, then linear decay)")
    epochs: int = setting(1, "passes over the training rows (when max_steps is 0)")
    max_steps: int = setting(0, "optimizer steps to run; 0: as many as the epochs make")
    batch_size: int = setting(8, "examples per forward pass (also the validation batch)")
    grad_accum: int = setting(1, "batches accumulated into one optimizer step")
    prompt_loss_weight: float = setting(
        0.0, "loss weight of the prompt tokens (0 masks them; 1 as the target)"
    )
    gradient_checkpointing: bool = setting(
        False, "recompute activations in the backward pass: less memory, slower"
    )
    max_length: int = setting(384, "tokens per example; a longer one loses the start of its prompt")
    val_fraction: float = setting(
        0.1, "fraction of the training rows (at most 32) held out for a validation loss"
    )
    warmup_steps: int = setting(5, "steps of linear learning-rate warm-up (at most a tenth of the steps)")

    def __post_init__(self) -> None:
        super().__post_init__()
        self.check_min("learning_rate", 0, strict=True)
        self.check_min("epochs", 1)
        self.check_min("max_steps", 0)
        self.check_min("batch_size", 1)
        self.check_min("grad_accum", 1)
        self.check_min("prompt_loss_weight", 0)
        self.check_min("max_length", 1)
        self.check_range("val_fraction", 0, 1, "[)")
        self.check_min("warmup_steps", 1)


@dataclass
class TrainConfig(TrainSettings):
    """What the loop is given: the training settings and the seed."""

    seed: int = 0

    @classmethod
    def from_settings(cls, settings: dict[str, Any], seed: int = 0) -> TrainConfig:
        keys = {f.name for f in fields(cls)} - {"seed"}
        return cls(**{k: v for k, v in settings.items() if k in keys}, seed=seed)


#: deprecated (use ``TrainSettings``; kept for one release): the shared training settings and their defaults
TRAIN_DEFAULTS: dict[str, Any] = {f.name: f.default for f in fields(TrainSettings)}


@dataclass
class TrainStats:
    steps: int = 0
    examples: int = 0
    tokens: int = 0
    seconds: float = 0.0
    train_loss: list[float] = field(default_factory=list)
    val_loss: list[tuple[int, float]] = field(default_factory=list)
    #: tokens and seconds after the warm-up steps (the first tenth, at least one): the steady state
    steady_tokens: int = 0
    steady_seconds: float = 0.0

    @property
    def tokens_per_s(self) -> float:
        """Training throughput in the steady state (first steps excluded), else over the whole run."""
        if self.steady_seconds > 0 and self.steady_tokens:
            return self.steady_tokens / self.steady_seconds
        return self.tokens / self.seconds if self.seconds else 0.0

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["tokens_per_s"] = self.tokens_per_s
        return d


def seed_everything(seed: int) -> None:
    import numpy as np
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def chat_prompt(tokenizer: Any, prompt: str) -> str:
    """The prompt as the evaluation renders it: through the chat template when the model has one."""
    if getattr(tokenizer, "chat_template", None):
        return tokenizer.apply_chat_template(
            [{"role": "user", "content": prompt}], tokenize=False, add_generation_prompt=True
        )
    return prompt


def encode_examples(
    tokenizer: Any, rows: list[dict[str, str]], max_length: int
) -> list[tuple[list[int], int]]:
    """(token ids, prompt length) per row: the chat-templated prompt, then the target and EOS."""
    eos = tokenizer.eos_token or ""
    out = []
    for row in rows:
        prompt_ids = tokenizer(chat_prompt(tokenizer, row["prompt"]), add_special_tokens=False)["input_ids"]
        target_ids = tokenizer(row["target"] + eos, add_special_tokens=False)["input_ids"]
        ids = (prompt_ids + target_ids)[-max_length:]  # keep the target; cut the prompt's start
        out.append((ids, max(0, len(ids) - len(target_ids))))
    return out


def _batch(examples: list[tuple[list[int], int]], pad_id: int, prompt_weight: float, device: Any):
    import torch

    width = max(len(ids) for ids, _ in examples)
    ids = torch.full((len(examples), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(examples), width), dtype=torch.long)
    weights = torch.zeros((len(examples), width), dtype=torch.float32)
    for i, (row, n_prompt) in enumerate(examples):
        ids[i, : len(row)] = torch.tensor(row)
        mask[i, : len(row)] = 1
        weights[i, :n_prompt] = prompt_weight
        weights[i, n_prompt : len(row)] = 1.0
    return ids.to(device), mask.to(device), weights.to(device)


def weighted_loss(model: Any, ids: Any, mask: Any, weights: Any) -> Any:
    """Next-token cross-entropy, each target token weighted (prompt tokens by the prompt-loss weight)."""
    import torch
    import torch.nn.functional as F

    logits = model(input_ids=ids, attention_mask=mask).logits
    if logits.shape[1] > ids.shape[1]:  # prompt tuning prepends virtual tokens
        logits = logits[:, -ids.shape[1] :]
    if logits.dtype != torch.float32:
        logits = logits.float()
    # Shift the targets rather than the logits: no copy of the (batch x length x vocabulary) tensor.
    target = torch.cat([ids[:, 1:], ids[:, :1]], dim=1)
    w = torch.cat([weights[:, 1:], torch.zeros_like(weights[:, :1])], dim=1)
    loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), target.reshape(-1), reduction="none")
    return (loss * w.reshape(-1)).sum() / w.sum().clamp_min(1e-8)


def train(
    model: Any, tokenizer: Any, rows: list[dict[str, str]], cfg: TrainConfig, env: Any = None
) -> TrainStats:
    """Train ``model``'s trainable parameters on ``rows`` ({"prompt", "target"}) in place; returns the
    stats. Under ``accelerate launch`` every process trains its share of each batch (see
    ``advisor.train.distributed``) and the stats count all of them."""
    import torch

    from advisor.train import distributed

    dist = distributed.session()
    seed_everything(cfg.seed)
    rows = list(rows)
    random.Random(cfg.seed).shuffle(rows)
    n_val = min(32, int(len(rows) * cfg.val_fraction)) if len(rows) >= 10 else 0
    val_rows, train_rows = rows[:n_val], rows[n_val:]
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    train_ex = encode_examples(tokenizer, train_rows, cfg.max_length)
    val_ex = encode_examples(tokenizer, val_rows, cfg.max_length)

    _ready(model, cfg)
    home = next(model.parameters()).device
    per_epoch = math.ceil(len(train_ex) / (cfg.batch_size * cfg.grad_accum))
    total_steps = cfg.max_steps or per_epoch * cfg.epochs
    work, optimizer, scheduler = _engine(model, cfg, total_steps, dist)
    device = dist.accelerator.device if dist is not None else home
    cuda = device.type == "cuda"
    autocast = torch.autocast("cuda", dtype=torch.bfloat16) if cuda else _null()

    batch = _Batch(train_ex, pad_id, cfg.prompt_loss_weight, device, autocast)
    stats = TrainStats()
    work.train()
    show = getattr(env, "progress", True) and (dist is None or dist.is_main)
    progress = _progress(total_steps, show)
    started = time.perf_counter()
    order = list(range(len(train_ex)))
    rng = random.Random(cfg.seed)
    step = 0
    warmup = max(1, total_steps // 10) if total_steps > 2 else total_steps  # excluded from tokens/s
    steady_from: tuple[float, int] | None = None  # (time, tokens) when the warm-up ended
    with progress:
        task_id = progress.add_task("training", total=total_steps) if hasattr(progress, "add_task") else None
        while step < total_steps:
            rng.shuffle(order)
            batches = [order[i : i + cfg.batch_size] for i in range(0, len(order), cfg.batch_size)]
            for start in range(0, len(batches), cfg.grad_accum):
                group = batches[start : start + cfg.grad_accum]
                optimizer.zero_grad(set_to_none=True)
                step_loss = sum(_backward(work, batch, idx, len(group), dist, stats) for idx in group)
                if dist is not None:
                    dist.accelerator.clip_grad_norm_(work.parameters(), 1.0)
                    step_loss = dist.total(step_loss) / dist.processes
                else:
                    torch.nn.utils.clip_grad_norm_([p for p in work.parameters() if p.requires_grad], 1.0)
                optimizer.step()
                scheduler.step()
                step += 1
                if step == warmup and step < total_steps:
                    if cuda:
                        torch.cuda.synchronize()
                    steady_from = (time.perf_counter(), stats.tokens)
                stats.train_loss.append(step_loss)
                if task_id is not None:
                    progress.update(task_id, advance=1, description=f"training loss {step_loss:.3f}")
                if step >= total_steps:
                    break
            if val_ex:  # not counted in the training time
                paused = time.perf_counter()
                stats.val_loss.append((step, evaluate_loss(work, val_ex, pad_id, cfg, autocast)))
                pause = time.perf_counter() - paused
                started += pause
                if steady_from is not None:
                    steady_from = (steady_from[0] + pause, steady_from[1])
    if cuda:
        torch.cuda.synchronize()
    ended = time.perf_counter()
    stats.seconds = ended - started
    if steady_from is not None:
        stats.steady_seconds = ended - steady_from[0]
        stats.steady_tokens = stats.tokens - steady_from[1]
    stats.steps = step
    if dist is not None:
        _gather(dist, model, work, home, stats)
    model.eval()
    return stats


def _ready(model: Any, cfg: TrainConfig) -> None:
    """Check that something is trainable and switch gradient checkpointing on if asked."""
    if not any(p.requires_grad for p in model.parameters()):
        raise RuntimeError("the technique left no trainable parameters")
    if cfg.gradient_checkpointing:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
        if hasattr(model, "enable_input_require_grads"):
            model.enable_input_require_grads()


def _engine(model: Any, cfg: TrainConfig, total_steps: int, dist: Any) -> tuple[Any, Any, Any]:
    """The module to train, its AdamW and the warm-up/decay schedule; under a launch, wrapped by the
    launch's engine (and a copy of ``model`` when the engine shards the parameters)."""
    import torch

    work = model
    if dist is not None and dist.shards_parameters:
        import copy

        model.to("cpu")  # the engine shards a copy; the gathered result comes back into this model
        work = copy.deepcopy(model)
    params = [p for p in work.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=cfg.learning_rate, weight_decay=0.0)
    warmup = min(cfg.warmup_steps, max(total_steps // 10, 1))
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: min(1.0, (s + 1) / warmup) * max(0.0, 1 - s / max(total_steps, 1)) + 1e-3
    )
    if dist is not None:  # the scheduler stays outside: prepared, it would step once per process
        work, optimizer = dist.accelerator.prepare(work, optimizer)
    return work, optimizer, scheduler


@dataclass
class _Batch:
    """How one batch of example indices becomes tensors and a loss."""

    examples: list[tuple[list[int], int]]
    pad_id: int
    prompt_weight: float
    device: Any
    autocast: Any


def _backward(work: Any, batch: _Batch, idx: list[int], accum: int, dist: Any, stats: TrainStats) -> float:
    """Forward and backward one micro-batch (this process's share of it under a launch); returns its
    loss and counts its tokens and examples in ``stats``."""
    share, owned = (dist.shard(idx), dist.owns_share(idx)) if dist is not None else (idx, True)
    ids, mask, w = _batch([batch.examples[i] for i in share], batch.pad_id, batch.prompt_weight, batch.device)
    if not owned:
        w = w * 0.0  # a lent example: this process runs the step, the owner learns from it
    with batch.autocast:
        loss = weighted_loss(work, ids, mask, w) / accum
    if dist is not None:
        dist.accelerator.backward(loss)
    else:
        loss.backward()
    if owned:
        stats.tokens += int(mask.sum())
        stats.examples += len(share)
    return float(loss.detach().item())


def _gather(dist: Any, model: Any, work: Any, home: Any, stats: TrainStats) -> None:
    """After a launched run: the counts of every process in ``stats``, and on the main process the
    whole trained model in ``model`` (already so unless the engine sharded a copy)."""
    for name in ("tokens", "examples", "steady_tokens"):
        setattr(stats, name, int(dist.total(getattr(stats, name))))
    if work is not model:
        state = dist.accelerator.get_state_dict(work)  # every process takes part; the main one gets it
        if dist.is_main:
            model.load_state_dict(state)
            model.to(home)
    dist.accelerator.free_memory()  # drop the engine's wrappers: a second training prepares anew
    dist.barrier()


def evaluate_loss(model: Any, examples: list, pad_id: int, cfg: TrainConfig, autocast: Any) -> float:
    import torch

    model.eval()
    total = 0.0
    with torch.no_grad():
        for i in range(0, len(examples), cfg.batch_size):
            ids, mask, w = _batch(
                examples[i : i + cfg.batch_size], pad_id, 0.0, next(model.parameters()).device
            )
            with autocast:
                total += float(weighted_loss(model, ids, mask, w)) * len(ids)
    model.train()
    return total / len(examples)


class _null:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def _progress(total: int, show: bool):
    if not show:
        return _null()
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        transient=True,
    )


class TrainableTechnique:
    """Mixin for techniques that train: ``prepare`` makes some parameters trainable, the shared loop
    trains them. Subclasses (with ``advisor.train.technique.Technique``) implement ``prepare`` only;
    their ``Settings`` extends ``TrainSettings`` (the default when they declare none).
    """

    Settings: ClassVar[type[TechniqueSettings]] = TrainSettings
    name: str  # from the Technique it is mixed with

    def prepare(self, model: Any, settings: dict[str, Any], env: Any) -> Any:
        raise NotImplementedError

    def apply(self, model: Any, tokenizer: Any, task: Any, settings: dict[str, Any], env: Any):
        from advisor.train.technique import System, count_parameters

        if not task.train:
            from advisor.errors import UsageError

            raise UsageError(f"task {task.name!r} has no training split: {self.name} needs one")
        model = self.prepare(model, settings, env)
        trainable, total = count_parameters(model)
        stats = train(model, tokenizer, task.train, TrainConfig.from_settings(settings, env.seed), env)
        return System(
            model,
            tokenizer,
            info={"trainable_params": trainable, "total_params": total, "train": stats.to_json()},
        )
