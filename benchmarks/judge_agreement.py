r"""How a ``--judge`` model does on the low-confidence failures of a labelled JSONL log.

    .venv/bin/python benchmarks/judge_agreement.py benchmarks/data/accuracy/dev.jsonl --judge smollm2
    .venv/bin/python benchmarks/judge_agreement.py LOG --judge http://localhost:8080/v1 [--judge-model M]

Reports, on the records the judge was asked about: how often the detectors' verdict matched the gold
label, how often the judge's did, and the whole log's macro-F1 with and without the judge. Answers are
cached (``${ADVISOR_CACHE}/judge.jsonl``); set ADVISOR_CACHE to a fresh folder to re-ask.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from accuracy_by_domain import f1_scores  # noqa: E402

from advisor.diagnosis.pipeline import Request, run  # noqa: E402
from advisor.plugins import Registry, get_plugin_manager  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("log", type=Path)
    ap.add_argument("--judge", required=True)
    ap.add_argument("--judge-model")
    ap.add_argument("--judge-key-env")
    args = ap.parse_args()
    gold = {}
    for i, line in enumerate(args.log.read_text(encoding="utf-8").splitlines(), 1):
        if line.strip():
            gold[i] = json.loads(line)["label"]
    registry = Registry(get_plugin_manager(load_entry_points=False))
    plain = run(Request(path=args.log, keep_records=True), registry)
    judged = run(
        Request(
            path=args.log,
            keep_records=True,
            judge=args.judge,
            judge_model=args.judge_model,
            judge_key_env=args.judge_key_env,
        ),
        registry,
    )
    asked = [d for d in judged.records if d.judge is not None]
    det_ok = sum(gold[d.record.line] == d.judge["detectors"] for d in asked)
    judge_ok = sum(gold[d.record.line] == d.judge["verdict"] for d in asked)
    before = f1_scores([(gold[d.record.line], d.verdict.value) for d in plain.records])["macro_f1"]
    after = f1_scores([(gold[d.record.line], d.verdict.value) for d in judged.records])["macro_f1"]
    j = judged.judge
    print(
        f"judge {j.judge}: {j.asked + j.cached} low-confidence failures sent ({j.cached} cached), "
        f"{j.unparsed} replies named no class, {len(asked)} judged"
    )
    print(f"  detectors right on them: {det_ok}/{len(asked)}; judge right: {judge_ok}/{len(asked)}")
    print(f"  macro-F1 of the whole log: {before:.3f} without the judge, {after:.3f} with it")


if __name__ == "__main__":
    main()
