"""The vector store: chunks and article records in Chroma (embedded or server).

Two collections: ``<name>`` holds chunk vectors (cosine space, tagged with the embedding
model), ``<name>-docs`` holds one record per article (full text and metadata) plus a
``__state__`` record whose revision token changes on every write. An article counts as
indexed only once its record exists; its chunks (then their sentence vectors) are written
first, so a reader that filters by committed ids never sees half an article.

Sentence vectors (``sentence_vectors``) go to a folder beside the index and, in server
mode, to a third collection, ``<name>-sentences-<chunk collection id>``, so a process on
another machine or folder reads them from the server instead of encoding them. Embedded,
the folder alone holds them: every process that opens the index opens that folder too.
"""

from __future__ import annotations

import json
import logging
import re
import secrets
import threading
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import chromadb
import numpy as np
from chromadb.config import Settings as ChromaSettings
from langchain_chroma import Chroma

from assistant.config import Settings
from assistant.dates import date_number
from assistant.locks import IndexBusyError, writer_lock
from assistant.schema import Chunk, Document, SourceInfo, Span
from assistant.store.sentence_vectors import FOLDER as SENTENCE_FOLDER
from assistant.store.sentence_vectors import (
    SENTENCE_HNSW,
    ChromaSentenceVectors,
    RecentVectors,
    SentenceLayers,
    SentenceVectorStore,
    encode_sentences,
    sentence_collection_name,
    vectors_folder,
)

STATE_ID = "__state__"
_SYSTEM_CACHE_LOCK = threading.Lock()
REBUILD_SUFFIX = "-rebuild"
REBUILD_DONE = "rebuild_complete"
PUBLISHING = "publishing"  # set on a sentence collection while the sidecar is copied to it
# HNSW build effort for new collections (Chroma's default is 100). Search effort is the
# ``hnsw_ef_search`` setting; see ``ArticleStore._ensure_search_effort``.
HNSW_EF_CONSTRUCTION = 200
log = logging.getLogger(__name__)


class StoreError(RuntimeError):
    """The index cannot be opened or used as asked."""


class ModelMismatchError(StoreError):
    """The index was built with another embedding model."""


@dataclass
class NewDocument:
    """An article ready to be written: its chunks, their vectors and its sources."""

    doc: Document
    chunks: list[Chunk]
    vectors: list[list[float]]
    sources: list[str]
    sentence_vectors: list[np.ndarray] | None = None  # per chunk, one row per sentence


@dataclass
class StoredChunk:
    """A chunk as read back from the store, with its similarity to a query."""

    chunk_id: str
    text: str
    metadata: dict[str, Any]
    score: float = 0.0


def make_client(settings: Settings) -> chromadb.ClientAPI:
    """A PersistentClient on ``index_dir``, or an HttpClient when ``chroma_url`` is set."""
    chroma_settings = ChromaSettings(anonymized_telemetry=False)
    if settings.chroma_url:
        url = urlparse(settings.chroma_url)
        if url.scheme not in {"http", "https"} or not url.hostname:
            raise StoreError(
                f"chroma_url must look like http://host:port, got {settings.chroma_url!r}"
            )
        return chromadb.HttpClient(
            host=url.hostname,
            port=url.port or 8000,
            ssl=url.scheme == "https",
            settings=chroma_settings,
        )
    Path(settings.index_dir).mkdir(parents=True, exist_ok=True)
    return chromadb.PersistentClient(path=str(settings.index_dir), settings=chroma_settings)


