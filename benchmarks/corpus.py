"""Benchmark corpora of 1k, 10k and 100k chunks, derived from an indexed base corpus.

Encoding 100k chunks on a 2-core machine takes most of an hour, so the larger corpora
are not re-encoded. They are the real base articles plus deterministic variants of
them: paragraphs shuffled, about a third of the multi-sentence paragraphs lose one
sentence, the title gets an edition prefix. Variants go through the real ingest and
chunker, so their chunks have new boundaries and texts. Each variant chunk's vector is
the mean of the base vectors of the chunks that held its sentences, plus small
deterministic noise (cosine about 0.97 to that mean), normalised; each of its
sentences keeps the in-context vector the same sentence had in the base (mean over the
base chunks holding it), with the same noise. The vectors are written through the real
store, so Chroma's HNSW index, the BM25 index and the sentence-vector sidecar are real at
that size; only the vectors are approximations of what the encoder would give.
"""

from __future__ import annotations

import hashlib
import json
import random
import shutil
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from assistant.library.ingest import parse_text
from assistant.schema import Document
from assistant.store.articles import ArticleStore, NewDocument
from assistant.store.chunking import chunk_document, split_sentences

GENERATOR_VERSION = 3
PREFIXES = ["Update:", "Analysis:", "Explainer:", "Live:", "Briefing:", "Recap:", "Digest:"]
NOISE_SIGMA = 0.0125  # per dimension; 384 dims give a cosine of about 0.97 to the mean
WRITE_CHUNKS = 4000


@dataclass
class BaseCorpus:
    """Indexed articles with their chunks' vectors, read back from a store."""

    docs: list[Document]
    chunk_vectors: dict[str, list[np.ndarray]]  # doc id -> vectors in chunk order
    sentence_vectors: dict[str, np.ndarray]  # sentence text -> mean vector of its chunks
    chunk_sentences: dict[str, list[np.ndarray]]  # doc id -> in-context sentence vectors
    context_vectors: dict[str, np.ndarray]  # sentence text -> mean in-context vector

    @property
    def fingerprint(self) -> str:
        """Changes when the base articles or their chunking change."""
        key = json.dumps(sorted((d, len(v)) for d, v in self.chunk_vectors.items()))
        return hashlib.sha256(key.encode()).hexdigest()[:12]

    @property
    def chunks(self) -> int:
        return sum(len(v) for v in self.chunk_vectors.values())


def read_base(store: ArticleStore) -> BaseCorpus:
    """Every article of ``store`` with its chunk vectors, also mapped by sentence text."""
    docs = {d: store.get_document(d) for d in sorted(store.doc_records())}
    by_doc: dict[str, list[tuple[int, np.ndarray, np.ndarray]]] = {d: [] for d in docs}
    sums: dict[str, np.ndarray] = {}
    context: dict[str, np.ndarray] = {}
    counts: dict[str, int] = {}
    for chunk_id, meta, vector in _chunk_vectors(store):
        doc = docs[meta["doc_id"]]
        spans = json.loads(meta["sentences"])
        in_context = store.sentences.get([chunk_id]).get(chunk_id)
        if in_context is None or len(in_context) != len(spans):
            raise RuntimeError(f"{chunk_id} has no sentence vectors; rebuild the base index")
        by_doc[doc.doc_id].append((int(meta["index"]), vector, in_context))
        for (start, end, _), row in zip(spans, in_context, strict=True):
            text = doc.text[start:end]
            sums[text] = sums[text] + vector if text in sums else vector.copy()
            context[text] = context[text] + row if text in context else row.copy()
            counts[text] = counts.get(text, 0) + 1
    ordered = {d: sorted(items, key=_first) for d, items in by_doc.items()}
    return BaseCorpus(
        docs=list(docs.values()),
        chunk_vectors={d: [v for _, v, _ in items] for d, items in ordered.items()},
        sentence_vectors={t: sums[t] / counts[t] for t in sums},
        chunk_sentences={d: [s for _, _, s in items] for d, items in ordered.items()},
        context_vectors={t: _unit(context[t]) for t in context},
    )


def _unit(vector: np.ndarray) -> np.ndarray:
    return vector / max(float(np.linalg.norm(vector)), 1e-12)


def _first(item: tuple) -> int:
    return item[0]


def _chunk_vectors(store: ArticleStore) -> Iterator[tuple[str, dict, np.ndarray]]:
    total, page = store.chunks.count(), 2000
    for offset in range(0, total, page):
        got = store.chunks.get(include=["metadatas", "embeddings"], limit=page, offset=offset)
        for chunk_id, meta, vector in zip(
            got["ids"], got["metadatas"], got["embeddings"], strict=True
        ):
            yield chunk_id, meta, np.asarray(vector, dtype=np.float32)


