"""The multi-domain labelled corpus is well formed, and its measurement scripts run on it."""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "benchmarks" / "data" / "accuracy"
sys.path.insert(0, str(ROOT / "benchmarks"))
from accuracy_by_domain import agreement, by_domain, cohen_kappa  # noqa: E402


def rows(name: str) -> list[dict]:
    return [
        json.loads(line) for line in (CORPUS / name).read_text(encoding="utf-8").splitlines() if line.strip()
    ]


@pytest.mark.parametrize("name", sorted(p.name for p in CORPUS.glob("*.jsonl")))
def test_every_record_has_a_resolved_label_consistent_with_pass_fail(name):
    for r in rows(name):
        assert r["label"] in ("none", "factual", "behaviour", "format"), r["id"]
        assert (r["label"] == "none") == bool(r["passed"]), r["id"]
        assert r["resolution"] in ("agreed", "adjudicated"), r["id"]
        assert r["resolution"] == "adjudicated" or r["label"] == r["label_a"] == r["label_b"], r["id"]


def test_the_corpus_covers_enough_domains_and_classes_and_keeps_a_final_part():
    dev, final = rows("dev.jsonl"), rows("final.jsonl")
    assert len(dev) + len(final) >= 400
    assert not {r["id"] for r in dev} & {r["id"] for r in final}
    domains = Counter(r["task"] for r in dev + final)
    assert len(domains) >= 15
    for domain in domains:
        labels = Counter(r["label"] for r in dev + final if r["task"] == domain)
        assert labels["none"] and sum(labels[c] for c in ("factual", "behaviour", "format")) >= 15, domain
        assert any(r["task"] == domain for r in final), domain


def test_cohen_kappa():
    assert cohen_kappa(["a", "b", "a", "b"], ["a", "b", "a", "b"]) == 1.0
    assert cohen_kappa(["a", "a", "b", "b"], ["a", "b", "a", "b"]) == 0.0
    assert "Cohen's kappa" in agreement(CORPUS / "dev.jsonl")


def test_per_domain_measurement_scores_every_domain():
    results = by_domain(CORPUS / "dev.jsonl")
    assert len(results) >= 16  # every domain plus "(all)"
    overall = results["(all)"]
    assert overall["n"] == len(rows("dev.jsonl"))
    assert overall["none"][0] == overall["none"][1]  # passed records come out `none`
