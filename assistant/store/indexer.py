"""Index runs: load inputs, reconcile them with what is indexed, embed only what is new.

An article's id is a hash of its content, and its record lists the *sources* (file paths,
JSONL lines, URLs) it was found under. A run maps each source it reads to the article it
holds now: new content is chunked, embedded (batched across articles) and written, chunks
before the record, so readers never see half an article; unchanged content is skipped; a
source whose content changed moves to the new article. Articles left with no source (their
file changed, or vanished under ``--sync``) are deleted at the end of the run, after their
replacements are in place. Every step may be interrupted: the next run converges.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from assistant.dates import backfill_date_numbers
from assistant.library.duplicates import CopyFinder, body_of, fingerprint
from assistant.library.ingest import LoadResult
from assistant.library.inputs import load_inputs, plan_inputs
from assistant.locks import IndexBusyError, writer_lock
from assistant.schema import Chunk, Document, FileError, IndexReport
from assistant.store.articles import ArticleStore, NewDocument
from assistant.store.chunking import chunk_document, embedding_spans, embedding_text
from assistant.store.lexical import update_lexical

__all__ = [
    "IndexBusyError",
    "IndexRun",
    "index_loaded",
    "index_paths",
    "rebuild_lexical_if_changed",
]

Progress = Callable[[int, int, str], None]
_LINE = re.compile(r"#L\d+$")


@dataclass
class Pending:
    """An article read in this run whose chunks still need embedding."""

    doc: Document
    chunks: list[Chunk]


@dataclass
class Embedded:
    """The vectors of some chunks and, when the embedder gives them, of their sentences."""

    vectors: list[list[float]]
    sentences: list[np.ndarray] | None = None


def embed_chunks(embedder, pairs: list[tuple[Document, Chunk]]) -> Embedded:
    """Chunk vectors and in-context sentence vectors from one pass per chunk; an embedder
    without ``encode_passages`` (any LangChain ``Embeddings``) gives chunk vectors only."""
    texts = [embedding_text(d.title, c.text) for d, c in pairs]
    if not texts:
        return Embedded([], [])
    if not hasattr(embedder, "encode_passages"):
        return Embedded(embedder.embed_documents(texts))
    spans = [embedding_spans(d.title, c.start, c.sentences) for d, c in pairs]
    encoded = embedder.encode_passages(texts, spans)
    return Embedded(encoded.passages.tolist(), encoded.sentences)


def embed_pending(embedder, pending: list[Pending]) -> list[Embedded]:
    """Embed the chunks of several articles in one batch; vectors grouped per article."""
    embedded = embed_chunks(embedder, [(p.doc, c) for p in pending for c in p.chunks])
    grouped, offset = [], 0
    for item in pending:
        end = offset + len(item.chunks)
        sentences = embedded.sentences[offset:end] if embedded.sentences is not None else None
        grouped.append(Embedded(embedded.vectors[offset:end], sentences))
        offset = end
    return grouped


def file_of(source: str) -> str:
    """The file (or URL) behind a source: a JSONL line's source without ``#L<n>``."""
    return _LINE.sub("", source)


