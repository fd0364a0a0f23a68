"""lm-eval scoring for instruction_following: does the output obey the doc's ``constraint``?

Only the constraint is checked (this is a behaviour task), not whether the content is right.
"""

from __future__ import annotations

import re

_WORD = re.compile(r"[^\W_]+(?:['’-][^\W_]+)*")
_FRENCH = {
    "le",
    "la",
    "les",
    "un",
    "une",
    "des",
    "du",
    "de",
    "est",
    "et",
    "je",
    "j",
    "nous",
    "vous",
    "il",
    "elle",
    "on",
    "pour",
    "avec",
    "dans",
    "sur",
    "pas",
    "ne",
    "que",
    "qui",
    "au",
    "aux",
    "c",
    "l",
    "d",
    "très",
    "mon",
    "ma",
    "mes",
    "son",
    "sa",
    "ses",
    "ce",
    "cette",
    "sont",
    "suis",
    "mais",
    "ou",
    "en",
    "par",
    "plus",
    "aime",
    "quand",
    "fait",
    "oui",
    "non",
    "bonjour",
    "merci",
}
_ENGLISH = {
    "the",
    "is",
    "a",
    "an",
    "and",
    "i",
    "you",
    "it",
    "of",
    "to",
    "in",
    "are",
    "with",
    "for",
    "my",
    "on",
    "that",
    "this",
    "be",
    "was",
    "have",
    "has",
    "what",
    "your",
    "yes",
    "no",
    "do",
    "can",
}


def words(text: str) -> list[str]:
    return _WORD.findall(text)


def _letters(text: str) -> list[str]:
    return [c for c in text if c.isalpha()]


def is_french(text: str) -> bool:
    tokens = [t for w in words(text.lower()) for t in re.split(r"['’]", w) if t]
    fr = sum(t in _FRENCH for t in tokens)
    en = sum(t in _ENGLISH for t in tokens)
    return fr >= 2 and fr > en


def check(constraint: str, arg: str, output: str) -> bool:
    """True when ``output`` obeys ``constraint`` (``arg`` is its parameter, e.g. the word count)."""
    text = str(output).strip()
    if not text:
        return False
    ws = words(text)
    if constraint == "yes_no":
        return len(ws) == 1 and ws[0].lower() in {"yes", "no"}
    if constraint == "one_word":
        return len(ws) == 1
    if constraint == "n_words":
        return len(ws) == int(arg)
    if constraint == "uppercase":
        letters = _letters(text)
        return bool(letters) and all(c.isupper() for c in letters)
    if constraint == "lowercase":
        letters = _letters(text)
        return bool(letters) and not any(c.isupper() for c in letters)
    if constraint == "french":
        return is_french(text)
    if constraint == "number_only":
        return re.fullmatch(r"-?\d+(?:[.,]\d+)?\.?", text) is not None
    if constraint == "start_with":
        return bool(ws) and ws[0].lower() == (arg or "certainly").lower()
    if constraint == "no_commas":
        return "," not in text
    raise ValueError(f"unknown constraint {constraint!r}")


def process_results(doc: dict, results: list[str]) -> dict[str, float]:
    return {"acc": float(check(doc["constraint"], doc.get("constraint_arg") or "", results[0]))}
