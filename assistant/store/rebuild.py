"""``assistant reindex --rebuild``: re-chunk and re-embed every article from its stored text.

Needed after the chunking settings or the embedding model change. The new chunks go into a
fresh collection that replaces the old one only when complete, so the index stays usable
(with the old vectors) until then, and a rebuild killed part-way leaves the old index as it
was. It opens indexes built with another embedding model: that is what it is for.
"""

from __future__ import annotations

from pathlib import Path

from assistant.config import Settings
from assistant.locks import writer_lock
from assistant.schema import IndexReport
from assistant.store.articles import ArticleStore
from assistant.store.chunking import chunk_document
from assistant.store.embeddings import get_embedder
from assistant.store.indexer import Pending, Progress, embed_pending
from assistant.store.lexical import rebuild_lexical

_FLUSH_CHUNKS = 256


def rebuild_index(
    settings: Settings, embedder=None, progress: Progress | None = None
) -> IndexReport:
    """Rebuild every article's chunks and vectors with the current model and settings."""
    embedder = embedder or get_embedder(settings)
    with writer_lock(Path(settings.index_dir)):
        store = ArticleStore(settings, embedder, check_model=False)
        store.remove_orphan_chunks()
        target = store.new_rebuild_collection()
        report = IndexReport()
        ids = sorted(store.committed_ids())
        pending: list[Pending] = []
        for done, doc_id in enumerate(ids, start=1):
            doc = store.get_document(doc_id)
            chunks = chunk_document(
                doc,
                embedder.count_tokens,
                settings.max_chunk_tokens,
                settings.chunk_overlap_sentences,
            )
            pending.append(Pending(doc, chunks))
            if sum(len(p.chunks) for p in pending) >= _FLUSH_CHUNKS:
                report.chunks += _write(store, target, pending)
            if progress:
                progress(done, len(ids), doc.title)
        report.chunks += _write(store, target, pending)
        store.swap_in_rebuild()
        report.updated = len(ids)
        rebuild_lexical(store)  # every chunk is new: nothing to carry over
    return report


def _write(store: ArticleStore, target, pending: list[Pending]) -> int:
    """Embed and write the pending articles' chunks into ``target``; returns their number."""
    vectors = embed_pending(store.embedder, pending)
    for item, embedded in zip(pending, vectors, strict=True):
        store.write_chunks(
            item.doc, item.chunks, embedded.vectors, collection=target, sentences=embedded.sentences
        )
    written = sum(len(p.chunks) for p in pending)
    pending.clear()
    return written
