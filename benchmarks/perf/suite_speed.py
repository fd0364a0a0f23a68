"""Two runs of one suite side by side: wall time per cell and in all, and whether every quality number
(and every per-document score) is identical. Made to check a speed-up that must not change results.

    advisor bench run quick --db sqlite:///before.db        # on the old code
    advisor bench run quick --db sqlite:///after.db         # on the new code (same machine, quiet)
    .venv/bin/python benchmarks/perf/suite_speed.py sqlite:///before.db sqlite:///after.db [--json out.json]

Each store's latest run is used (or give ``--run-a/--run-b`` ids). Cells are matched on their
configuration (model, task, technique, settings, seed). Exit 1 when a quality number differs.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

QUALITY = ("quality_before", "quality_after")


def _cells(url: str, run_id: str | None) -> tuple[object, dict[tuple, object]]:
    from advisor.bench.store.engine import Store

    with Store(url) as store:
        run = store.run(run_id) if run_id else store.runs(limit=1)[0]
        cells = store.cells(run.run_id, documents=True)
    return run, {
        (c.model, c.task, c.technique, json.dumps(c.settings, sort_keys=True), c.seed): c for c in cells
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("db_a", help="store of the run before (SQLAlchemy URL or SQLite file)")
    ap.add_argument("db_b", help="store of the run after")
    ap.add_argument("--run-a")
    ap.add_argument("--run-b")
    ap.add_argument("--json", type=Path, help="also write the table as JSON")
    opts = ap.parse_args()
    run_a, a = _cells(opts.db_a, opts.run_a)
    run_b, b = _cells(opts.db_b, opts.run_b)
    rows, differ = [], 0
    print(f"{'cell':<44} {'before s':>9} {'after s':>8} {'ratio':>6}  quality (before -> after)")
    for key in sorted(a, key=lambda k: (k[2], k[1])):
        if key not in b:
            continue
        ca, cb = a[key], b[key]
        same = all(ca.metrics.get(q) == cb.metrics.get(q) for q in QUALITY) and ca.documents == cb.documents
        differ += not same
        row = {
            "cell": f"{ca.technique} on {ca.task}",
            "status": [ca.status, cb.status],
            "seconds": [round(ca.duration_s, 1), round(cb.duration_s, 1)],
            "quality": {q: [ca.metrics.get(q), cb.metrics.get(q)] for q in QUALITY},
            "identical": same,
        }
        rows.append(row)
        qa = "/".join(f"{ca.metrics.get(q, float('nan')):.3f}" for q in QUALITY)
        qb = "/".join(f"{cb.metrics.get(q, float('nan')):.3f}" for q in QUALITY)
        print(
            f"{row['cell']:<44} {ca.duration_s:9.1f} {cb.duration_s:8.1f} "
            f"{cb.duration_s / ca.duration_s:6.2f}  "
            f"{qa} -> {qb}{'' if same else '  DIFFERENT'}"
        )
    wall = [
        (r.ended_at - r.started_at).total_seconds() if r.ended_at else None  # type: ignore[attr-defined]
        for r in (run_a, run_b)
    ]
    total = [sum(r["seconds"][i] for r in rows) for i in (0, 1)]
    print(
        f"cells: {len(rows)} matched, {differ} with a different quality number; sum of cell times "
        f"{total[0] / 60:.1f} -> {total[1] / 60:.1f} min; run wall time "
        + " -> ".join(f"{w / 60:.1f} min" if w else "?" for w in wall)
    )
    if opts.json:
        opts.json.write_text(json.dumps({"cells": rows, "wall_s": wall, "cell_s": total}, indent=1))
    return 1 if differ else 0


if __name__ == "__main__":
    raise SystemExit(main())
