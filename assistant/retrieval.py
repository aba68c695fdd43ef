"""Hybrid retrieval: dense (Chroma) + BM25 (bm25s), fused with reciprocal rank fusion.

The BM25 index is built when articles are indexed and saved beside the vectors, tagged
with the store's revision. A retriever reloads it whenever the revision changes (another
process indexed something), and rebuilds it from the store if no saved copy matches,
so every process sees the same articles.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document as LCDocument
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict, PrivateAttr

from .config import Settings
from .locks import lexical_save_lock
from .store import ArticleStore, StoredChunk

_WORD = re.compile(r"\w+")
_SNAPSHOT_TRIES = 3
_WRITER_SAVE_WAIT_S = 60.0


def bm25_tokens(texts: list[str]) -> list[list[str]]:
    """Lower-cased, stemmed words without English stop words (stateless)."""
    import bm25s
    import Stemmer

    return bm25s.tokenize(
        texts,
        stopwords="en",
        stemmer=Stemmer.Stemmer("english"),
        return_ids=False,
        show_progress=False,
    )


def lexical_dir(settings: Settings) -> Path:
    """Where the BM25 index lives: beside the vectors, or a local cache in server mode."""
    if not settings.chroma_url:
        return Path(settings.index_dir) / "lexical"
    key = hashlib.sha256(f"{settings.chroma_url}|{settings.collection}".encode()).hexdigest()[:12]
    return Path(settings.index_dir) / "lexical-cache" / key


class LexicalIndex:
    """BM25 over chunk texts (title included), with stemming and stop words."""

    def __init__(self, bm25, chunk_ids: list[str], revision: int):
        self.bm25 = bm25
        self.chunk_ids = chunk_ids
        self.revision = revision

    @classmethod
    def build(cls, chunks: list[StoredChunk], revision: int) -> LexicalIndex:
        """Index the given chunks (an empty list gives an index that finds nothing)."""
        import bm25s

        bm25 = None
        if chunks:
            texts = [f"{c.metadata.get('title', '')}\n{c.text}" for c in chunks]
            tokens = bm25_tokens(texts)
            bm25 = bm25s.BM25()
            bm25.index(tokens, show_progress=False)
        return cls(bm25, [c.chunk_id for c in chunks], revision)

    def search(self, query: str, n: int) -> list[tuple[str, float]]:
        """Best ``n`` chunk ids with a positive BM25 score."""
        if self.bm25 is None:
            return []
        tokens = bm25_tokens([query])[0]
        known = [t for t in tokens if t in self.bm25.vocab_dict]
        if not known:
            return []
        docs, scores = self.bm25.retrieve(
            [known], k=min(n, len(self.chunk_ids)), show_progress=False, n_threads=1
        )
        return [
            (self.chunk_ids[int(d)], float(s))
            for d, s in zip(docs[0], scores[0], strict=True)
            if s > 0
        ]

    def save(self, folder: Path) -> None:
        """Write atomically: a reader sees the old copy or the new one, never half."""
        folder.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=folder.parent, prefix=".lexical-"))
        if self.bm25 is not None:
            self.bm25.save(str(tmp / "bm25"))
        (tmp / "meta.json").write_text(
            json.dumps({"revision": self.revision, "chunk_ids": self.chunk_ids})
        )
        old = folder.with_name(folder.name + ".old")
        shutil.rmtree(old, ignore_errors=True)
        if folder.exists():
            folder.rename(old)
        tmp.rename(folder)
        shutil.rmtree(old, ignore_errors=True)

    @classmethod
    def load(cls, folder: Path, revision: int) -> LexicalIndex | None:
        """The saved index if it matches ``revision``, else None."""
        import bm25s

        try:
            meta = json.loads((folder / "meta.json").read_text())
            if meta["revision"] != revision:
                return None
            bm25 = bm25s.BM25.load(str(folder / "bm25")) if meta["chunk_ids"] else None
        except (OSError, ValueError, KeyError):
            return None
        return cls(bm25, meta["chunk_ids"], revision)


def consistent_view(
    store: ArticleStore, settings: Settings, save: bool = True
) -> tuple[int, set[str], LexicalIndex]:
    """Revision, committed doc ids and a BM25 index of exactly their chunks, read as one
    snapshot: retried (a few times) while a writer moves the revision under us."""
    folder = lexical_dir(settings)
    for _ in range(_SNAPSHOT_TRIES):
        revision = store.revision()
        committed = store.committed_ids()
        lexical = LexicalIndex.load(folder, revision)
        built = lexical is None
        if built:
            lexical = LexicalIndex.build(store.all_chunks(committed), revision)
        if store.revision() == revision:
            break
    if built and save:
        save_lexical(store, lexical, wait_s=0)
    return revision, committed, lexical


def save_lexical(store: ArticleStore, lexical: LexicalIndex, wait_s: float) -> None:
    """Save ``lexical`` if it still matches the store; one saver at a time."""
    folder = lexical_dir(store.settings)
    with lexical_save_lock(Path(store.settings.index_dir), wait_s) as locked:
        if locked and store.revision() == lexical.revision:
            for leftover in folder.parent.glob(".lexical-*"):  # from a killed save
                shutil.rmtree(leftover, ignore_errors=True)
            lexical.save(folder)


def save_current_lexical(store: ArticleStore, force: bool = False) -> None:
    """Build and save the BM25 index of the current revision unless a saved one matches."""
    revision = store.revision()
    if force or LexicalIndex.load(lexical_dir(store.settings), revision) is None:
        lexical = LexicalIndex.build(store.all_chunks(store.committed_ids()), revision)
        save_lexical(store, lexical, wait_s=_WRITER_SAVE_WAIT_S)


@dataclass
class _View:
    """What a retriever knows of the store at one revision."""

    revision: int = -1
    lexical: LexicalIndex | None = None
    committed: set[str] = field(default_factory=set)


def rrf_fuse(rankings: list[tuple[list[str], float]], rrf_k: int) -> dict[str, float]:
    """Reciprocal rank fusion of several ranked id lists, each with a weight."""
    fused: dict[str, float] = {}
    for ids, weight in rankings:
        for rank, chunk_id in enumerate(ids, start=1):
            fused[chunk_id] = fused.get(chunk_id, 0.0) + weight / (rrf_k + rank)
    return fused


def near_duplicate(a: str, b: str, threshold: float = 0.85) -> bool:
    """Word-set Jaccard similarity at or above ``threshold``."""
    wa, wb = set(_WORD.findall(a.lower())), set(_WORD.findall(b.lower()))
    if not wa or not wb:
        return a.strip() == b.strip()
    return len(wa & wb) / len(wa | wb) >= threshold


class HybridRetriever(BaseRetriever):
    """Dense + BM25 retrieval fused with RRF; near-duplicate passages removed."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    store: Any
    settings: Any
    k: int = 5
    _view: _View = PrivateAttr(default_factory=_View)
    _lock: Any = PrivateAttr(default_factory=threading.Lock)

    def _current_view(self) -> _View:
        """What the store holds now; re-read when the revision moves (a write, perhaps by
        another process, whose vectors this process's Chroma client has not loaded)."""
        revision = self.store.revision()
        with self._lock:
            if revision != self._view.revision:
                self.store.refresh_if_stale()
                rev, committed, lexical = consistent_view(
                    self.store, self.settings, save=not self.settings.chroma_url
                )
                self._view = _View(rev, lexical, committed)
            return self._view

    def search(self, query: str, k: int | None = None) -> tuple[list[LCDocument], dict[str, float]]:
        """Top ``k`` passages as LangChain documents, with per-stage timings in ms."""
        k = k or self.k
        t0 = time.perf_counter()
        view = self._current_view()
        vector = self.store.embedder.embed_query(query)
        t1 = time.perf_counter()
        n = self.settings.candidates
        dense = [
            c for c in self.store.dense_search(vector, n) if c.metadata["doc_id"] in view.committed
        ]
        lexical = view.lexical.search(query, n) if view.lexical else []
        t2 = time.perf_counter()
        docs = self._fuse(query, dense, lexical, view, k)
        t3 = time.perf_counter()
        timings = {
            "embed_query": (t1 - t0) * 1e3,
            "search": (t2 - t1) * 1e3,
            "fuse": (t3 - t2) * 1e3,
        }
        return docs, timings

    def _fuse(
        self,
        query: str,
        dense: list[StoredChunk],
        lexical: list[tuple[str, float]],
        view: _View,
        k: int,
    ) -> list[LCDocument]:
        fused = rrf_fuse(
            [
                ([c.chunk_id for c in dense], self.settings.dense_weight),
                ([cid for cid, _ in lexical], self.settings.lexical_weight),
            ],
            self.settings.rrf_k,
        )
        known = {c.chunk_id: c for c in dense}
        missing = [cid for cid in fused if cid not in known]
        for chunk in self.store.get_chunks(missing) if missing else []:
            known[chunk.chunk_id] = chunk
        dense_score = {c.chunk_id: c.score for c in dense}
        lexical_score = dict(lexical)
        picked: list[LCDocument] = []
        for cid in sorted(fused, key=fused.get, reverse=True):
            chunk = known.get(cid)
            if chunk is None or chunk.metadata["doc_id"] not in view.committed:
                continue
            if any(near_duplicate(chunk.text, d.page_content) for d in picked):
                continue
            meta = {
                **chunk.metadata,
                "chunk_id": cid,
                "score": fused[cid],
                "dense_score": dense_score.get(cid),
                "lexical_score": lexical_score.get(cid),
            }
            picked.append(LCDocument(page_content=chunk.text, metadata=meta, id=cid))
            if len(picked) >= k:
                break
        return picked

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun
    ) -> list[LCDocument]:
        return self.search(query)[0]
