"""lm-eval scoring for fictional_qa: normalised exact match, or the answer contained in the output."""

from __future__ import annotations

import re
import string

_PUNCT = re.compile(f"[{re.escape(string.punctuation)}’‘“”]")
_ARTICLES = {"a", "an", "the"}


def normalize(text: str) -> str:
    """Lowercase, punctuation to spaces, drop articles, collapse whitespace ("2,786" -> "2786")."""
    text = re.sub(r"(?<=\d),(?=\d{3}\b)", "", str(text).lower())
    words = _PUNCT.sub(" ", text).split()
    return " ".join(w for w in words if w not in _ARTICLES)


def is_correct(prediction: str, answer: str, question: str = "") -> bool:
    """Exact match after normalisation, or the answer contained (as whole words) in the output.

    Containment does not count when the answer is already in the question: echoing the question
    ("Dadreirk Shipping is headquartered in Durban") must not pass for the answer "Dadreirk".
    """
    pred, gold = normalize(prediction), normalize(answer)
    if not gold:
        return False
    if pred == gold:
        return True
    if f" {gold} " in f" {normalize(question)} ":
        return False
    return f" {gold} " in f" {pred} "


def process_results(doc: dict, results: list[str]) -> dict[str, float]:
    return {"exact_match": float(is_correct(results[0], doc["answer"], doc.get("question", "")))}
