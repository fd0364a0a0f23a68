"""Speed and memory of `advisor diagnose` on a large generic JSONL log.

Generates N records (default 1,000,000; 30% failed or --failed SHARE, with a mix of failure shapes),
then runs `advisor diagnose LOG` (summary output) in a child process pinned to one
core and reports records/s and peak RSS. Targets: >= 50,000 records/s, <= 300 MB.

    .venv/bin/python benchmarks/perf/diagnose_speed.py [--records N] [--failed 0.9] [--jobs 2] [--keep]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

FAILURES = [
    ("What is the capital of Zarnovia?", "Paris", "Velmora"),
    ("What is the capital of Zarnovia?", "The capital of Zarnovia is Velmora.", "Velmora"),
    (
        "Extract JSON: Anna is 31 and lives in Oslo.",
        '```json\n{"name": "Anna", "age": 31}\n```',
        '{"name": "Anna", "age": 31}',
    ),
    ("Who founded Quorbin Labs?", "I don't know.", "Ilsa Marven"),
    ("Summarise: the cat sat.", "cat cat cat cat cat cat cat cat cat cat cat cat cat cat", "A cat sat."),
    ("Answer in French: what colour is the sky?", "The sky is blue.", "bleu"),
    (
        "A phone costs $600. It is discounted by 20%, then 10% tax is added. What is the final price?",
        "A 20% discount and a 10% tax give a net 10% discount.\n600 * 0.9 = 540\n#### 540",
        "528",
    ),
    (
        "CREATE TABLE orders (id INT, status TEXT);\nQuestion: how many shipped orders?",
        "SELECT COUNT(*) FROM orders;",
        "SELECT COUNT(*) FROM orders WHERE status = 'shipped';",
    ),
    ("¿Quién ganó la Copa América 2024?", "Argentina won the 2024 Copa America in Miami.", "Argentina ganó."),
    (
        "Context: The Danube flows through ten countries.\nQuestion: How long is the Danube in km?",
        "2350",
        "2850",
    ),
]


def generate(path: Path, n: int, failed: float = 0.3, seed: int = 0) -> None:
    rng = random.Random(seed)
    with path.open("w") as fh:
        for i in range(n):
            if rng.random() < failed:
                prompt, output, ref = rng.choice(FAILURES)
                passed = False
            else:
                prompt, output, ref, passed = f"What is {i % 97} + 1?", str(i % 97 + 1), str(i % 97 + 1), True
            fh.write(
                json.dumps(
                    {
                        "id": i,
                        "task": f"t{i % 3}",
                        "prompt": prompt,
                        "output": output,
                        "reference": ref,
                        "passed": passed,
                    }
                )
                + "\n"
            )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--records", type=int, default=1_000_000)
    ap.add_argument("--failed", type=float, default=0.3, help="share of failed records (0.9: failure-heavy)")
    ap.add_argument("--jobs", type=int, default=1, help="advisor diagnose --jobs (1: pinned to one core)")
    ap.add_argument("--keep", action="store_true", help="keep the generated log")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="advisor-speed-"))
    log = tmp / "big.jsonl"
    t0 = time.perf_counter()
    generate(log, args.records, args.failed)
    print(
        f"generated {args.records:,} records ({log.stat().st_size / 1e6:.0f} MB) "
        f"in {time.perf_counter() - t0:.1f}s"
    )
    advisor = Path(sys.executable).with_name("advisor")
    cmd = [str(advisor), "diagnose", str(log), "--jobs", str(args.jobs)]
    if hasattr(os, "sched_setaffinity") and args.jobs == 1:
        cmd = ["taskset", "-c", "0", *cmd]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    if proc.returncode != 0:
        print(proc.stderr, file=sys.stderr)
        sys.exit(proc.returncode)
    rate = args.records / wall
    print(
        f"advisor diagnose: {wall:.1f}s wall, {rate:,.0f} records/s on "
        f"{'one core' if args.jobs == 1 else f'{args.jobs} workers'} "
        f"(target >= 50,000), peak RSS {peak_kb / 1024:.0f} MB (target <= 300)"
    )
    if not args.keep:
        log.unlink()
        tmp.rmdir()


if __name__ == "__main__":
    main()
