"""Retrieval-augmented prompting: BM25 (rank-bm25), embeddings (all-MiniLM-L6-v2), or a hybrid
of both fused with reciprocal rank fusion. The corpus is the task's document folder; a task
without one retrieves from its training pairs instead."""

from __future__ import annotations

from dataclasses import dataclass

from advisor import System, Technique, TechniqueSettings, hookimpl, setting

RRF_K = 60


def passages_of(task) -> list[str]:
    if task.corpus:
        return [text for _, text in task.corpus]
    return [f"{r['prompt']}\nAnswer: {r['target']}" for r in task.train]


def with_context(passages: list[str], prompt: str) -> str:
    block = "\n\n".join(f"[{i}] {p}" for i, p in enumerate(passages, 1))
    return f"Use these passages to answer.\n\n{block}\n\n{prompt}"


@dataclass
class RagSettings(TechniqueSettings):
    k: int = setting(3, "number of passages put before the prompt")

    def __post_init__(self) -> None:
        super().__post_init__()
        self.check_min("k", 1)


@dataclass
class EmbeddingRagSettings(RagSettings):
    hybrid: bool = setting(False, "fuse the BM25 and embedding rankings (reciprocal rank fusion)")
    embedding_model: str = setting(
        "", "sentence-transformers model folder; empty: the bundled all-MiniLM-L6-v2"
    )


class Bm25Rag(Technique):
    name = "bm25-rag"
    kind = "retrieval"
    description = "Top-k passages from the task's corpus by BM25 (rank-bm25), put before the prompt."
    Settings = RagSettings

    def apply(self, model, tokenizer, task, settings, env):
        from advisor import Bm25Index

        docs = passages_of(task)
        index = Bm25Index(docs)
        k = int(settings["k"])

        def rewrite(prompt: str) -> str:
            return with_context([docs[i] for i in index.ranking(prompt, k)], prompt)

        return System(model, tokenizer, rewrite=rewrite, info={"trainable_params": 0, "passages": len(docs)})


class EmbeddingRag(Technique):
    name = "embedding-rag"
    kind = "retrieval"
    description = (
        "Top-k passages by cosine similarity of all-MiniLM-L6-v2 embeddings; hybrid=true fuses "
        "BM25 and embedding rankings with reciprocal rank fusion."
    )
    Settings = EmbeddingRagSettings

    def apply(self, model, tokenizer, task, settings, env):
        import numpy as np
        from sentence_transformers import SentenceTransformer

        from advisor import embedding_model_path

        docs = passages_of(task)
        path = settings["embedding_model"] or str(embedding_model_path())
        encoder = SentenceTransformer(path, device="cpu")
        doc_vecs = encoder.encode(docs, normalize_embeddings=True, batch_size=64, show_progress_bar=False)
        k, hybrid = int(settings["k"]), bool(settings["hybrid"])
        sparse_index = None
        if hybrid:
            from advisor import Bm25Index

            sparse_index = Bm25Index(docs)

        def rewrite(prompt: str) -> str:
            q = encoder.encode([prompt], normalize_embeddings=True, show_progress_bar=False)[0]
            dense = list(np.argsort(-(doc_vecs @ q)))
            if sparse_index is None:
                top = dense[:k]
            else:
                sparse = sparse_index.ranking(prompt)
                fused: dict[int, float] = {}
                for ranking in (dense, sparse):
                    for rank, i in enumerate(ranking[:50]):
                        fused[int(i)] = fused.get(int(i), 0.0) + 1.0 / (RRF_K + rank + 1)
                top = sorted(fused, key=fused.__getitem__, reverse=True)[:k]
            return with_context([docs[int(i)] for i in top], prompt)

        return System(
            model,
            tokenizer,
            rewrite=rewrite,
            info={"trainable_params": 0, "passages": len(docs), "hybrid": hybrid},
        )


@hookimpl
def advisor_register_techniques(register):
    register(Bm25Rag())
    register(EmbeddingRag())
