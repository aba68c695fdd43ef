"""A week's (or block's) articles chunked and encoded exactly as the indexer does it,
through the vector cache."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from assistant.config import Settings
from assistant.schema import Chunk, Document
from assistant.store.chunking import chunk_document
from assistant.store.indexer import embed_chunks


@dataclass
class EncodedChunk:
    """One chunk with its passage vector and its sentences' in-context vectors."""

    doc: Document
    chunk: Chunk
    vector: np.ndarray
    sentence_vectors: np.ndarray


def chunk_documents(docs: list[Document], embedder, settings: Settings) -> list[tuple]:
    """(document, chunk) pairs of every article, unique by document id."""
    seen: set[str] = set()
    pairs = []
    for doc in docs:
        if doc.doc_id in seen:
            continue
        seen.add(doc.doc_id)
        chunks = chunk_document(
            doc,
            embedder.count_tokens,
            settings.max_chunk_tokens,
            settings.chunk_overlap_sentences,
        )
        pairs += [(doc, c) for c in chunks]
    return pairs


def encode_chunks(pairs: list[tuple], embedder, batch: int = 256) -> list[EncodedChunk]:
    """Passage and sentence vectors of (document, chunk) pairs, a batch at a time."""
    out: list[EncodedChunk] = []
    for at in range(0, len(pairs), batch):
        part = pairs[at : at + batch]
        embedded = embed_chunks(embedder, part)
        for (doc, chunk), vector, sentences in zip(
            part, embedded.vectors, embedded.sentences, strict=True
        ):
            out.append(EncodedChunk(doc, chunk, np.asarray(vector, np.float32), sentences))
    return out
