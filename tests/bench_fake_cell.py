"""A stand-in for ``advisor run ... --json`` in the harness tests (stdlib only, starts fast).

It prints the cell contract's JSON with metrics derived from its arguments, and per-document scores that
follow them: DOCUMENTS test documents ("0".."29"), the first round(quality x 30) scored 1, the rest 0.
Settings (``--set``) pick a misbehaviour, so that it is part of the cell's identity:

    mode=crash | exit3 | garbage | skip | selfkill | sleep (with sleep_s=N) | ok (default)

Environment variables change results between runs without changing the cells:

    FAKE_CELL_DEGRADE="technique:task:0.3"   quality_after of matching cells drops by 0.3 (and their
                                             "after" documents with it)
    FAKE_CELL_SLOWER="technique:task:2.0"    train time and peak memory of matching cells grow x2.0
    FAKE_CELL_SLEEP=0.2                      every cell sleeps this long first
    FAKE_CELL_LOG=path                       every invocation appends one line "technique task seed"
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time

KINDS = {
    "prompting": "prompting",
    "few-shot": "prompting",
    "bm25-rag": "retrieval",
    "embedding-rag": "retrieval",
    "full-ft": "full",
    "partial-ft": "full",
}
TRAINABLE = {
    "lora": 460_800,
    "ia3": 13_824,
    "prompt-tuning": 11_520,
    "qlora": 460_800,
    "full-ft": 134_515_008,
    "bitfit": 50_000,
}
DOCUMENTS = 30
BASE_QUALITY = {"fictional_qa": 0.05, "json_extract": 0.20, "instruction_following": 0.30}
GAIN = {
    ("bm25-rag", "fictional_qa"): 0.55,
    ("lora", "json_extract"): 0.45,
    ("few-shot", "json_extract"): 0.25,
    ("lora", "fictional_qa"): 0.05,
    ("bm25-rag", "json_extract"): 0.0,
}


def _matches(env: str, technique: str, task: str) -> float | None:
    spec = os.environ.get(env)
    if not spec:
        return None
    t, k, amount = spec.split(":")
    return float(amount) if t in (technique, "*") and k in (task, "*") else None


def documents(quality: float) -> dict[str, float]:
    """Exact-match scores of the test documents: the first round(quality x DOCUMENTS) are right."""
    right = round(quality * DOCUMENTS)
    return {str(i): 1.0 if i < right else 0.0 for i in range(DOCUMENTS)}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("run", nargs="?")
    for name in ("--technique", "--task", "--model"):
        parser.add_argument(name, required=True)
    parser.add_argument("--seed", type=int, required=True)
    parser.add_argument("--train-limit", type=int)
    parser.add_argument("--eval-limit", type=int)
    parser.add_argument("--set", action="append", default=[])
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    settings = dict(item.split("=", 1) for item in args.set)

    if os.environ.get("FAKE_CELL_LOG"):
        with open(os.environ["FAKE_CELL_LOG"], "a") as log:
            log.write(f"{args.technique} {args.task} {args.seed}\n")
    time.sleep(float(os.environ.get("FAKE_CELL_SLEEP", "0")))
    mode = settings.get("mode", "ok")
    if mode == "sleep":
        time.sleep(float(settings.get("sleep_s", "60")))
    elif mode == "crash":
        raise RuntimeError(f"{args.technique} blew up on purpose")
    elif mode == "exit3":
        print("error: no such model", file=sys.stderr)
        return 3
    elif mode == "garbage":
        print("this is not JSON")
        return 0
    elif mode == "selfkill":
        os.kill(os.getpid(), signal.SIGKILL)

    trainable = TRAINABLE.get(args.technique, 0)
    before = BASE_QUALITY.get(args.task, 0.1)
    after = min(1.0, before + GAIN.get((args.technique, args.task), 0.1) + 0.01 * args.seed)
    after -= _matches("FAKE_CELL_DEGRADE", args.technique, args.task) or 0.0
    slower = _matches("FAKE_CELL_SLOWER", args.technique, args.task) or 1.0
    metrics = {
        "quality_before": before,
        "quality_after": round(after, 4),
        "trainable_params": trainable,
        "total_params": 134_515_008,
        "train_time_s": (30.0 + 0.5 * args.seed) * slower if trainable else None,
        "tokens_per_s": 500.0,
        "peak_memory_bytes": (2.0e9 + 1e7 * args.seed) * slower,
        "adapter_bytes": trainable * 4 if trainable and trainable < 1e8 else None,
        "latency_ms": 80.0,
        "latency_merged_ms": 70.0 if trainable else None,
    }
    skipped = mode == "skip"
    print("loading model... (libraries print to stdout too)")
    print(
        json.dumps(
            {
                "technique": args.technique,
                "kind": KINDS.get(args.technique, "peft"),
                "task": args.task,
                "model": args.model,
                "seed": args.seed,
                "status": "skipped" if skipped else "ok",
                "reason": "needs CUDA" if skipped else None,
                "settings": settings,
                "metric": "exact_match,flexible-extract",
                "metrics": {} if skipped else metrics,
                "documents": {} if skipped else {"before": documents(before), "after": documents(after)},
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
