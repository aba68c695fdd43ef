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
from .retrieval import LexicalIndex, lexical_dir
from .schema import Chunk, Document, FileError, IndexReport
from .store import ArticleStore

Progress = Callable[[int, int, str], None]
_FLUSH_CHUNKS = 256


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
    _records: dict = field(default_factory=dict)
    _by_source: dict[str, str] = field(default_factory=dict)
    _seen: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        self._records = self.store.doc_records()
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
            if doc.doc_id in self._records:
                self.store.add_source(doc.doc_id, doc.source)
            return
        self._seen.add(doc.doc_id)
        replaces = self._by_source.get(doc.source)
        chunks = chunk_document(
            doc, self.store.embedder.count_tokens, self.max_tokens, self.overlap
        )
        self._pending.append(_Pending(doc, chunks, replaces, [doc.source]))
        if sum(len(p.chunks) for p in self._pending) >= _FLUSH_CHUNKS:
            self._flush()

    def _flush(self) -> None:
        """Embed all pending chunks in one batch, then commit document by document."""
        if not self._pending:
            return
        texts = [(p.doc, c) for p in self._pending for c in p.chunks]
        vectors = self.store.embedder.embed_documents(
            [embedding_text(d.title, c.text) for d, c in texts]
        )
        offset = 0
        for item in self._pending:
            n = len(item.chunks)
            if item.replaces and item.replaces != item.doc.doc_id:
                self.store.remove_document(item.replaces)
                self.report.updated += 1
            else:
                self.report.added += 1
            self.store.add_document(
                item.doc, item.chunks, vectors[offset : offset + n], item.sources
            )
            self.report.chunks += n
            offset += n
        self._pending.clear()


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
        store.remove_orphan_chunks()
        before = store.revision()
        run = IndexRun(store, max_tokens, overlap, progress)
        report = run.run(load_paths(paths, max_bytes), count_inputs(paths))
        rebuild_lexical_if_changed(store, before)
    return report


def rebuild_lexical_if_changed(store: ArticleStore, before: int) -> None:
    """Save a BM25 index for the store's current revision if it moved past ``before``."""
    revision = store.revision()
    folder = lexical_dir(store.settings)
    if revision != before or LexicalIndex.load(folder, revision) is None:
        LexicalIndex.build(store.all_chunks(), revision).save(folder)
