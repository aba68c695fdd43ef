"""The assistant as one object: index, ask, list and remove, shared by the CLI and the UI.

Retriever and answerer are composed as a LangChain Runnable, so any answerer with the
same ``answer(question, passages)`` method can take the extractive one's place.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from typing import Any

from langchain_core.runnables import Runnable, RunnableLambda

from .answer import ExtractiveAnswerer
from .config import Settings
from .embeddings import get_embedder
from .indexer import Progress, index_paths, rebuild_lexical_if_changed, writer_lock
from .retrieval import HybridRetriever
from .schema import Answer, IndexReport, SourceInfo
from .store import ArticleStore


class QuestionError(ValueError):
    """The question is empty or too long."""


def make_answerer(settings: Settings, embedder) -> Any:
    """The answerer named by ``settings.answerer``; unknown names are an error."""
    if settings.answerer == "extractive":
        return ExtractiveAnswerer(embedder, settings.max_answer_sentences, settings.min_support)
    from .llm import make_llm_answerer

    return make_llm_answerer(settings, embedder)


def build_chain(retriever: HybridRetriever, answerer) -> Runnable:
    """question -> passages -> Answer, with per-stage timings in milliseconds."""

    def retrieve(inputs: dict) -> dict:
        start = time.perf_counter()
        passages, _ = retriever.search(inputs["question"], inputs.get("k"))
        return {**inputs, "passages": passages, "retrieve_ms": (time.perf_counter() - start) * 1e3}

    def respond(inputs: dict) -> Answer:
        start = time.perf_counter()
        answer = answerer.answer(inputs["question"], inputs["passages"])
        answer.timings_ms = {
            "retrieve": round(inputs["retrieve_ms"], 2),
            "answer": round((time.perf_counter() - start) * 1e3, 2),
        }
        return answer

    return RunnableLambda(retrieve) | RunnableLambda(respond)


def _sentence_events(answer: Answer) -> Iterator[str | Answer]:
    """An already composed answer replayed as text deltas, then the answer itself."""
    if answer.sentences and not answer.abstained:
        for i, sentence in enumerate(answer.sentences):
            markers = "".join(f" [{m}]" for m in sentence.markers)
            yield ("" if i == 0 else " ") + sentence.text + markers
    else:
        yield answer.answer
    yield answer


class Assistant:
    """Everything a front end needs, built from one settings object."""

    def __init__(self, settings: Settings, embedder=None, client=None):
        self.settings = settings
        self.embedder = embedder or get_embedder(settings)
        self.store = ArticleStore(settings, self.embedder, client)
        self.retriever = HybridRetriever(store=self.store, settings=settings, k=settings.k)
        self.answerer = make_answerer(settings, self.embedder)
        self.chain = build_chain(self.retriever, self.answerer)

    def check_question(self, question: str) -> str:
        """The trimmed question, or a clear error before any model is called."""
        question = (question or "").strip()
        if not question:
            raise QuestionError("the question is empty")
        if len(question) > self.settings.max_question_chars:
            raise QuestionError(
                f"the question is {len(question)} characters long; "
                f"the limit is {self.settings.max_question_chars}"
            )
        return question

    def ask(self, question: str, k: int | None = None) -> Answer:
        """Answer one question with citations (or abstain)."""
        return self.chain.invoke({"question": self.check_question(question), "k": k})

    def condense(self, question: str, history: Sequence[str]) -> str:
        """A follow-up made self-contained given the earlier questions (oldest first).

        An answerer with ``rewrite_question`` (the LLM ones) rewrites it; when it has
        none, or its rewrite is rejected, the question is used as asked.
        """
        rewrite = getattr(self.answerer, "rewrite_question", None)
        rewritten = rewrite(question, history) if rewrite and history else None
        return rewritten or question

    def ask_stream(self, question: str, k: int | None = None) -> Iterator[str | Answer]:
        """Answer text as it is composed (str deltas), then the final ``Answer``.

        Answerers with a ``stream(question, passages)`` method stream for real; others
        yield their answer sentence by sentence.
        """
        question = self.check_question(question)
        start = time.perf_counter()
        passages, _ = self.retriever.search(question, k)
        retrieve_ms = (time.perf_counter() - start) * 1e3
        stream = getattr(self.answerer, "stream", None)
        events = (
            stream(question, passages)
            if stream
            else _sentence_events(self.answerer.answer(question, passages))
        )
        for event in events:
            if isinstance(event, Answer):
                event.timings_ms = {
                    "retrieve": round(retrieve_ms, 2),
                    "answer": round((time.perf_counter() - start) * 1e3 - retrieve_ms, 2),
                }
            yield event

    def index(self, paths: list[str], progress: Progress | None = None) -> IndexReport:
        """Add new and changed articles from files and folders."""
        s = self.settings
        return index_paths(
            self.store,
            paths,
            s.max_file_bytes,
            s.max_chunk_tokens,
            s.chunk_overlap_sentences,
            progress,
        )

    def sources(self) -> list[SourceInfo]:
        return self.store.list_sources()

    def remove(self, source_or_id: str) -> list[str]:
        """Remove articles by doc id, path or URL; returns the removed ids."""
        with writer_lock(self.settings.index_dir):
            before = self.store.revision()
            ids = self.match_sources(source_or_id)
            for doc_id in ids:
                self.store.remove_document(doc_id)
            rebuild_lexical_if_changed(self.store, before)
        return ids

    def match_sources(self, source_or_id: str) -> list[str]:
        records = self.store.doc_records()
        if source_or_id in records:
            return [source_or_id]
        return [
            doc_id
            for doc_id, meta in records.items()
            if source_or_id == meta.get("source") or f'"{source_or_id}"' in meta.get("sources", "")
        ]
