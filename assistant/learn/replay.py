"""A block of weeks as an in-memory corpus that retrieves exactly as the index does:
the same chunks, vectors, BM25 index and candidate lists, without Chroma, so features
for thousands of questions are computed in minutes from the vector cache."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from assistant.answer.features import PassageHit, merge_hits
from assistant.config import Settings
from assistant.learn.corpus import chunk_documents, encode_chunks
from assistant.store.articles import StoredChunk, chunk_metadata
from assistant.store.lexical import LexicalIndex


@dataclass
class BlockCorpus:
    """Every chunk of a block's articles with its vectors and a BM25 index."""

    chunks: list[StoredChunk]
    vectors: np.ndarray  # (chunks, dim)
    sentence_vectors: list[np.ndarray]
    lexical: LexicalIndex

    @classmethod
    def build(cls, docs, embedder, settings: Settings) -> BlockCorpus:
        encoded = encode_chunks(chunk_documents(docs, embedder, settings), embedder)
        chunks = [
            StoredChunk(e.chunk.chunk_id, e.chunk.text, chunk_metadata(e.doc, e.chunk))
            for e in encoded
        ]
        vectors = np.vstack([e.vector for e in encoded]).astype(np.float32)
        return cls(
            chunks,
            vectors,
            # as the index's sidecar keeps them
            [np.asarray(e.sentence_vectors, dtype=np.float16) for e in encoded],
            LexicalIndex.build(chunks, revision=1),
        )

    def __post_init__(self) -> None:
        self.position = {c.chunk_id: i for i, c in enumerate(self.chunks)}

    def subset(self, doc_ids: set[str]) -> BlockCorpus:
        """A corpus of only these articles' chunks (a small library), with its own BM25
        index, as indexing just those articles would give."""
        keep = [i for i, c in enumerate(self.chunks) if c.metadata["doc_id"] in doc_ids]
        chunks = [self.chunks[i] for i in keep]
        return BlockCorpus(
            chunks,
            self.vectors[keep],
            [self.sentence_vectors[i] for i in keep],
            LexicalIndex.build(chunks, revision=1),
        )

    def hits(self, query: str, vector: np.ndarray, candidates: int, rrf_k: int = 60):
        """The fused dense + BM25 candidates of a question (``candidates`` from each)."""
        cosines = self.vectors @ vector
        candidates = min(candidates, len(self.chunks))
        top = np.argpartition(-cosines, candidates - 1)[:candidates]
        top = top[np.argsort(-cosines[top], kind="stable")]
        lexical = self.lexical.search(query, candidates)
        wanted = {int(i) for i in top} | {self.position[cid] for cid, _ in lexical}
        records = {
            self.chunks[i].chunk_id: (
                self.chunks[i].text,
                self.chunks[i].metadata,
                float(cosines[i]),
            )
            for i in wanted
        }
        hits = merge_hits([self.chunks[i].chunk_id for i in top], lexical, records, rrf_k)
        for hit in hits:
            hit.sentence_vectors = self.sentence_vectors[self.position[hit.chunk_id]]
        return hits


def hit_holds(hit: PassageHit, gold_form: str, normalise) -> bool:
    """Whether a passage holds the gold answer (as the evaluation counts it)."""
    return gold_form in normalise(hit.text)
