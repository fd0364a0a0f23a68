"""Training speed of advisor's shared loop against a plain PEFT + PyTorch loop.

LoRA (r=8, alpha=16, q_proj/v_proj, dropout 0.05) on SmolLM2-135M-Instruct, N optimizer steps of
batch B at max_length L on the same rows (json_extract's training prompts, rendered by lm-eval),
once through ``advisor.train.loop.train`` (with the ``lora`` technique's ``prepare``) and once through
a hand-written loop with identical settings: the same tokenisation (``encode_examples``: chat
template + target + EOS, prompt tokens masked), the same batches in the same order, right padding,
AdamW (lr, no weight decay), the same warmup/decay schedule and gradient clipping at 1.0. Both
start from fresh copies of the same base weights and LoRA init (same seed). The runs alternate
(A B B A ... for ``--repeats``) so that drifting load on a shared machine hits both alike; the
tokens/s of each method is the median over its runs (tokens = non-padding tokens, as advisor
counts them). Target: advisor / plain >= 0.95.

    .venv/bin/python benchmarks/perf/train_speed.py [--steps 10] [--batch-size 8] [--max-length 128]
        [--repeats 2] [--threads N] [--json]
"""

from __future__ import annotations

import argparse
import copy
import gc
import json
import math
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

LORA = {"r": 8, "alpha": 16, "dropout": 0.05, "targets": "q_proj,v_proj"}


def load_rows(n: int) -> list[dict[str, str]]:
    from advisor.plugins import get_registry
    from advisor.train.evaluate import load_task

    rows = load_task(get_registry().tasks["json_extract"], train_limit=n).data.train
    if not rows:
        raise SystemExit("json_extract has no training rows")
    while len(rows) < n:  # small task: repeat rows rather than change the batch size
        rows = rows + rows
    return rows[:n]


def settings(args) -> dict:
    from advisor.plugins import get_registry

    lora = get_registry().techniques["lora"]
    return lora, lora.settings(
        {
            **LORA,
            "learning_rate": args.lr,
            "max_steps": args.steps,
            "batch_size": args.batch_size,
            "max_length": args.max_length,
            "grad_accum": 1,
            "val_fraction": 0.0,
            "prompt_loss_weight": 0.0,
            "warmup_steps": 5,
            "epochs": 1,
        }
    )


def run_advisor(base, tokenizer, rows, args) -> dict:
    """advisor's path: the lora technique's prepare, then the shared loop (no progress bar)."""
    import torch

    from advisor.train.loop import TrainConfig, train
    from advisor.train.technique import Environment

    lora, s = settings(args)
    torch.manual_seed(args.seed)
    model = lora.prepare(copy.deepcopy(base), s, None)
    stats = train(
        model,
        tokenizer,
        rows,
        TrainConfig.from_settings(s, args.seed),
        Environment(device="cpu", seed=args.seed, progress=False),
    )
    return {
        "tokens": stats.tokens,
        "seconds": stats.seconds,
        "steps": stats.steps,
        "loss": stats.train_loss[-1],
    }


