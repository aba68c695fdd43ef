"""Indexing runs: load files, skip what is unchanged, chunk, embed and store the rest.

Only one writer may work on an index at a time (a file lock that fails at once).
Embedding is batched across documents so the encoder runs at full batch size.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from filelock import FileLock, Timeout

from .chunking import chunk_document, embedding_text
from .ingest import LoadResult, load_paths
from .lexical import refresh_lexical
from .schema import Chunk, Document, FileError, IndexReport
from .store import ArticleStore, NewDocument

Progress = Callable[[int, int, str], None]
FLUSH_CHUNKS = 256


class IndexBusyError(RuntimeError):
    """Another process is writing to the same index."""


@contextmanager
def writer_lock(index_dir: Path):
    """Hold the index's writer lock, or fail at once if another writer has it."""
    Path(index_dir).mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(Path(index_dir) / ".writer.lock"))
    try:
        lock.acquire(timeout=0)
    except Timeout:
        raise IndexBusyError(
            f"another `assistant index` is already writing to {index_dir}; "
            "wait for it to finish and try again"
        ) from None
    try:
        yield
    finally:
        lock.release()


@dataclass
class _Pending:
    doc: Document
    chunks: list[Chunk]
    replaces: str | None
    sources: list[str]


@dataclass
class IndexRun:
    """One pass over some inputs, writing into ``store``."""

    store: ArticleStore
    max_tokens: int
    overlap: int
    progress: Progress | None = None
    report: IndexReport = field(default_factory=IndexReport)
    _pending: list[_Pending] = field(default_factory=list)
    records: dict | None = None
    _by_source: dict[str, str] = field(default_factory=dict)
    _seen: set[str] = field(default_factory=set)
    _pending_chunks: int = 0
    _records: dict = field(default_factory=dict)
    flush_chunks: int = FLUSH_CHUNKS

    def __post_init__(self) -> None:
        self._records = self.store.doc_records() if self.records is None else self.records
        for doc_id, meta in self._records.items():
            for source in json.loads(meta.get("sources", "[]")):
                self._by_source[source] = doc_id

    def run(self, results: Iterable[LoadResult], total: int) -> IndexReport:
        for done, result in enumerate(results, start=1):
            self._handle(result)
            if self.progress:
                self.progress(done, total, result.path)
        self._flush()
        return self.report

    def _handle(self, result: LoadResult) -> None:
        if result.document is None:
            self.report.errors.append(FileError(path=result.path, error=result.error or "failed"))
            return
        doc = result.document
        if doc.doc_id in self._records or doc.doc_id in self._seen:
            self.report.unchanged += 1
            if self._by_source.get(doc.source) != doc.doc_id and doc.doc_id in self._records:
                self.store.add_source(doc.doc_id, doc.source)
                self._by_source[doc.source] = doc.doc_id
            return
        self._seen.add(doc.doc_id)
        replaces = self._by_source.get(doc.source)
        chunks = chunk_document(
            doc, self.store.embedder.count_tokens, self.max_tokens, self.overlap
        )
        self._pending.append(_Pending(doc, chunks, replaces, [doc.source]))
        self._pending_chunks += len(chunks)
        if self._pending_chunks >= self.flush_chunks:
            self._flush()

    def _flush(self) -> None:
        """Embed all pending chunks in one batch, then write them in one store call."""
        if not self._pending:
            return
        texts = [embedding_text(p.doc.title, c.text) for p in self._pending for c in p.chunks]
        vectors = self.store.embedder.embed_documents(texts)
        new, replaced, offset = [], [], 0
        for item in self._pending:
            n = len(item.chunks)
            new.append(
                NewDocument(item.doc, item.chunks, vectors[offset : offset + n], item.sources)
            )
            offset += n
            if item.replaces and item.replaces != item.doc.doc_id:
                replaced.append(item.replaces)
                self.report.updated += 1
            else:
                self.report.added += 1
        self.store.add_documents(new, replaces=replaced)
        self.report.chunks += offset
        self._pending.clear()
        self._pending_chunks = 0


def count_inputs(paths: Iterable[str | Path]) -> int:
    from .ingest import collect_files

    return sum(1 for _ in collect_files(paths))


def index_paths(
    store: ArticleStore,
    paths: list[str],
    max_bytes: int,
    max_tokens: int,
    overlap: int,
    progress: Progress | None = None,
) -> IndexReport:
    """Index files and folders; rebuild the lexical index when anything changed."""
    with writer_lock(Path(store.settings.index_dir)):
        records = store.doc_records()
        if store.remove_orphan_chunks(records):
            records = store.doc_records()
        run = IndexRun(store, max_tokens, overlap, progress, records=records)
        run.flush_chunks = max(FLUSH_CHUNKS, 4 * getattr(store.embedder, "batch_size", 0))
        report = run.run(load_paths(paths, max_bytes), count_inputs(paths))
        rebuild_lexical_if_changed(store)
    return report


def rebuild_lexical_if_changed(store: ArticleStore, before: int | None = None) -> None:
    """Bring the saved BM25 index up to the store's current revision (only the
    articles added or removed since the saved copy are read). ``before`` is unused
    (kept for callers of the earlier signature)."""
    refresh_lexical(store, store.settings)
