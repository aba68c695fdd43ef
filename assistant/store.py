"""The vector store: chunks and article records in Chroma (embedded or server).

Two collections: ``<name>`` holds chunk vectors (cosine space, tagged with the embedding
model), ``<name>-docs`` holds one record per article (full text and metadata) plus a
``__state__`` record whose revision number changes on every write. An article counts as
indexed only once its record exists; its chunks are written first, so a reader that
filters by committed ids never sees half an article.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import chromadb
from chromadb.config import Settings as ChromaSettings
from langchain_chroma import Chroma

from .config import Settings
from .schema import Chunk, Document, SourceInfo, Span

STATE_ID = "__state__"


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

    def __init__(self, settings: Settings, embedder, client: chromadb.ClientAPI | None = None):
        self.settings = settings
        self.embedder = embedder
        self.client = client or make_client(settings)
        self.vectors = Chroma(
            client=self.client,
            collection_name=settings.collection,
            embedding_function=embedder,
            collection_metadata={
                "hnsw:space": "cosine",
                "embedding_model": embedder.model_name,
                "dimension": embedder.dimension,
            },
        )
        self.chunks = self.vectors._collection
        self.docs = self.client.get_or_create_collection(
            f"{settings.collection}-docs", embedding_function=None
        )
        self._check_model()

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
        # A fresh random token rather than a counter: two writers on different machines
        # (server mode) could both write n + 1, and a reader would miss one change.
        self.docs.upsert(
            ids=[STATE_ID],
            embeddings=[[1.0]],
            documents=[""],
            metadatas=[{"revision": secrets.randbits(62) + 1, "kind": "state"}],
        )

    # --- writing --------------------------------------------------------------------
    def add_document(
        self,
        doc: Document,
        chunks: list[Chunk],
        vectors: list[list[float]],
        sources: list[str] | None = None,
    ) -> None:
        """Write chunks, then the article record that makes them visible."""
        self.add_documents([NewDocument(doc, chunks, vectors, sources or [doc.source])])

    def add_documents(self, new: list[NewDocument], replaces: list[str] = ()) -> None:
        """Write many articles at once: all chunks, then all records (which make them
        visible), then drop the ``replaces`` articles; one revision change in all.

        Few large writes instead of several per article keep indexing close to the
        encoder's speed (each Chroma write has a fixed cost)."""
        chunks = [(n.doc, c) for n in new for c in n.chunks]
        vectors = [v for n in new for v in n.vectors]
        batch = max(1, self.client.get_max_batch_size())
        for i in range(0, len(chunks), batch):
            part = chunks[i : i + batch]
            self.chunks.upsert(
                ids=[c.chunk_id for _, c in part],
                embeddings=vectors[i : i + batch],
                documents=[c.text for _, c in part],
                metadatas=[_chunk_metadata(d, c) for d, c in part],
            )
        for i in range(0, len(new), batch):
            part = new[i : i + batch]
            self.docs.upsert(
                ids=[n.doc.doc_id for n in part],
                embeddings=[[1.0]] * len(part),
                documents=[n.doc.text for n in part],
                metadatas=[_doc_metadata(n.doc, len(n.chunks), n.sources) for n in part],
            )
        self._delete_documents(list(replaces))
        self._bump_revision()

    def remove_document(self, doc_id: str) -> bool:
        """Remove the record first (readers stop seeing it), then its chunks."""
        return bool(self.remove_documents([doc_id]))

    def remove_documents(self, doc_ids: list[str]) -> list[str]:
        """Remove several articles with one revision change; returns those that existed."""
        existed = self.docs.get(ids=list(doc_ids), include=[])["ids"]
        self._delete_documents(list(doc_ids))
        self._bump_revision()
        return existed

    def _delete_documents(self, doc_ids: list[str]) -> None:
        if doc_ids:
            self.docs.delete(ids=doc_ids)
            self.chunks.delete(where={"doc_id": {"$in": doc_ids}})

    def add_source(self, doc_id: str, source: str) -> None:
        """Record another path or URL under which an indexed article was found."""
        record = self.docs.get(ids=[doc_id], include=["metadatas"])
        meta = dict(record["metadatas"][0])
        sources = json.loads(meta.get("sources", "[]"))
        if source not in sources:
            meta["sources"] = json.dumps([*sources, source])
            self.docs.update(ids=[doc_id], metadatas=[meta])

    def remove_orphan_chunks(self, records: dict[str, dict[str, Any]] | None = None) -> int:
        """Delete chunks whose article record is missing (left by an interrupted run).

        The records' chunk counts adding up to the collection's size means there are
        none, which spares a scan of every chunk's metadata on each run."""
        records = self.doc_records() if records is None else records
        if sum(int(m.get("chunks", 0)) for m in records.values()) == self.chunks.count():
            return 0
        orphans = []
        total, page = self.chunks.count(), 5000
        for offset in range(0, total, page):
            got = self.chunks.get(include=["metadatas"], limit=page, offset=offset)
            orphans += [
                cid
                for cid, meta in zip(got["ids"], got["metadatas"], strict=True)
                if meta.get("doc_id") not in records
            ]
        for i in range(0, len(orphans), page):
            self.chunks.delete(ids=orphans[i : i + page])
        return len(orphans)

    # --- reading --------------------------------------------------------------------
    def committed_ids(self) -> set[str]:
        ids = self.docs.get(include=[])["ids"]
        return {i for i in ids if i != STATE_ID}

    def doc_records(self) -> dict[str, dict[str, Any]]:
        """Metadata of every indexed article, by doc id."""
        got = self.docs.get(include=["metadatas"])
        return {i: m for i, m in zip(got["ids"], got["metadatas"], strict=True) if i != STATE_ID}

    def list_sources(self) -> list[SourceInfo]:
        """Every indexed article, sorted by title."""
        infos = [_source_info(doc_id, meta) for doc_id, meta in self.doc_records().items()]
        return sorted(infos, key=lambda s: (s.title.lower(), s.doc_id))

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
        )

    def chunk_count(self) -> int:
        return self.chunks.count()

    def all_chunks(self) -> list[StoredChunk]:
        """Every chunk's text and metadata (for building the lexical index)."""
        out: list[StoredChunk] = []
        total, page = self.chunks.count(), 5000
        for offset in range(0, total, page):
            got = self.chunks.get(include=["documents", "metadatas"], limit=page, offset=offset)
            out += [
                StoredChunk(i, t, m)
                for i, t, m in zip(got["ids"], got["documents"], got["metadatas"], strict=True)
            ]
        return out

    def get_chunks(self, chunk_ids: list[str]) -> list[StoredChunk]:
        got = self.chunks.get(ids=chunk_ids, include=["documents", "metadatas"])
        by_id = {
            i: StoredChunk(i, t, m)
            for i, t, m in zip(got["ids"], got["documents"], got["metadatas"], strict=True)
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

    def dense_search(self, vector: list[float], n: int, total: int | None = None):
        """Nearest chunks by cosine similarity (1 - distance). ``total``, the number of
        chunks when the caller knows it, spares a count on every query."""
        total = self.chunks.count() if total is None else total
        if total == 0:
            return []
        hits = self.vectors.similarity_search_by_vector_with_relevance_scores(
            vector, k=min(n, total)
        )
        return [
            StoredChunk(d.id, d.page_content, d.metadata, 1.0 - float(dist)) for d, dist in hits
        ]


def _chunk_metadata(doc: Document, chunk: Chunk) -> dict[str, Any]:
    return {
        "doc_id": doc.doc_id,
        "index": chunk.index,
        "start": chunk.start,
        "end": chunk.end,
        "paragraph": chunk.paragraph,
        "title": doc.title,
        "source": doc.url or doc.source,
        "date": doc.date,
        "url": doc.url,
        "sentences": json.dumps(chunk.sentences),
    }


def _doc_metadata(doc: Document, n_chunks: int, sources: list[str]) -> dict[str, Any]:
    return {
        "kind": "doc",
        "title": doc.title,
        "source": doc.url or doc.source,
        "sources": json.dumps(sources),
        "date": doc.date,
        "url": doc.url,
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
    )