def run_plain(base, tokenizer, rows, args) -> dict:
    """A plain loop: PEFT get_peft_model, labels with -100 on prompt and padding, model(...).loss."""
    import torch
    from peft import LoraConfig, TaskType, get_peft_model

    from advisor.train.loop import encode_examples

    torch.manual_seed(args.seed)
    cfg = LoraConfig(
        task_type=TaskType.CAUSAL_LM,
        r=LORA["r"],
        lora_alpha=LORA["alpha"],
        lora_dropout=LORA["dropout"],
        target_modules=LORA["targets"].split(","),
    )
    model = get_peft_model(copy.deepcopy(base), cfg)
    # the same rows in the same order as advisor.train.loop.train (its two seeded shuffles)
    rows = list(rows)
    random.Random(args.seed).shuffle(rows)
    examples = encode_examples(tokenizer, rows, args.max_length)
    order = list(range(len(examples)))
    random.Random(args.seed).shuffle(order)
    batches = [order[i : i + args.batch_size] for i in range(0, len(order), args.batch_size)][: args.steps]
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id

    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=args.lr, weight_decay=0.0)
    total = args.steps
    warmup = min(5, max(total // 10, 1))
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: min(1.0, (s + 1) / warmup) * max(0.0, 1 - s / max(total, 1)) + 1e-3
    )
    model.train()
    tokens = 0
    started = time.perf_counter()
    for batch in batches:
        width = max(len(examples[i][0]) for i in batch)
        ids = torch.full((len(batch), width), pad, dtype=torch.long)
        mask = torch.zeros((len(batch), width), dtype=torch.long)
        labels = torch.full((len(batch), width), -100, dtype=torch.long)
        for row, i in enumerate(batch):
            seq, n_prompt = examples[i]
            ids[row, : len(seq)] = torch.tensor(seq)
            mask[row, : len(seq)] = 1
            labels[row, n_prompt : len(seq)] = torch.tensor(seq[n_prompt:])
        optimizer.zero_grad(set_to_none=True)
        loss = model(input_ids=ids, attention_mask=mask, labels=labels).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        optimizer.step()
        scheduler.step()
        tokens += int(mask.sum())
    seconds = time.perf_counter() - started
    return {"tokens": tokens, "seconds": seconds, "steps": len(batches), "loss": float(loss)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--max-length", type=int, default=128)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--repeats", type=int, default=2, help="runs per method, alternating A B B A ...")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)

    import torch

    from advisor.train.models import load_model

    if args.threads:
        torch.set_num_threads(args.threads)
    base, tokenizer = load_model("smollm2-135m-instruct", dtype="float32")
    base.eval()
    rows = load_rows(args.steps * args.batch_size)

    methods = {"advisor": run_advisor, "plain": run_plain}
    results: dict[str, list[dict]] = {"advisor": [], "plain": []}
    sequence = []
    for i in range(args.repeats):
        sequence += ["advisor", "plain"] if i % 2 == 0 else ["plain", "advisor"]
    for name in sequence:
        gc.collect()  # the previous run's model copy goes before the next run starts
        cpu = time.process_time()
        r = methods[name](base, tokenizer, rows, args)
        r["cpu_seconds"] = time.process_time() - cpu  # includes setup; robust to a shared machine's load
        r["tokens_per_s"] = r["tokens"] / r["seconds"]
        results[name].append(r)
        if not args.json:
            print(
                f"{name:8s} {r['steps']} steps  {r['tokens']} tokens  {r['seconds']:.2f} s  "
                f"{r['tokens_per_s']:.1f} tokens/s  cpu {r['cpu_seconds']:.1f} s  last loss {r['loss']:.3f}",
                flush=True,
            )
    same_tokens = len({r["tokens"] for rs in results.values() for r in rs}) == 1
    speed = {k: statistics.median(r["tokens_per_s"] for r in v) for k, v in results.items()}
    ratio = speed["advisor"] / speed["plain"]
    cpu = {k: statistics.median(r["cpu_seconds"] for r in v) for k, v in results.items()}
    cpu_ratio = cpu["plain"] / cpu["advisor"]
    out = {
        "steps": args.steps,
        "batch_size": args.batch_size,
        "max_length": args.max_length,
        "threads": torch.get_num_threads(),
        "order": sequence,
        "same_tokens": same_tokens,
        "advisor_tokens_per_s": speed["advisor"],
        "plain_tokens_per_s": speed["plain"],
        "ratio": ratio,
        "cpu_time_ratio": cpu_ratio,
        "target": 0.95,
        "runs": results,
    }
    if args.json:
        print(json.dumps(out, indent=2))
    else:
        print(
            f"advisor {speed['advisor']:.1f} tokens/s, plain {speed['plain']:.1f} tokens/s, "
            f"ratio {ratio:.3f} (target >= 0.95); CPU-time ratio {cpu_ratio:.3f}"
            f"{'' if same_tokens else '  WARNING: token counts differ'}"
        )
    return 0 if math.isfinite(ratio) else 1


if __name__ == "__main__":
    raise SystemExit(main())
