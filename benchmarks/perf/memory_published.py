"""Recompute the "Published vs predicted" table of docs/memory.md from its own commands.

    .venv/bin/python benchmarks/perf/memory_published.py           # print predicted, error and a summary
    .venv/bin/python benchmarks/perf/memory_published.py --write   # also rewrite the two columns in the doc

Each row of the table carries the published figure (value, unit GB = 10^9 or GiB = 2^30, and its kind)
and the `advisor memory` arguments that describe the run; this script runs each command (in process,
through the CLI) and compares `total_bytes` (or `weights_bytes` for rows marked "(weights)") with the
published value. Nothing is measured here: the published figures are quoted from their sources.
tests/test_memory.py checks that every predicted cell reproduces.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
DOC = ROOT / "docs" / "memory.md"
SECTION = "## Published vs predicted"
ROW = re.compile(
    r"^\| (?P<id>[^|]+?) \| (?P<pub>[\d.]+) (?P<unit>GB|GiB)(?P<kind>[^|]*) \| "
    r"(?P<pred>[\d.]+)(?P<w> \(weights\))? \| "
    r"(?P<err>[^|]+) \| (?P<acc>[^|]+) \| (?P<accerr>[^|]+) \|(?P<rest>.*\| `(?P<args>[^`]+)` \|)$"
)


def predict(args: str, weights: bool, unit: str) -> float:
    from click.testing import CliRunner

    from advisor.cli import cli
    from advisor.plugins import get_registry

    registry = get_registry()
    registry.add_commands(cli)
    result = CliRunner().invoke(cli, ["memory", *args.split(), "--json"], obj=registry)
    if result.exit_code != 0:
        raise SystemExit(f"`advisor memory {args}` failed: {result.output.strip()}")
    data = json.loads(result.stdout)
    return data["weights_bytes" if weights else "total_bytes"] / (2**30 if unit == "GiB" else 10**9)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--write", action="store_true", help="rewrite the predicted and error columns")
    opts = ap.parse_args()
    head, table = DOC.read_text(encoding="utf-8").split(SECTION, 1)
    lines, errors, acc_errors, footprints = [], [], [], 0
    for line in table.splitlines():
        m = ROW.match(line)
        if not m:
            lines.append(line)
            continue
        published = float(m["pub"])
        pred = predict(m["args"], bool(m["w"]), m["unit"])
        err = 100 * (pred - published) / published
        footprint = "footprint" in m["kind"]
        if footprint:
            footprints += 1
        else:
            errors.append(abs(err))
            acc = re.match(r"\s*([\d.]+)", m["acc"])
            if acc:
                acc_errors.append(abs(100 * (float(acc[1]) - published) / published))
        print(f"{m['id']:<16} published {published:>7} {m['unit']:<3} predicted {pred:8.2f} {err:+7.1f}%")
        lines.append(
            f"| {m['id']} | {m['pub']} {m['unit']}{m['kind']} | {pred:.2f}{m['w'] or ''} | {err:+.1f}% | "
            f"{m['acc']} | {m['accerr']} |{m['rest']}"
        )
    within = sum(e <= 10 for e in errors)
    acc_within = sum(e <= 10 for e in acc_errors)
    print(
        f"measured rows: {within} of {len(errors)} within 10% "
        f"(median |error| {statistics.median(errors):.1f}%); "
        f"accelerate: {acc_within} of {len(acc_errors)} (median {statistics.median(acc_errors):.1f}%); "
        f"{footprints} footprint rows not counted"
    )
    if opts.write:
        tail = "\n" if table.endswith("\n") else ""
        DOC.write_text(head + SECTION + "\n".join(lines) + tail, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
