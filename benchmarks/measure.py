"""Measurements run inside the benchmark process: encoder options and indexing speed.

Every comparison is made side by side in one process on the same texts, so a busy
machine slows both sides alike: the bare encoder runs on half the chunks before the
pipeline and on the other half after it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from assistant.library.inputs import load_paths
from assistant.store.chunking import chunk_document, embedding_text


def timed(fn: Callable[[], object]) -> tuple[float, object]:
    """(seconds, result) of one call."""
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def chunk_texts(files: list[Path], embedder, max_tokens: int, overlap: int) -> list[str]:
    """What the pipeline will embed for ``files``: one text per chunk, duplicates once."""
    docs = {}
    for result in load_paths(files, 1 << 30):
        if result.document is not None:
            docs.setdefault(result.document.doc_id, result.document)
    return [
        embedding_text(doc.title, chunk.text)
        for doc in docs.values()
        for chunk in chunk_document(doc, embedder.count_tokens, max_tokens, overlap)
    ]


def bare_encode(embedder, texts: list[str], batch_size: int | None = None) -> np.ndarray:
    """``SentenceTransformer.encode`` alone, as the pipeline's embedder calls it."""
    return embedder.model.encode(
        texts,
        batch_size=batch_size or embedder.batch_size,
        normalize_embeddings=True,
        convert_to_numpy=True,
        show_progress_bar=False,
    )


def indexing(make_assistant, files: list[Path], texts: list[str]) -> dict:
    """Chunks/s of a full index run against the bare encoder, then an unchanged re-run."""
    assistant = make_assistant()
    bare_encode(assistant.embedder, texts[:16])  # warm-up: first batches are slow
    half = len(texts) // 2
    bare_a, _ = timed(lambda: bare_encode(assistant.embedder, texts[:half]))
    full_s, report = timed(lambda: assistant.index([str(f) for f in files]))
    bare_b, _ = timed(lambda: bare_encode(assistant.embedder, texts[half:]))
    reindex_s, again = timed(lambda: assistant.index([str(f) for f in files]))
    # every article is indexed, or merged into the copy it syndicates (no chunks of its own)
    accounted = report.added + report.merged == len(files) and not report.errors
    if not accounted or report.chunks > len(texts) or again.added or again.updated:
        raise RuntimeError(f"unexpected index reports: {report}, then {again}")
    bare_rate = len(texts) / (bare_a + bare_b)
    pipeline_rate = report.chunks / full_s
    return {
        "articles": report.added,
        "chunks": report.chunks,
        "bare_encode_s": round(bare_a + bare_b, 2),
        "bare_chunks_per_s": round(bare_rate, 2),
        "pipeline_s": round(full_s, 2),
        "pipeline_chunks_per_s": round(pipeline_rate, 2),
        "pipeline_vs_bare": round(pipeline_rate / bare_rate, 3),
        "reindex_s": round(reindex_s, 3),
        "reindex_fraction": round(reindex_s / full_s, 4),
    }


def encoder_options(embedder, texts: list[str], rounds: int = 2) -> list[dict]:
    """Throughput of batch sizes and thread counts on the same texts, interleaved over
    ``rounds`` (best round kept), with each option's largest deviation from the default."""
    import torch

    threads = torch.get_num_threads()
    reference = bare_encode(embedder, texts)
    options = [(threads, b) for b in (8, 16, 32, 64, 128)]
    if threads > 1:
        options.append((1, embedder.batch_size))
    best: dict[tuple[int, int], float] = {}
    drift: dict[tuple[int, int], float] = {}
    for _ in range(rounds):
        for n_threads, batch in options:
            torch.set_num_threads(n_threads)
            seconds, vectors = timed(lambda b=batch: bare_encode(embedder, texts, b))
            best[(n_threads, batch)] = max(best.get((n_threads, batch), 0), len(texts) / seconds)
            drift[(n_threads, batch)] = float(1 - np.min(np.sum(vectors * reference, axis=1)))
    torch.set_num_threads(threads)
    return [
        {
            "threads": t,
            "batch_size": b,
            "chunks_per_s": round(best[(t, b)], 2),
            "max_cosine_drift": drift[(t, b)],
        }
        for t, b in options
    ]
