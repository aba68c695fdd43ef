"""Hybrid retrieval: dense (Chroma) + BM25 (``lexical``), fused with reciprocal rank fusion.

The BM25 index is kept up to date by the indexer and saved beside the vectors, tagged
with the store's revision. A retriever checks the revision on every query and, when
another process has written, reopens the store and brings its BM25 index up to date (the
saved copy, or only the articles added or removed since), so every process answers from
the same articles.
"""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document as LCDocument
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict, PrivateAttr

from .config import Settings
from .dates import DocDates, Period, prefer_period, question_period, range_filter
from .lexical import (  # noqa: F401  (re-exported: the lexical side's public names)
    LexicalIndex,
    bm25_tokens,
    consistent_lexical,
    lexical_dir,
    rebuild_lexical,
    save_lexical,
    saved_revision,
    update_lexical,
)
from .store import ArticleStore, StoredChunk
from .terms import fold

_WORD = re.compile(r"\w+")


def consistent_view(
    store: ArticleStore, settings: Settings, save: bool = True, current: LexicalIndex | None = None
) -> tuple[int, frozenset[str], LexicalIndex]:
    """Revision, committed doc ids and a BM25 index of exactly their chunks, read as one
    snapshot (see ``lexical.consistent_lexical``). With ``save``, it is saved for other
    local processes in the background (at 100k chunks a save takes a moment, and the
    question that found the store changed should not wait for it)."""
    lexical = consistent_lexical(store, current)
    if save and saved_revision(lexical_dir(settings)) != lexical.revision:
        threading.Thread(target=save_lexical, args=(store, lexical, 0), daemon=True).start()
    return lexical.revision, lexical.docs, lexical


def save_current_lexical(store: ArticleStore, force: bool = False) -> None:
    """Bring the saved BM25 index up to the store's current revision (``force``: read
    every chunk afresh)."""
    if force:
        rebuild_lexical(store)
    else:
        update_lexical(store)


@dataclass
class _View:
    """What a retriever knows of the store at one revision."""

    revision: int = -1
    lexical: LexicalIndex | None = None
    committed: frozenset[str] = field(default_factory=frozenset)


def rrf_fuse(rankings: list[tuple[list[str], float]], rrf_k: int) -> dict[str, float]:
    """Reciprocal rank fusion of several ranked id lists, each with a weight."""
    fused: dict[str, float] = {}
    for ids, weight in rankings:
        for rank, chunk_id in enumerate(ids, start=1):
            fused[chunk_id] = fused.get(chunk_id, 0.0) + weight / (rrf_k + rank)
    return fused


def near_duplicate(a: str, b: str, threshold: float = 0.85) -> bool:
    """Word-set Jaccard similarity at or above ``threshold``."""
    wa, wb = set(_WORD.findall(fold(a))), set(_WORD.findall(fold(b)))
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
    _dates: tuple[int, DocDates] = PrivateAttr(default=(-2, DocDates({}, None)))

    def _current_view(self) -> _View:
        """What the store holds now; re-read when the revision moves (a write, perhaps by
        another process, whose vectors this process's Chroma client has not loaded)."""
        revision = self.store.revision()
        with self._lock:
            if revision != self._view.revision:
                self.store.refresh_if_stale()
                rev, committed, lexical = consistent_view(
                    self.store, self.settings, current=self._view.lexical
                )
                self._view = _View(rev, lexical, committed)
            return self._view

    def search(
        self,
        query: str,
        k: int | None = None,
        since: int | None = None,
        until: int | None = None,
    ) -> tuple[list[LCDocument], dict[str, float]]:
        """Top ``k`` passages as LangChain documents, with per-stage timings in ms.
        ``since``/``until`` (``YYYYMMDD`` numbers, see ``dates``) keep only articles dated
        in that range, on the dense and the BM25 side alike."""
        k = k or self.k
        t0 = time.perf_counter()
        view = self._current_view()
        doc_dates = self._doc_dates(view)
        vector = self.store.embedder.embed_query(query)
        t1 = time.perf_counter()
        n = self.settings.candidates
        where = range_filter(since, until)
        dense = [
            c
            for c in self.store.dense_search(vector, n, total=len(view.lexical), where=where)
            if c.metadata["doc_id"] in view.committed
        ]
        lexical = view.lexical.search(query, n, doc_dates.docs_in_range(since, until))
        t2 = time.perf_counter()
        period = question_period(query, doc_dates.newest)
        docs = self._fuse(query, dense, lexical, view, k, (period, doc_dates.by_doc))
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
        preference: tuple[Period | None, dict[str, int]] = (None, {}),
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
        period, by_doc = preference
        chunk_dates = {cid: by_doc.get(c.metadata["doc_id"], 0) for cid, c in known.items()}
        fused = prefer_period(fused, chunk_dates, period, self.settings.period_weight)
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

    def _doc_dates(self, view: _View) -> DocDates:
        """Every committed article's date, read once per store revision."""
        with self._lock:
            if self._dates[0] != view.revision:
                self._dates = (view.revision, DocDates.from_records(self.store.doc_records()))
            return self._dates[1]

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun
    ) -> list[LCDocument]:
        return self.search(query)[0]