class ArticleStore:
    """Read and write articles and their chunk vectors."""

    def __init__(
        self,
        settings: Settings,
        embedder,
        client: chromadb.ClientAPI | None = None,
        check_model: bool = True,
    ):
        self.settings = settings
        self.embedder = embedder
        self._private = self._retired = None  # Chroma systems of our own (``_open_client``)
        # where answered chunks' sentence vectors came from: sidecar, server or encoded
        self.sentence_sources: Counter[str] = Counter()
        self._recent: tuple[str, RecentVectors] = ("", RecentVectors())
        self.client = client or self._open_client()
        self._finish_interrupted_rebuild()
        self._bind()
        if check_model:
            self._check_model()

    def _bind(self) -> None:
        """(Re)attach to the two collections and note the revision they show."""
        self.vectors = Chroma(
            client=self.client,
            collection_name=self.settings.collection,
            embedding_function=self.embedder,
            collection_metadata=self._model_metadata(),
            collection_configuration=self._hnsw_configuration(),
        )
        self.chunks = self.vectors._collection
        self.sentences = self._sentence_vectors(self.chunks, reading=True)
        self._ensure_search_effort()
        self.docs = self.client.get_or_create_collection(
            f"{self.settings.collection}-docs", embedding_function=None
        )
        self.fresh_at = self.revision()

    def _sentences_folder(self, collection) -> Path:
        return vectors_folder(self.settings.index_dir, str(collection.id))

    def _sentence_vectors(self, collection, reading: bool = False) -> SentenceLayers:
        """Where the sentence vectors of a chunk collection are kept: its sidecar folder,
        then (server mode) its sentence collection on the server. ``reading``: the store's
        own, whose fetches are cached for as long as the chunk collection lasts."""
        local = SentenceVectorStore(self._sentences_folder(collection))
        local.refresh()
        layers = [local]
        if self.settings.chroma_url:
            name = sentence_collection_name(self.settings.collection, str(collection.id))
            shared = self.client.get_or_create_collection(
                name, embedding_function=None, configuration=SENTENCE_HNSW
            )
            cache = self._cache_for(name) if reading else None
            batch = self.client.get_max_batch_size()
            layers.append(ChromaSentenceVectors(shared, batch, cache))
        return SentenceLayers(layers, self.sentence_sources)

    def _cache_for(self, name: str) -> RecentVectors:
        """The fetch cache of a sentence collection, kept across reopens (every write by
        any process reopens the store) and dropped when a rebuild replaces it."""
        if self._recent[0] != name:
            self._recent = (name, RecentVectors())
        return self._recent[1]

    def _hnsw_configuration(self) -> dict[str, Any]:
        # the space goes here, never as "hnsw:space" metadata as well: given both, Chroma
        # 1.5 builds an l2 index
        return {
            "hnsw": {
                "space": "cosine",
                "ef_construction": HNSW_EF_CONSTRUCTION,
                "ef_search": self.settings.hnsw_ef_search,
            }
        }

    def _ensure_search_effort(self) -> None:
        """Give the chunks collection the configured HNSW search effort. Chroma's default
        (100) let the graph of one 19k-chunk build miss a question's nearest passage, so two
        builds of the same corpus answered differently; the effort can be changed on an
        existing collection (indexes made before this setting get it on open)."""
        hnsw = (self.chunks.configuration or {}).get("hnsw") or {}
        wanted = self.settings.hnsw_ef_search
        if hnsw.get("ef_search") == wanted:
            return
        try:
            self.chunks.modify(configuration={"hnsw": {"ef_search": wanted}})
        except Exception as exc:  # noqa: BLE001  (reading must work where writing can't)
            log.warning("could not set the index's HNSW search effort to %d: %s", wanted, exc)

    def _model_metadata(self) -> dict[str, Any]:
        return {"embedding_model": self.embedder.model_name, "dimension": self.embedder.dimension}

    def _open_client(self) -> chromadb.ClientAPI:
        """A client on a Chroma system of this store's own.

        An embedded Chroma system keeps the vector index it loaded in memory, so it misses
        (or returns deleted) vectors written later by another process. Chroma caches one
        system per folder and process; this store neither reuses a cached one (it may be
        stale) nor shares its own, so it can reload and stop its systems at will. Its
        previous system is stopped one reopen later, not at once: a search in another thread
        may still be using it.
        """
        if self.settings.chroma_url:
            return make_client(self.settings)
        from chromadb.api.shared_system_client import SharedSystemClient

        cache, key = SharedSystemClient._identifier_to_system, str(self.settings.index_dir)
        with _SYSTEM_CACHE_LOCK:
            cache.pop(key, None)
            client = make_client(self.settings)
            system = cache.pop(key, None)
        if self._retired is not None:
            self._retired.stop()
        self._retired, self._private = self._private, system
        return client

    def reopen(self) -> None:
        """Re-read the index from disk (after another process wrote to it)."""
        self.client = self._open_client()
        self._bind()

    def refresh_if_stale(self) -> None:
        """Reopen if someone else has written since this store last looked."""
        if self.revision() != self.fresh_at:
            self.reopen()

    def _check_model(self) -> None:
        built_with = (self.chunks.metadata or {}).get("embedding_model")
        if built_with and built_with != self.embedder.model_name:
            raise ModelMismatchError(
                f"the index in {self.location} was built with the embedding model "
                f"{built_with!r}, but this run uses {self.embedder.model_name!r}; "
                "rebuild it with `assistant reindex --rebuild` (or use the same model)"
            )

    @property
    def location(self) -> str:
        return self.settings.chroma_url or str(self.settings.index_dir)

    # --- revision -------------------------------------------------------------------
    def revision(self) -> int:
        """A token that changes whenever an article is added or removed (0: never written)."""
        got = self.docs.get(ids=[STATE_ID], include=["metadatas"])
        return int(got["metadatas"][0]["revision"]) if got["ids"] else 0

    def _bump_revision(self) -> None:
        self._upsert_docs([])

    def _new_revision(self) -> int:
        # A fresh random token rather than a counter: two writers on different machines
        # (server mode) could both write n + 1, and a reader would miss one change.
        return secrets.randbits(62) + 1

    def _upsert_docs(self, new: list[NewDocument]) -> None:
        """Article records, then the state row with a new revision; the state row rides
        in the last write (each Chroma write has a fixed cost of about 0.1 s)."""
        revision = self._new_revision()
        rows = [
            (n.doc.doc_id, n.doc.text, _doc_metadata(n.doc, len(n.chunks), n.sources)) for n in new
        ]
        rows.append((STATE_ID, "", {"revision": revision, "kind": "state"}))
        batch = max(1, self.client.get_max_batch_size())
        for i in range(0, len(rows), batch):
            part = rows[i : i + batch]
            self.docs.upsert(
                ids=[r[0] for r in part],
                embeddings=[[1.0]] * len(part),
                documents=[r[1] for r in part],
                metadatas=[r[2] for r in part],
            )
        self.fresh_at = revision

    # --- writing --------------------------------------------------------------------
    def write_chunks(
        self,
        doc: Document,
        chunks: list[Chunk],
        vectors: list[list[float]],
        collection=None,
        sentences: list[np.ndarray] | None = None,
    ) -> None:
        """Upsert chunk vectors (and their sentence vectors), into the chunks collection
        unless another is given."""
        target = self.chunks if collection is None else collection
        self._write_chunk_rows([(doc, c) for c in chunks], vectors, collection)
        if sentences is not None:
            layers = self.sentences if collection is None else self._sentence_vectors(target)
            layers.add({c.chunk_id: v for c, v in zip(chunks, sentences, strict=True)})

    def _write_chunk_rows(self, rows: list[tuple[Document, Chunk]], vectors, collection=None):
        target = self.chunks if collection is None else collection
        batch = max(1, self.client.get_max_batch_size())
        for i in range(0, len(rows), batch):
            part = rows[i : i + batch]
            target.upsert(
                ids=[c.chunk_id for _, c in part],
                embeddings=vectors[i : i + batch],
                documents=[c.text for _, c in part],
                metadatas=[chunk_metadata(d, c) for d, c in part],
            )

    def add_document(
        self,
        doc: Document,
        chunks: list[Chunk],
        vectors: list[list[float]],
        sources: list[str] | None = None,
        sentence_vectors: list[np.ndarray] | None = None,
    ) -> None:
        """Write chunks (and their sentence vectors), then the article record that makes
        them visible."""
        new = NewDocument(doc, chunks, vectors, sources or [doc.source], sentence_vectors)
        self.add_documents([new])

    def add_documents(self, new: list[NewDocument]) -> None:
        """Write many articles at once: all their chunks, then all their records (which
        make them visible) with one revision change in the same write.

        A few large writes instead of several per article keep indexing close to the
        encoder's speed: each Chroma write has a fixed cost."""
        rows = [(n.doc, c) for n in new for c in n.chunks]
        self._write_chunk_rows(rows, [v for n in new for v in n.vectors])
        # after the chunks: sentence rows of an interrupted run then belong to orphan
        # chunks, which the next run finds (``remove_orphan_chunks``) and removes with them
        self.sentences.add(
            {
                c.chunk_id: v
                for n in new
                if n.sentence_vectors is not None
                for c, v in zip(n.chunks, n.sentence_vectors, strict=True)
            }
        )
        self._upsert_docs(new)

    def remove_document(self, doc_id: str) -> bool:
        """Remove the record first (readers stop seeing it), then its chunks."""
        return bool(self.remove_documents([doc_id]))

    def remove_documents(self, doc_ids: list[str]) -> list[str]:
        """Remove articles (records first, then sentence vectors, then chunks) with one
        revision change; returns the ids that were indexed. Interrupted, the chunks left
        are orphans, whose removal repeats the whole of it."""
        if not doc_ids:
            return []
        existed = self.docs.get(ids=list(doc_ids), include=[])["ids"]
        self.docs.delete(ids=list(doc_ids))
        self._bump_revision()
        self.sentences.remove_documents(doc_ids)
        self.chunks.delete(where={"doc_id": {"$in": list(doc_ids)}})
        return existed

    def set_sources(self, doc_id: str, sources: list[str]) -> None:
        """Record the paths and URLs an article is found under (the first one is shown)."""
        record = self.docs.get(ids=[doc_id], include=["metadatas"])
        if not record["ids"] or not sources:
            return
        meta = record["metadatas"][0]
        shown = meta.get("url") or sources[0]
        if shown != meta.get("source"):
            ids = self.chunks.get(where={"doc_id": doc_id}, include=[])["ids"]
            if ids:
                self.chunks.update(ids=ids, metadatas=[{"source": shown}] * len(ids))
        self.docs.update(
            ids=[doc_id], metadatas=[{"source": shown, "sources": json.dumps(sources)}]
        )

    def remove_orphan_chunks(self) -> int:
        """Delete chunks whose article record is missing (left by an interrupted run).

        When the records' chunk counts add up to the collection's size there are none,
        which spares reading every chunk's metadata on each run."""
        records = self.doc_records()
        if sum(int(m.get("chunks", 0)) for m in records.values()) == self.chunks.count():
            return 0
        got = self.chunks.get(include=["metadatas"])
        orphans = {
            cid: meta.get("doc_id")
            for cid, meta in zip(got["ids"], got["metadatas"], strict=True)
            if meta.get("doc_id") not in records
        }
        if orphans:
            self.sentences.remove_documents(set(orphans.values()))
            self.chunks.delete(ids=list(orphans))
        return len(orphans)

    def publish_sentence_vectors(self) -> int:
        """Copy the sidecar's sentence vectors of the current chunks to the server's
        sentence collection when that holds none (an index built embedded, then served by
        ``chroma run``) or an earlier copy was cut short; returns the chunks copied. Run
        by index runs, under the writer lock, on the machine that holds the folder."""
        local, *shared = self.sentences.layers
        if not shared:
            return 0
        server = shared[0]
        if not (server.collection.metadata or {}).get(PUBLISHING):
            if server.count() or not len(local):
                return 0
            server.collection.modify(metadata={PUBLISHING: True})
        ids, copied = self.chunks.get(include=[])["ids"], 0  # not the folder's removed ones
        for i in range(0, len(ids), 2000):
            found = local.get(ids[i : i + 2000])
            server.add(found)
            copied += len(found)
        server.collection.modify(metadata={PUBLISHING: False})
        return copied

    # --- rebuilding (``reindex --rebuild``) -------------------------------------------
    @property
    def rebuild_name(self) -> str:
        return self.settings.collection + REBUILD_SUFFIX

    def _collection_names(self) -> set[str]:
        return {getattr(c, "name", c) for c in self.client.list_collections()}

    def new_rebuild_collection(self):
        """An empty chunks collection for the current model (a leftover one is dropped)."""
        if self.rebuild_name in self._collection_names():
            self.client.delete_collection(self.rebuild_name)
        return self.client.create_collection(
            self.rebuild_name,
            embedding_function=None,
            metadata=self._model_metadata(),
            configuration=self._hnsw_configuration(),
        )

    def swap_in_rebuild(self) -> None:
        """Make the rebuilt collection the chunks collection.

        Marked complete first; every later step can be repeated, so a rebuild killed during
        the swap is finished the next time the index is opened.
        """
        rebuilt = self.client.get_collection(self.rebuild_name, embedding_function=None)
        meta = {k: v for k, v in (rebuilt.metadata or {}).items() if not k.startswith("hnsw:")}
        if not meta.get(REBUILD_DONE):
            rebuilt.modify(metadata={**meta, REBUILD_DONE: True})
        meta.pop(REBUILD_DONE, None)
        counts = _count_by_doc(rebuilt)
        docs = self.client.get_or_create_collection(
            f"{self.settings.collection}-docs", embedding_function=None
        )
        ids = [i for i in docs.get(include=[])["ids"] if i != STATE_ID]
        if ids:
            docs.update(ids=ids, metadatas=[{"chunks": counts.get(i, 0)} for i in ids])
        if self.settings.collection in self._collection_names():
            self.client.delete_collection(self.settings.collection)
        rebuilt.modify(name=self.settings.collection)
        rebuilt.modify(metadata=meta)
        self._bind()
        self._bump_revision()
        self._drop_other_sentence_vectors()

    def _drop_other_sentence_vectors(self) -> None:
        """Sentence vectors of replaced chunk collections, folders and collections alike
        (readers that still map a folder keep their mapping, and one that still asks a
        dropped collection encodes; their next question re-reads the store anyway)."""
        import shutil

        current = self._sentences_folder(self.chunks)
        for folder in (Path(self.settings.index_dir) / SENTENCE_FOLDER).glob("*"):
            if folder != current:
                shutil.rmtree(folder, ignore_errors=True)
        prefix = sentence_collection_name(self.settings.collection, "")
        keep = sentence_collection_name(self.settings.collection, str(self.chunks.id))
        for name in self._collection_names():
            # the rest a collection id, or another collection's sentences could match
            if name.startswith(prefix) and name != keep and _is_uuid(name[len(prefix) :]):
                self.client.delete_collection(name)

    def _finish_interrupted_rebuild(self) -> None:
        if self.rebuild_name not in self._collection_names():
            return
        rebuilt = self.client.get_collection(self.rebuild_name, embedding_function=None)
        if not (rebuilt.metadata or {}).get(REBUILD_DONE):
            return  # not complete: the next `reindex --rebuild` starts over
        try:
            with writer_lock(Path(self.settings.index_dir)):
                self.swap_in_rebuild()
        except IndexBusyError:
            pass  # the writer that holds the lock is finishing it

    # --- reading --------------------------------------------------------------------
    def committed_ids(self) -> set[str]:
        ids = self.docs.get(include=[])["ids"]
        return {i for i in ids if i != STATE_ID}

    def doc_records(self) -> dict[str, dict[str, Any]]:
        """Metadata of every indexed article, by doc id."""
        got = self.docs.get(include=["metadatas"])
        return {i: m for i, m in zip(got["ids"], got["metadatas"], strict=True) if i != STATE_ID}

    def list_sources(self) -> list[SourceInfo]:
        """Every indexed article, sorted by title as people count ("Report 2" before
        "Report 10")."""
        infos = [_source_info(doc_id, meta) for doc_id, meta in self.doc_records().items()]
        return sorted(infos, key=lambda s: (natural_key(s.title), s.doc_id))

    def get_document(self, doc_id: str) -> Document | None:
        """An indexed article with its full text, or None."""
        got = self.docs.get(ids=[doc_id], include=["metadatas", "documents"])
        if not got["ids"]:
            return None
        meta, text = got["metadatas"][0], got["documents"][0]
        return Document(
            doc_id=doc_id,
            title=meta["title"],
            text=text,
            source=meta["source"],
            date=meta.get("date", ""),
            url=meta.get("url", ""),
            paragraphs=[Span(a, b) for a, b in json.loads(meta["paragraphs"])],
            body_start=int(meta.get("body_start", 0)),
            outlet=meta.get("outlet", ""),
        )

    def chunk_count(self) -> int:
        return self.chunks.count()

    def sentence_vectors_for(self, chunks: dict[str, tuple[str, dict]]) -> dict[str, np.ndarray]:
        """In-context vectors of the quotable sentences of chunks given as chunk id ->
        (text, metadata): from the sidecar, else (server mode) the server's sentence
        collection, else encoded now (an index built before sentence vectors were kept)."""
        counts = {cid: len(json.loads(meta["sentences"])) for cid, (_, meta) in chunks.items()}
        found = self.sentences.get(chunks, counts)
        missing = {cid: item for cid, item in chunks.items() if cid not in found}
        if missing and hasattr(self.embedder, "encode_passages"):
            found.update(encode_sentences(self.embedder, missing))
            self.sentence_sources["encoded"] += len(missing)
        return found

    def all_chunks(self, doc_ids: set[str] | None = None) -> list[StoredChunk]:
        """Every chunk's text and metadata (for building the lexical index), or only the
        chunks of ``doc_ids``."""
        out: list[StoredChunk] = []
        total, page = self.chunks.count(), 5000
        for offset in range(0, total, page):
            got = self.chunks.get(include=["documents", "metadatas"], limit=page, offset=offset)
            out += [
                StoredChunk(i, t, m)
                for i, t, m in zip(got["ids"], got["documents"], got["metadatas"], strict=True)
                if doc_ids is None or m.get("doc_id") in doc_ids
            ]
        return out

    def chunk_counts(self) -> dict[str, int]:
        """Number of stored chunks per doc id (orphans included)."""
        return _count_by_doc(self.chunks)

    def get_chunks(self, chunk_ids: list[str], vector=None) -> list[StoredChunk]:
        """Chunks by id (those that exist, in the order asked); with a query ``vector``,
        each one's ``score`` is its cosine similarity with it."""
        include = ["documents", "metadatas"] + (["embeddings"] if vector is not None else [])
        got = self.chunks.get(ids=chunk_ids, include=include)
        scores = (
            np.asarray(got["embeddings"], dtype=np.float32) @ np.asarray(vector, np.float32)
            if vector is not None and len(got["ids"])
            else np.zeros(len(got["ids"]))
        )
        by_id = {
            i: StoredChunk(i, t, m, float(score))
            for i, t, m, score in zip(
                got["ids"], got["documents"], got["metadatas"], scores, strict=True
            )
        }
        return [by_id[c] for c in chunk_ids if c in by_id]

    def chunks_of(self, doc_ids: list[str]) -> list[StoredChunk]:
        """Every chunk of the given articles."""
        if not doc_ids:
            return []
        got = self.chunks.get(
            where={"doc_id": {"$in": list(doc_ids)}}, include=["documents", "metadatas"]
        )
        return [
            StoredChunk(i, t, m)
            for i, t, m in zip(got["ids"], got["documents"], got["metadatas"], strict=True)
        ]

    def dense_search(
        self, vector: list[float], n: int, total: int | None = None, where: dict | None = None
    ):
        """Nearest chunks by cosine similarity (1 - distance). ``total``, the number of
        chunks if the caller knows it, spares a count on every query; ``where`` is a Chroma
        metadata filter (a date range)."""
        total = self.chunks.count() if total is None else total
        if total == 0:
            return []
        hits = self.vectors.similarity_search_by_vector_with_relevance_scores(
            vector, k=min(n, total), filter=where
        )
        return [
            StoredChunk(d.id, d.page_content, d.metadata, 1.0 - float(dist)) for d, dist in hits
        ]


