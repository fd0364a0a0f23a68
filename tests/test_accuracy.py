"""Classification quality on hand-labelled logs (written independently of the detectors)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
from accuracy import evaluate  # noqa: E402

DATA = ROOT / "tests" / "data"


@pytest.mark.parametrize(
    "log, labels",
    [
        (DATA / "labelled_generic.jsonl", None),
        (DATA / "labelled_lmeval", DATA / "labelled_lmeval_labels.jsonl"),
    ],
)
def test_macro_f1_and_passed_samples(log, labels):
    res = evaluate(log, labels)
    assert res["n"] >= 100
    ok, total = res["none_correct"]
    assert total and ok == total  # passed samples come out `none`
    assert res["macro_f1"] >= 0.8, res["scores"]
