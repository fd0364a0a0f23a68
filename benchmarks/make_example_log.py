#!/usr/bin/env python3
"""Regenerate ``advisor/data/lm-eval-smollm2/``: a real lm-eval log of SmolLM2-135M-Instruct.

    python benchmarks/make_example_log.py [--out advisor/data/lm-eval-smollm2] [--limit N]

Runs the lm-eval CLI (``--log_samples --apply_chat_template``, CPU, greedy) on the test splits of the
three bundled tasks with the embedded SmolLM2-135M-Instruct (``advisor.train.models.resolve_model``), and
leaves the output exactly as lm-eval writes it: ``<model>/results_<time>.json`` and
``<model>/samples_<task>_<time>.jsonl``. The previous log in ``--out`` is replaced. Offline: no hub.
About two minutes on two CPU cores.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TASKS_DIR = ROOT / "plugins" / "tasks"
TASKS = ("fictional_qa", "json_extract", "instruction_following")
MODEL = "smollm2-135m-instruct"


def summarize(out: Path) -> dict[tuple[str, str], list[int]]:
    """(task, filter) -> [n, passed] from the samples files under ``out``."""
    counts: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    for path in sorted(out.rglob("samples_*.jsonl")):
        task = path.name[len("samples_") :].rsplit("_", 1)[0]
        with path.open(encoding="utf-8") as fh:
            for line in fh:
                sample = json.loads(line)
                metric = next(m for m in ("exact_match", "acc") if m in sample)
                cell = counts[(task, sample.get("filter", "none"))]
                cell[0] += 1
                cell[1] += int(float(sample[metric]) >= 1.0)
    return dict(counts)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "advisor" / "data" / "lm-eval-smollm2")
    parser.add_argument("--limit", type=int, default=None, help="docs per task (default: all 60)")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--tasks", default=",".join(TASKS))
    args = parser.parse_args(argv)

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    sys.path.insert(0, str(ROOT))  # run from a checkout without installing
    from advisor.train.models import resolve_model
    from advisor.train.tasks import materialize_tasks

    model_dir = resolve_model(MODEL)
    out = args.out.resolve()
    with tempfile.TemporaryDirectory(prefix="ft-advisor-lmeval-") as tmp:
        include = materialize_tasks(Path(tmp) / "tasks", [TASKS_DIR / t for t in args.tasks.split(",")])
        staging = Path(tmp) / "out"
        cmd = [
            sys.executable,
            "-m",
            "lm_eval",
            "run",
            "--model",
            "hf",
            # A relative path (run from the cache folder) gives lm-eval's output folder and
            # model_name the plain model name instead of a machine-specific absolute path.
            "--model_args",
            f"pretrained={model_dir.name},dtype=float32",
            "--tasks",
            args.tasks,
            "--include_path",
            str(include),
            "--apply_chat_template",
            "--batch_size",
            str(args.batch_size),
            "--device",
            "cpu",
            "--seed",
            "0",
            "--log_samples",
            "--output_path",
            str(staging),
        ]
        if args.limit:
            cmd += ["--limit", str(args.limit)]
        print("+", " ".join(cmd), flush=True)
        started = time.monotonic()
        subprocess.run(cmd, cwd=model_dir.parent, check=True)
        elapsed = time.monotonic() - started
        if out.exists():
            shutil.rmtree(out)
        out.parent.mkdir(parents=True, exist_ok=True)
        shutil.copytree(staging, out)

    size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    print(f"\nlm-eval took {elapsed:.0f} s; log in {out} ({size / 1e6:.2f} MB)")
    print(f"{'task':<24}{'filter':<18}{'n':>5}{'passed':>8}")
    for (task, flt), (n, passed) in sorted(summarize(out).items()):
        print(f"{task:<24}{flt:<18}{n:>5}{passed:>8}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
