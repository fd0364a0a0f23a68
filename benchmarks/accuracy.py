r"""Accuracy of the diagnosis against hand labels: per-class precision/recall/F1 and macro-F1.

    .venv/bin/python benchmarks/accuracy.py tests/data/labelled_generic.jsonl
    .venv/bin/python benchmarks/accuracy.py tests/data/labelled_lmeval \
        --labels tests/data/labelled_lmeval_labels.jsonl

A JSONL log carries its label in a ``label`` field; an lm-eval folder takes a labels file with
``task``, ``doc_id``, ``filter`` and ``label`` per line. Macro-F1 is over factual, behaviour and format.
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path

from advisor.diagnosis.pipeline import Request, run
from advisor.plugins import Registry, get_plugin_manager

CLASSES = ("factual", "behaviour", "format")


def labels_for(log: Path, labels: Path | None) -> dict[tuple, str]:
    if labels is None:
        out = {}
        for i, line in enumerate(log.read_text().splitlines(), 1):
            if line.strip():
                obj = json.loads(line)
                out[("line", i)] = obj["label"]
        return out
    out = {}
    for line in labels.read_text().splitlines():
        if line.strip():
            obj = json.loads(line)
            out[(obj["task"], int(obj["doc_id"]), obj.get("filter"))] = obj["label"]
    return out


def evaluate(log: Path, labels: Path | None = None) -> dict:
    gold = labels_for(log, labels)
    report = run(Request(path=log, keep_records=True), Registry(get_plugin_manager(load_entry_points=False)))
    pairs = []
    for d in report.records:
        r = d.record
        key = ("line", r.line) if labels is None else (r.task, r.doc_id, r.filter)
        if key in gold:
            pairs.append((gold[key], d.verdict.value, r))
    scores = {}
    for cls in CLASSES:
        tp = sum(1 for g, p, _ in pairs if g == cls and p == cls)
        fp = sum(1 for g, p, _ in pairs if g != cls and p == cls)
        fn = sum(1 for g, p, _ in pairs if g == cls and p != cls)
        prec = tp / (tp + fp) if tp + fp else 0.0
        rec = tp / (tp + fn) if tp + fn else 0.0
        f1 = 2 * prec * rec / (prec + rec) if prec + rec else 0.0
        scores[cls] = {"precision": prec, "recall": rec, "f1": f1, "support": tp + fn}
    present = [c for c in CLASSES if scores[c]["support"]]
    macro = sum(scores[c]["f1"] for c in present) / len(present) if present else 0.0
    none_ok = sum(1 for g, p, _ in pairs if g == "none" and p == "none")
    none_all = sum(1 for g, _, _ in pairs if g == "none")
    confusion = Counter((g, p) for g, p, _ in pairs)
    errors = [(g, p, r) for g, p, r in pairs if g != p]
    return {
        "n": len(pairs),
        "scores": scores,
        "macro_f1": macro,
        "none_correct": (none_ok, none_all),
        "confusion": confusion,
        "errors": errors,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("log", type=Path)
    ap.add_argument("--labels", type=Path)
    ap.add_argument("--errors", action="store_true", help="print the misclassified samples")
    args = ap.parse_args()
    res = evaluate(args.log, args.labels)
    print(
        f"{res['n']} labelled samples; passed samples labelled none and diagnosed none: "
        f"{res['none_correct'][0]}/{res['none_correct'][1]}"
    )
    for cls, s in res["scores"].items():
        print(
            f"  {cls:<10} precision {s['precision']:.2f}  recall {s['recall']:.2f}  "
            f"F1 {s['f1']:.2f}  (n={s['support']})"
        )
    print(f"macro-F1 over the failure classes: {res['macro_f1']:.3f}")
    if args.errors:
        for gold, pred, r in res["errors"]:
            print(
                f"- gold {gold} / got {pred}: {r.task} {r.id or r.line} "
                f"out={r.output[:80]!r} ref={(r.reference or '')[:40]!r}"
            )


if __name__ == "__main__":
    main()