def variant_text(doc: Document, variant: int) -> str:
    """A deterministic rewrite of ``doc``: new title, shuffled paragraphs, some
    sentences dropped. The same (article, variant) always gives the same text."""
    rng = random.Random(f"{doc.doc_id}:{variant}")
    paragraphs = []
    for para in doc.paragraphs:
        sentences = [doc.text[s.start : s.end] for s in split_sentences(doc.text, *_span(para))]
        if len(sentences) > 1 and rng.random() < 0.35:
            del sentences[rng.randrange(len(sentences))]
        paragraphs.append(" ".join(sentences))
    rng.shuffle(paragraphs)
    prefix = PREFIXES[variant % len(PREFIXES)]
    title = f"{prefix} {doc.title} ({variant + 1})"
    header = f"Source: {doc.url or 'bench://' + doc.doc_id}#variant-{variant + 1}\n"
    if doc.date:
        header += f"Published: {doc.date}\n"
    return f"# {title}\n\n{header}\n" + "\n\n".join(p for p in paragraphs if p) + "\n"


def _span(para) -> tuple[int, int]:
    return para.start, para.end


def variant_vectors(
    doc: Document, chunks, base: BaseCorpus, origin: str
) -> tuple[list[list[float]], list[np.ndarray]]:
    """Chunk vectors and sentence vectors for a variant's chunks from the base vectors
    (no encoder run)."""
    rng = np.random.default_rng(int(hashlib.sha256(doc.doc_id.encode()).hexdigest()[:8], 16))
    fallback = np.mean(base.chunk_vectors[origin], axis=0)
    vectors, sentences = [], []
    for chunk in chunks:
        texts = [doc.text[s:e] for s, e, _ in chunk.sentences]
        found = [base.sentence_vectors[t] for t in texts if t in base.sentence_vectors]
        mean = np.mean(found, axis=0) if found else fallback
        vectors.append(_noisy(mean, rng).tolist())
        rows = [_noisy(base.context_vectors.get(t, _unit(mean)), rng) for t in texts]
        sentences.append(np.asarray(rows, dtype=np.float32).reshape(len(texts), -1))
    return vectors, sentences


def _noisy(vector: np.ndarray, rng) -> np.ndarray:
    noisy = _unit(vector) + rng.normal(0.0, NOISE_SIGMA, vector.shape)
    return _unit(noisy).astype(np.float32)


def memo_counter(count_tokens: Callable[[Sequence[str]], list[int]]):
    """A token counter that remembers texts it has seen (variants repeat sentences)."""
    cache: dict[str, int] = {}

    def count(texts: Sequence[str]) -> list[int]:
        missing = list(dict.fromkeys(t for t in texts if t not in cache))
        if missing:
            cache.update(zip(missing, count_tokens(missing), strict=True))
        return [cache[t] for t in texts]

    return count


def plan(base: BaseCorpus) -> Iterator[tuple[Document, int]]:
    """(article, variant) pairs in build order: the real articles first (variant -1),
    then rounds of variants over all articles, without end."""
    variant = -1
    while True:
        for doc in base.docs:
            yield doc, variant
        variant += 1


def build_corpus(store: ArticleStore, base: BaseCorpus, size: int, max_tokens: int, overlap: int):
    """Write at least ``size`` chunks (whole articles) into the empty ``store``; returns
    the chunk count."""
    count = memo_counter(store.embedder.count_tokens)
    pending: list[NewDocument] = []
    written = 0
    for doc, variant in plan(base):
        if written >= size:
            break
        pending.append(_corpus_document(doc, variant, base, count, max_tokens, overlap))
        written += len(pending[-1].chunks)
        if sum(len(p.chunks) for p in pending) >= WRITE_CHUNKS:
            store.add_documents(pending)
            pending = []
    if pending:
        store.add_documents(pending)
    return written


def _corpus_document(doc, variant, base, count, max_tokens, overlap) -> NewDocument:
    """A base article as indexed (variant -1: its real vectors) or one of its variants."""
    if variant < 0:
        chunks = chunk_document(doc, count, max_tokens, overlap)
        vectors = [v.tolist() for v in base.chunk_vectors[doc.doc_id]]
        if len(vectors) != len(chunks):
            raise RuntimeError(
                f"re-chunking {doc.doc_id} gave {len(chunks)} chunks, not the "
                f"{len(vectors)} indexed; was the base built with other settings?"
            )
        return NewDocument(doc, chunks, vectors, [doc.source], base.chunk_sentences[doc.doc_id])
    new = parse_text(variant_text(doc, variant), f"bench://{doc.doc_id}/{variant + 1}")
    chunks = chunk_document(new, count, max_tokens, overlap)
    vectors, sentences = variant_vectors(new, chunks, base, doc.doc_id)
    return NewDocument(new, chunks, vectors, [new.source], sentences)


def corpus_dir(root: Path, base: BaseCorpus, size: int) -> Path:
    """Where the corpus of ``size`` chunks built from ``base`` is cached."""
    return root / f"corpus-{size}-{base.fingerprint}-v{GENERATOR_VERSION}"


def is_complete(folder: Path) -> bool:
    return (folder / "complete.json").exists()


def mark_complete(folder: Path, info: dict) -> None:
    (folder / "complete.json").write_text(json.dumps(info))


def discard(folder: Path) -> None:
    shutil.rmtree(folder, ignore_errors=True)