@dataclass
class IndexRun:
    """One pass over some inputs, writing into ``store``."""

    store: ArticleStore
    progress: Progress | None = None
    report: IndexReport = field(default_factory=IndexReport)

    def __post_init__(self) -> None:
        self.sources: dict[str, list[str]] = {}  # doc id -> the sources it is recorded under
        self.by_source: dict[str, set[str]] = {}
        self.changed: set[str] = set()  # committed docs whose sources changed
        self.dropped: set[str] = set()  # docs that lost a source because it is gone
        self.seen: set[str] = set()  # sources read in this run (loaded or not)
        self.containers: set[str] = set()  # JSONL files read in this run
        self.pending: list[Pending] = []
        self.committed: set[str] = set()
        self.copies: CopyFinder | None = None  # loaded when the first new article comes
        for doc_id, meta in self.store.doc_records().items():
            self.sources[doc_id] = []
            for source in json.loads(meta.get("sources", "[]")) or [meta["source"]]:
                self._link(source, doc_id)
        self.committed = set(self.sources)

    def run(self, results: Iterable[LoadResult], total: int) -> None:
        """Handle every load result, reporting progress after each input (a JSONL file's
        lines count as one input)."""
        done, container = 0, None
        for result in results:
            self.add(result)
            if result.container is None or result.container != container:
                done += 1
            container = result.container
            if self.progress:
                self.progress(min(done, total), total, result.path)

    def add(self, result: LoadResult) -> None:
        """Record where one source's content now lives; queue new content for embedding."""
        self.seen.add(result.path)
        if result.container:
            self.containers.add(result.container)
        if result.document is None:
            self.report.errors.append(FileError(path=result.path, error=result.error or "failed"))
            return
        doc, source = result.document, result.path
        previous = self.by_source.get(source, set()) - {doc.doc_id}
        known = doc.doc_id in self.sources
        copy_of = None if known else self._copy_of(doc, source, previous)
        target = copy_of or doc.doc_id
        for old in previous - {target}:
            self._unlink(source, old)
        self._link(source, target)
        if copy_of:
            self.report.merged += 1
        elif not known:
            chunks = chunk_document(
                doc,
                self.store.embedder.count_tokens,
                self.store.settings.max_chunk_tokens,
                self.store.settings.chunk_overlap_sentences,
            )
            self.pending.append(Pending(doc, chunks))
        if copy_of:
            pass
        elif previous:
            self.report.updated += 1
        elif known:
            self.report.unchanged += 1
        else:
            self.report.added += 1
        if sum(len(p.chunks) for p in self.pending) >= self.store.settings.index_batch_chunks:
            self.flush()

    def _copy_of(self, doc: Document, source: str, previous: set[str]) -> str | None:
        """The indexed (or queued) article ``doc`` is a near-copy of, if any; ``doc`` is
        remembered as a candidate for later copies otherwise. An article held by this
        source alone is its own older version (an edit), never a copy to merge into."""
        if self.store.settings.duplicate_threshold <= 0:
            return None  # merging turned off
        if self.copies is None:
            self.copies = CopyFinder(self.store.settings.duplicate_threshold, self._body)
            self.copies.sync(self.store, Path(self.store.settings.index_dir))
        probe = fingerprint(body_of(doc))
        own = {d for d in previous if self.sources.get(d) == [source]}
        found = self.copies.find(probe, exclude=own)
        if found is None:
            self.copies.add(doc.doc_id, probe.minhash)
        return found

    def _body(self, doc_id: str) -> str | None:
        """An article's body for the copy check: queued in this run (not yet written) or
        read from the store."""
        for item in self.pending:
            if item.doc.doc_id == doc_id:
                return body_of(item.doc)
        doc = self.store.get_document(doc_id)
        return body_of(doc) if doc else None

    def flush(self) -> None:
        """Embed all pending chunks in one batch, then write them in one store call."""
        if not self.pending:
            return
        vectors = embed_pending(self.store.embedder, self.pending)
        self.store.add_documents(
            [
                NewDocument(
                    item.doc,
                    item.chunks,
                    embedded.vectors,
                    self.sources[item.doc.doc_id],
                    embedded.sentences,
                )
                for item, embedded in zip(self.pending, vectors, strict=True)
            ]
        )
        for item in self.pending:
            self.committed.add(item.doc.doc_id)
            self.report.chunks += len(item.chunks)
        self.pending.clear()

    def finish(self, sync_folders: list[str], read: set[str]) -> IndexReport:
        """Write what is pending, drop sources that are gone, delete orphaned articles.

        ``read`` holds every file and URL this run looked at; with ``sync_folders``, a
        recorded file under one of them that was not looked at is gone.
        """
        self.flush()
        for source in self._stale_sources(sync_folders, read):
            for doc_id in list(self.by_source.get(source, ())):
                self._unlink(source, doc_id)
                self.dropped.add(doc_id)
        orphaned = []
        for doc_id in sorted(self.changed):
            if self.sources.get(doc_id):
                self.store.set_sources(doc_id, self.sources[doc_id])
            else:
                orphaned.append(doc_id)
                self.report.removed += doc_id in self.dropped
        self.store.remove_documents(orphaned)
        if self.copies is not None:  # signed new articles: keep them for the next run
            for doc_id in orphaned:
                self.copies.drop(doc_id)
            self.copies.save(Path(self.store.settings.index_dir))
        return self.report

    def _stale_sources(self, sync_folders: list[str], read: set[str]) -> list[str]:
        prefixes = tuple(os.path.join(folder, "") for folder in sync_folders)
        stale = []
        for source in self.by_source:
            if source in self.seen or not self.by_source[source]:
                continue
            base = file_of(source)
            in_synced_folder = bool(prefixes) and base.startswith(prefixes) and base not in read
            if base in self.containers or in_synced_folder:
                stale.append(source)
        return stale

    def _link(self, source: str, doc_id: str) -> None:
        sources = self.sources.setdefault(doc_id, [])
        if source not in sources:
            sources.append(source)
            self.by_source.setdefault(source, set()).add(doc_id)
            if doc_id in self.committed:
                self.changed.add(doc_id)

    def _unlink(self, source: str, doc_id: str) -> None:
        if source in self.sources.get(doc_id, []):
            self.sources[doc_id].remove(source)
        self.by_source.get(source, set()).discard(doc_id)
        self.changed.add(doc_id)


def index_paths(
    store: ArticleStore,
    paths: list[str],
    progress: Progress | None = None,
    sync: bool = False,
) -> IndexReport:
    """Index files, folders and URLs; with ``sync``, forget files gone from the folders."""
    settings = store.settings

    def load():
        plan = plan_inputs(paths)
        results = load_inputs(plan, settings.max_file_bytes, settings.fetch_timeout_s)
        return results, len(plan.items), plan.folders if sync else [], plan.sources()

    return _locked_run(store, progress, load)


def index_loaded(
    store: ArticleStore, results: list[LoadResult], progress: Progress | None = None
) -> IndexReport:
    """Index documents already loaded (feed entries, a training corpus), each under its
    ``path`` as source, as ``index_paths`` indexes files: one writer, crash-safe, unchanged
    articles skipped, nothing forgotten."""
    read = {r.path for r in results}
    return _locked_run(store, progress, lambda: (iter(results), len(results), [], read))


def _locked_run(store: ArticleStore, progress: Progress | None, load) -> IndexReport:
    """Hold the writer lock, load (``load()`` gives results, their count, folders to sync
    and every source read) and run the indexer over what was loaded."""
    with writer_lock(Path(store.settings.index_dir)):
        store.refresh_if_stale()  # write on top of what other processes wrote
        store.remove_orphan_chunks()
        store.publish_sentence_vectors()  # an embedded index now served by `chroma run`
        backfill_date_numbers(store)  # an index from before dates were numbers
        results, total, folders, read = load()
        run = IndexRun(store, progress)
        run.run(results, total)
        report = run.finish(folders, read)
        rebuild_lexical_if_changed(store)
    return report


def rebuild_lexical_if_changed(store: ArticleStore, before: int | None = None) -> None:
    """Bring the saved BM25 index up to the store's current revision, reading only the
    articles added or removed since the saved copy. (``before`` is no longer needed.)"""
    update_lexical(store)