def natural_key(title: str) -> list[str | int]:
    """A sort key that orders the numbers in a title by value, not digit by digit."""
    parts = re.split(r"(\d+)", title.casefold())
    return [int(p) if i % 2 else p for i, p in enumerate(parts)]


def _is_uuid(text: str) -> bool:
    try:
        return str(uuid.UUID(text)) == text
    except ValueError:
        return False


def _count_by_doc(collection) -> dict[str, int]:
    counts: dict[str, int] = {}
    for meta in collection.get(include=["metadatas"])["metadatas"]:
        doc_id = (meta or {}).get("doc_id", "")
        counts[doc_id] = counts.get(doc_id, 0) + 1
    return counts


def chunk_metadata(doc: Document, chunk: Chunk) -> dict[str, Any]:
    """What a chunk's Chroma record holds besides its text and vector."""
    return {
        "doc_id": doc.doc_id,
        "index": chunk.index,
        "start": chunk.start,
        "end": chunk.end,
        "paragraph": chunk.paragraph,
        "title": doc.title,
        "source": doc.url or doc.source,
        "date": doc.date,
        "date_num": date_number(doc.date),
        "url": doc.url,
        "outlet": doc.outlet,
        "sentences": json.dumps(chunk.sentences),
    }


def _doc_metadata(doc: Document, n_chunks: int, sources: list[str]) -> dict[str, Any]:
    return {
        "kind": "doc",
        "title": doc.title,
        "source": doc.url or doc.source,
        "sources": json.dumps(sources),
        "date": doc.date,
        "date_num": date_number(doc.date),
        "url": doc.url,
        "outlet": doc.outlet,
        "chunks": n_chunks,
        "indexed_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "body_start": doc.body_start,
        "paragraphs": json.dumps([[p.start, p.end] for p in doc.paragraphs]),
    }


def _source_info(doc_id: str, meta: dict[str, Any]) -> SourceInfo:
    return SourceInfo(
        doc_id=doc_id,
        title=meta["title"],
        source=meta["source"],
        chunks=int(meta["chunks"]),
        indexed_at=meta["indexed_at"],
        date=meta.get("date", ""),
        sources=json.loads(meta.get("sources", "[]")),
        outlet=meta.get("outlet", ""),
    )
