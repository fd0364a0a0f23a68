"""BM25 ranking (rank-bm25) shared by the ``--corpus`` check and the few-shot and RAG techniques.

BM25+ rather than Okapi: Okapi's idf is 0 for a term found in half the passages, which on small
corpora scores every passage 0 for a question like "capital of Zarnovia?".
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

_WORD = re.compile(r"\w+")


def words(text: str) -> list[str]:
    """Lower-cased word tokens."""
    return _WORD.findall(text.lower())


class Bm25Index:
    """A BM25+ index over ``texts``; ``ranking(query)`` gives their indices, best first."""

    def __init__(
        self, texts: Sequence[str], tokenize: Callable[[str], list[str]] = words, empty: str = "-"
    ) -> None:
        from rank_bm25 import BM25Plus

        self.tokenize = tokenize
        self.size = len(texts)
        self.bm25 = BM25Plus([tokenize(t) or [empty] for t in texts])

    def scores(self, query: str):
        return self.bm25.get_scores(self.tokenize(query))

    def ranking(self, query: str, n: int | None = None) -> list[int]:
        scores = self.scores(query)
        order = sorted(range(self.size), key=scores.__getitem__, reverse=True)
        return order[:n] if n else order
