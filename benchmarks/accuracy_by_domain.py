r"""Diagnosis accuracy per domain on the multi-domain labelled corpus, and the labellers' agreement.

    .venv/bin/python benchmarks/accuracy_by_domain.py benchmarks/data/accuracy/dev.jsonl [--markdown]
    .venv/bin/python benchmarks/accuracy_by_domain.py benchmarks/data/accuracy/dev.jsonl --agreement

The corpus is generic JSONL: ``task`` is the domain, ``label`` the resolved gold class (``none``,
``factual``, ``behaviour``, ``format``), ``label_a``/``label_b`` the two independent labels it was resolved
from. Scores are per-class F1 and macro-F1 over the three failure classes (classes absent from a domain are
left out of its macro), plus how many passed records came out ``none``.

Leave-one-domain-out: whoever tunes the detectors on this corpus must report each domain from detectors
tuned on the other domains only; this script scores the current detectors on each domain, which is the
held-out figure as long as no tuning looked at that domain. ``final.jsonl`` beside ``dev.jsonl`` is the
final held-out part: do not score it until the detector work is finished.
"""

from __future__ import annotations

import argparse
import json
from collections import Counter, defaultdict
from pathlib import Path

from advisor.diagnosis.pipeline import Request, run
from advisor.plugins import Registry, get_plugin_manager

CLASSES = ("factual", "behaviour", "format")
LABELS = ("none", *CLASSES)


def f1_scores(pairs: list[tuple[str, str]]) -> dict:
    scores = {}
    for cls in CLASSES:
        tp = sum(1 for g, p in pairs if g == cls and p == cls)
        fp = sum(1 for g, p in pairs if g != cls and p == cls)
        fn = sum(1 for g, p in pairs if g == cls and p != cls)
        prec = tp / (tp + fp) if tp + fp else 0.0
        rec = tp / (tp + fn) if tp + fn else 0.0
        scores[cls] = {"f1": 2 * prec * rec / (prec + rec) if prec + rec else 0.0, "support": tp + fn}
    present = [c for c in CLASSES if scores[c]["support"]]
    macro = sum(scores[c]["f1"] for c in present) / len(present) if present else 0.0
    none_ok = sum(1 for g, p in pairs if g == "none" and p == "none")
    none_all = sum(1 for g, _ in pairs if g == "none")
    return {"n": len(pairs), "scores": scores, "macro_f1": macro, "none": (none_ok, none_all)}


def by_domain(log: Path) -> dict[str, dict]:
    gold = {}
    for i, line in enumerate(log.read_text(encoding="utf-8").splitlines(), 1):
        if line.strip():
            gold[i] = json.loads(line)["label"]
    report = run(Request(path=log, keep_records=True), Registry(get_plugin_manager(load_entry_points=False)))
    pairs: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for d in report.records:
        pair = (gold[d.record.line], d.verdict.value)
        pairs[d.record.task or "-"].append(pair)
        pairs["(all)"].append(pair)
        if d.confidence:
            pairs[f"(confidence {d.confidence})"].append(pair)
    return {domain: f1_scores(p) for domain, p in sorted(pairs.items())}


def cohen_kappa(a: list[str], b: list[str]) -> float:
    n = len(a)
    observed = sum(1 for x, y in zip(a, b, strict=True) if x == y) / n
    ca, cb = Counter(a), Counter(b)
    expected = sum(ca[k] * cb[k] for k in set(ca) | set(cb)) / (n * n)
    return (observed - expected) / (1 - expected) if expected < 1 else 1.0


def agreement(log: Path) -> str:
    rows = [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines() if line.strip()]
    a = [r["label_a"] for r in rows]
    b = [r["label_b"] for r in rows]
    failed = [i for i, r in enumerate(rows) if not r.get("passed")]
    agree = sum(1 for x, y in zip(a, b, strict=True) if x == y)
    return (
        f"{len(rows)} records, two independent labels each: agreement {agree}/{len(rows)} "
        f"({agree / len(rows):.1%}), Cohen's kappa {cohen_kappa(a, b):.3f}; "
        f"on failed records only: kappa {cohen_kappa([a[i] for i in failed], [b[i] for i in failed]):.3f}"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("log", type=Path)
    ap.add_argument("--markdown", action="store_true", help="print the table as Markdown (docs/accuracy.md)")
    ap.add_argument("--agreement", action="store_true", help="print the labellers' agreement (Cohen's kappa)")
    args = ap.parse_args()
    if args.agreement:
        print(agreement(args.log))
        return
    results = by_domain(args.log)
    if args.markdown:
        print("| domain | records | macro-F1 | factual F1 | behaviour F1 | format F1 | passed -> none |")
        print("|---|---|---|---|---|---|---|")
    for domain, res in results.items():
        s = res["scores"]
        cells = [f"{s[c]['f1']:.2f} (n={s[c]['support']})" if s[c]["support"] else "-" for c in CLASSES]
        none = f"{res['none'][0]}/{res['none'][1]}"
        if args.markdown:
            print(f"| {domain} | {res['n']} | {res['macro_f1']:.3f} | {' | '.join(cells)} | {none} |")
        else:
            print(
                f"{domain:<20} n={res['n']:<4} macro-F1 {res['macro_f1']:.3f}  "
                f"{'  '.join(cells)}  none {none}"
            )


if __name__ == "__main__":
    import signal

    signal.signal(signal.SIGPIPE, signal.SIG_DFL)  # '... | head' ends quietly
    main()
