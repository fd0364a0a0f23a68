"""``--corpus``: is the answer to a factual failure retrievable with BM25 (rank-bm25)?

A factual failure whose reference appears in the top-k passages retrieved for its
question is evidence that RAG would fix it. Only failed records are checked.
"""

from __future__ import annotations

import re
from pathlib import Path

import orjson

from advisor import text as T
from advisor.errors import InputError

_TOKEN_RE = re.compile(r"\w+", re.UNICODE)
_CHAT_TOKENS_RE = re.compile(r"<\|[^|>]*\|>|\[/?INST\]|<</?SYS>>|</?s>")
TEXT_SUFFIXES = {".txt", ".md", ".markdown", ".rst"}


def tokenize(text: str) -> list[str]:
    return [t for t in _TOKEN_RE.findall(text.lower()) if t not in T.STOPWORDS]


def _passages(text: str, max_words: int = 120) -> list[str]:
    """Paragraphs, with long ones cut into overlapping windows of ``max_words`` words."""
    out = []
    for para in re.split(r"\n\s*\n", text):
        words = para.split()
        if not words:
            continue
        step = max_words * 3 // 4
        starts = list(range(0, max(len(words) - max_words, 0) + 1, step))
        if starts[-1] + max_words < len(words):  # the last window reaches the paragraph's end
            starts.append(len(words) - max_words)
        for start in starts:
            out.append(" ".join(words[start : start + max_words]))
    return out


def load_corpus(path: Path) -> list[tuple[str, str]]:
    """(document name, passage) pairs from a folder or file of txt/md/JSONL documents."""
    if not path.exists():
        raise InputError(f"no such corpus file or folder: {path}")
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    passages: list[tuple[str, str]] = []
    for file in files:
        suffix = file.suffix.lower()
        if suffix in TEXT_SUFFIXES:
            passages += [
                (file.name, p) for p in _passages(file.read_text(encoding="utf-8", errors="replace"))
            ]
        elif suffix in (".jsonl", ".ndjson"):
            for i, line in enumerate(file.read_bytes().splitlines(), 1):
                try:
                    obj = orjson.loads(line)
                except orjson.JSONDecodeError:
                    continue
                if isinstance(obj, dict):
                    body = next(
                        (
                            obj[k]
                            for k in ("text", "content", "passage", "body")
                            if isinstance(obj.get(k), str)
                        ),
                        None,
                    )
                    if body:
                        passages += [(f"{file.name}:{i}", p) for p in _passages(body)]
    if not passages:
        raise InputError(f"the corpus {path} holds no .txt, .md or .jsonl documents with text")
    return passages


def question_of(prompt: str, limit: int = 400) -> str:
    """The part of a prompt to search with: its last ``limit`` characters, chat tokens removed."""
    return _CHAT_TOKENS_RE.sub(" ", prompt)[-limit:]


class CorpusIndex:
    def __init__(self, passages: list[tuple[str, str]], k: int = 5) -> None:
        from advisor.diagnosis.bm25 import Bm25Index

        self.names = [n for n, _ in passages]
        self.texts = [p for _, p in passages]
        self.norm = [T.normalize(p) for p in self.texts]
        self.index = Bm25Index(self.texts, tokenize=tokenize, empty="∅")
        self.k = k

    @classmethod
    def from_path(cls, path: Path, k: int = 5) -> CorpusIndex:
        return cls(load_corpus(path), k=k)

    def find(self, question: str, reference: str) -> tuple[int, str] | None:
        """(rank, document) of the first top-k passage that contains ``reference``, else None."""
        ref = T.normalize(reference)
        if not ref:
            return None
        scores = self.index.scores(question)
        top = self.index.ranking(question, self.k)
        for rank, i in enumerate(top, 1):
            if scores[i] > 0 and T.contains_phrase(self.norm[i], ref):
                return rank, self.names[i]
        return None
