"""Hybrid retrieval: dense (Chroma) + BM25 (``lexical``) candidates, ranked by the learned
passage model (``learn``), near duplicates removed.

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
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document as LCDocument
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict, PrivateAttr

from assistant.answer.features import PassageHit, QuestionContext, merge_hits
from assistant.answer.ranking import load_models, models_folder
from assistant.config import Settings
from assistant.dates import DocDates, range_filter
from assistant.store.articles import ArticleStore
from assistant.store.lexical import (  # noqa: F401  (re-exported: the lexical side's public names)
    LexicalIndex,
    bm25_tokens,
    consistent_lexical,
    lexical_dir,
    rebuild_lexical,
    save_lexical,
    saved_revision,
    update_lexical,
)
from assistant.terms import fold

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
    dates: DocDates = field(default_factory=lambda: DocDates({}, None))

    @property
    def newest(self) -> date | None:
        """The newest article's date: "now" for recency and a question's period."""
        return self.dates.newest


class Retrieved(list):
    """Retrieved passages as LangChain documents, best first, with what the answerer's
    models read: the question's ``context`` and each passage's ``hits`` entry (scores,
    sentence vectors, features), in the same order."""

    def __init__(self, docs=(), context: QuestionContext | None = None, hits=None):
        super().__init__(docs)
        self.context = context
        self.hits: list[PassageHit] = list(hits or [])


def near_duplicate(a: str, b: str, threshold: float = 0.85) -> bool:
    """Word-set Jaccard similarity at or above ``threshold``."""
    wa, wb = set(_WORD.findall(fold(a))), set(_WORD.findall(fold(b)))
    if not wa or not wb:
        return a.strip() == b.strip()
    return len(wa & wb) / len(wa | wb) >= threshold


def pick_passages(ranked: list[PassageHit], k: int) -> list[PassageHit]:
    """The best ``k`` hits, skipping any that nearly repeats one already picked."""
    picked: list[PassageHit] = []
    for hit in ranked:
        if not any(near_duplicate(hit.text, p.text) for p in picked):
            picked.append(hit)
        if len(picked) >= k:
            break
    return picked


class HybridRetriever(BaseRetriever):
    """Dense + BM25 candidates ranked by the learned passage model; ``k`` per call."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    store: Any
    settings: Any
    k: int = 5
    _view: _View = PrivateAttr(default_factory=_View)
    _lock: Any = PrivateAttr(default_factory=threading.Lock)

    @classmethod
    def from_index(
        cls, index_dir: str | Path, k: int = 5, embedder=None, **settings: Any
    ) -> HybridRetriever:
        """A ready retriever over the index in ``index_dir`` (or, with ``chroma_url``, on a
        Chroma server); other keyword arguments are settings (see ``config.Settings``)."""
        from assistant.config import load_settings
        from assistant.store.articles import StoreError
        from assistant.store.embeddings import get_embedder

        config = load_settings(index_dir=Path(index_dir), **settings)
        if not config.chroma_url and not Path(index_dir).is_dir():
            raise StoreError(f"no index in {index_dir}; build one with `assistant index`")
        store = ArticleStore(config, embedder or get_embedder(config))
        return cls(store=store, settings=config, k=k)

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
                dates = DocDates.from_records(self.store.doc_records())
                self._view = _View(rev, lexical, committed, dates)
            return self._view

    def search(
        self,
        query: str,
        k: int | None = None,
        as_of: date | None = None,
        since: int | None = None,
        until: int | None = None,
    ) -> tuple[Retrieved, dict[str, float]]:
        """Top ``k`` passages with per-stage timings in ms. ``as_of`` is the day the
        question is asked (default: the newest article's date), which recency counts
        from. ``since``/``until`` (``YYYYMMDD`` numbers, see ``dates``) keep only articles
        published in that range, on the dense and the BM25 side alike."""
        k = k or self.k
        t0 = time.perf_counter()
        view = self._current_view()
        vector = np.asarray(self.store.embedder.embed_query(query), dtype=np.float32)
        t1 = time.perf_counter()
        weights = view.lexical.term_weights(query)
        hits = self.hits(query, vector, view, list(weights), since, until)
        t2 = time.perf_counter()
        context = QuestionContext(query, vector, as_of or view.newest, weights)
        models = load_models(models_folder(self.settings))
        picked = pick_passages(models.rank_passages(context, hits), k)
        t3 = time.perf_counter()
        docs = Retrieved([h.document() for h in picked], context, picked)
        timings = {
            "embed_query": (t1 - t0) * 1e3,
            "search": (t2 - t1) * 1e3,
            "rank": (t3 - t2) * 1e3,
        }
        return docs, timings

    def hits(
        self,
        query: str,
        vector: np.ndarray,
        view: _View,
        terms: list[str],
        since: int | None = None,
        until: int | None = None,
    ) -> list[PassageHit]:
        """The dense and BM25 candidates of committed articles (published in the date
        range, when one is given), with sentence vectors and which of the query's BM25
        ``terms`` each holds."""
        n = self.settings.candidates
        where = range_filter(since, until)
        dense = [
            c
            for c in self.store.dense_search(vector.tolist(), n, len(view.lexical), where)
            if c.metadata["doc_id"] in view.committed
        ]
        lexical = view.lexical.search(query, n, view.dates.docs_in_range(since, until))
        records = {c.chunk_id: (c.text, c.metadata, c.score) for c in dense}
        missing = [cid for cid, _ in lexical if cid not in records]
        for chunk in self.store.get_chunks(missing, vector=vector) if missing else []:
            if chunk.metadata["doc_id"] in view.committed:
                records[chunk.chunk_id] = (chunk.text, chunk.metadata, chunk.score)
        hits = merge_hits([c.chunk_id for c in dense], lexical, records, self.settings.rrf_k)
        vectors = self.store.sentence_vectors_for({h.chunk_id: (h.text, h.metadata) for h in hits})
        held = view.lexical.terms_held(terms, [h.chunk_id for h in hits])
        for hit, query_terms in zip(hits, held, strict=True):
            hit.sentence_vectors = vectors.get(hit.chunk_id)
            hit.query_terms = query_terms
        return hits

    def _get_relevant_documents(
        self,
        query: str,
        *,
        run_manager: CallbackManagerForRetrieverRun,
        k: int | None = None,
        **kwargs: Any,
    ) -> list[LCDocument]:
        return list(self.search(query, k, **kwargs)[0])
