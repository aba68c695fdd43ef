"""The assistant as one object: index, ask, list and remove, shared by the CLI and the UI.

Retriever and answerer are composed as a LangChain Runnable, so any answerer with the
same ``answer(question, passages)`` method can take the extractive one's place.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Iterator, Sequence
from datetime import date
from pathlib import Path
from typing import Any

from langchain_core.runnables import Runnable, RunnableLambda

from assistant.answer.conversation import condense_question, is_follow_up, suggest_questions
from assistant.answer.extractive import ExtractiveAnswerer
from assistant.answer.retrieval import HybridRetriever
from assistant.config import Settings
from assistant.dates import parse_user_date, range_filter
from assistant.library.uploads import UploadError, pasted_article, store_file, write_upload
from assistant.locks import writer_lock
from assistant.schema import Answer, FileError, IndexReport, SourceInfo
from assistant.store.articles import ArticleStore
from assistant.store.embeddings import get_embedder
from assistant.store.indexer import (
    Progress,
    file_of,
    index_loaded,
    index_paths,
    rebuild_lexical_if_changed,
)


class QuestionError(ValueError):
    """The question is empty or too long."""


def date_range(since: str = "", until: str = "") -> tuple[int | None, int | None]:
    """``--since``/``--until`` as ``date_num`` bounds; ``DateError`` when unreadable."""
    low, high = parse_user_date(since, "--since"), parse_user_date(until, "--until")
    range_filter(low, high)  # refuses since > until
    return low, high


def make_answerer(settings: Settings, embedder, library=None) -> Any:
    """The answerer named by ``settings.answerer``; unknown names are an error.
    ``library`` (the ``ArticleStore``) lets the extractive answerer read the sentence
    vectors stored at index time and look a name up in a passage's whole article (small
    passages often say "the Russian president", not "Putin")."""
    if settings.answerer == "extractive":
        return ExtractiveAnswerer.from_settings(settings, embedder, library)
    from assistant.answer.llm_answer import make_llm_answerer

    return make_llm_answerer(settings, embedder, library)


# no "add some" here: a read-only library's visitors cannot, and the UI and CLI say how
NO_ARTICLES = "No articles are indexed yet, so there is nothing to answer from."


def empty_library_answer(question: str, answerer) -> Answer:
    """The reply to any question while the library is empty: not "the articles don't
    say", which would blame articles that are not there."""
    name = getattr(answerer, "name", "extractive")
    return Answer(
        question=question,
        answer=NO_ARTICLES,
        abstained=True,
        declined_because="empty_library",
        answerer=name,
    )


def _library_is_empty(passages: list, store: ArticleStore) -> bool:
    return not passages and store.chunk_count() == 0


def build_chain(retriever: HybridRetriever, answerer) -> Runnable:
    """question -> passages -> Answer, with per-stage timings in milliseconds."""

    def retrieve(inputs: dict) -> dict:
        start = time.perf_counter()
        passages, _ = retriever.search(
            inputs["question"],
            inputs.get("k"),
            inputs.get("as_of"),
            since=inputs.get("since"),
            until=inputs.get("until"),
        )
        return {**inputs, "passages": passages, "retrieve_ms": (time.perf_counter() - start) * 1e3}

    def respond(inputs: dict) -> Answer:
        start = time.perf_counter()
        if _library_is_empty(inputs["passages"], retriever.store):
            answer = empty_library_answer(inputs["question"], answerer)
        else:
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

    def __init__(self, settings: Settings, embedder=None, client=None, answerer=None):
        """``answerer`` replaces the one ``settings.answerer`` names (any object with
        ``answer(question, passages)``; ``stream`` and ``rewrite_question`` optional)."""
        self.settings = settings
        self.embedder = embedder or get_embedder(settings)
        self.store = ArticleStore(settings, self.embedder, client)
        self.retriever = HybridRetriever(store=self.store, settings=settings, k=settings.k)
        self.answerer = answerer or make_answerer(settings, self.embedder, self.store)
        self.chain = build_chain(self.retriever, self.answerer)
        self._answerers: dict[str, Any] = {settings.answerer: self.answerer}
        self._answerers_lock = threading.Lock()
        self._write_lock = threading.Lock()  # writes from one process queue up, not fail
        self._examples: tuple[int, list[str]] = (-1, [])

    def answerer_names(self) -> list[str]:
        """Answerer backends this installation knows: extractive plus the LLM backends."""
        from assistant.answer.backends import LLM_BACKENDS

        return list(dict.fromkeys(["extractive", self.settings.answerer, *LLM_BACKENDS]))

    def answerer_for(self, name: str | None):
        """The answerer called ``name`` (built once, then reused); errors if unavailable."""
        name = name or self.settings.answerer
        with self._answerers_lock:
            if name not in self._answerers:
                settings = self.settings.model_copy(update={"answerer": name})
                self._answerers[name] = make_answerer(settings, self.embedder, self.store)
            return self._answerers[name]

    def condense(self, question: str, history: Sequence[str], answerer: str | None = None) -> str:
        """A follow-up rewritten as a self-contained question, using earlier questions.

        For a follow-up, an answerer with ``rewrite_question`` (the LLM ones) rewrites it
        first; the rule-based ``condense_question`` is used when there is none, it cannot
        be loaded, or the model's rewrite is rejected.
        """
        if history and is_follow_up(question):
            try:
                rewrite = getattr(self.answerer_for(answerer), "rewrite_question", None)
            except (ValueError, RuntimeError):  # unknown or unavailable backend
                rewrite = None
            rewritten = rewrite(question, history) if rewrite else None
            if rewritten:
                return rewritten
        return condense_question(question, history)

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

    def ask(
        self,
        question: str,
        k: int | None = None,
        as_of: date | None = None,
        since: str = "",
        until: str = "",
    ) -> Answer:
        """Answer one question with citations (or abstain); ``as_of`` is the day it is
        asked (default: the newest article's date), which recency counts from;
        ``since``/``until`` (``YYYY-MM-DD``) limit it to articles published in that range."""
        question = self.check_question(question)
        since_num, until_num = date_range(since, until)
        return self.chain.invoke(
            {"question": question, "k": k, "as_of": as_of, "since": since_num, "until": until_num}
        )

    def ask_stream(
        self,
        question: str,
        k: int | None = None,
        answerer: str | None = None,
        since: str = "",
        until: str = "",
    ) -> Iterator[str | Answer]:
        """Answer text as it is composed (str deltas), then the final ``Answer``.

        Answerers with a ``stream(question, passages)`` method stream for real; others
        yield their answer sentence by sentence. ``answerer`` picks a backend by name.
        """
        question = self.check_question(question)
        since_num, until_num = date_range(since, until)
        backend = self.answerer_for(answerer)
        start = time.perf_counter()
        passages, _ = self.retriever.search(question, k, since=since_num, until=until_num)
        retrieve_ms = (time.perf_counter() - start) * 1e3
        stream = getattr(backend, "stream", None)
        if _library_is_empty(passages, self.store):
            events = _sentence_events(empty_library_answer(question, backend))
        elif stream:
            events = stream(question, passages)
        else:
            events = _sentence_events(backend.answer(question, passages))
        for event in events:
            if isinstance(event, Answer):
                event.timings_ms = {
                    "retrieve": round(retrieve_ms, 2),
                    "answer": round((time.perf_counter() - start) * 1e3 - retrieve_ms, 2),
                }
            yield event

    def index(
        self, paths: list[str], progress: Progress | None = None, sync: bool = False
    ) -> IndexReport:
        """Add new and changed articles from files, folders and URLs; with ``sync``, also
        forget articles whose files are gone from the given folders."""
        with self._write_lock:
            return index_paths(self.store, paths, progress, sync)

    def reindex(
        self, progress: Progress | None = None, skip: frozenset[str] = frozenset()
    ) -> IndexReport:
        """Read every recorded file and URL again (but those in ``skip``) and pick up
        changes."""
        sources = {file_of(s) for info in self.sources() for s in info.sources or [info.source]}
        return self.index(sorted(sources - skip), progress)

    def index_loaded(self, results: list, progress: Progress | None = None) -> IndexReport:
        """Index documents loaded elsewhere (feed entries) like files."""
        with self._write_lock:
            return index_loaded(self.store, results, progress)

    @property
    def upload_folder(self) -> Path:
        return self.settings.upload_folder

    def add_files(
        self, files: Sequence[tuple[str | Path, str]], progress: Progress | None = None
    ) -> IndexReport:
        """Check uploaded files (temp path, original name), copy them into the uploads
        folder and index them. Refused files are reported as errors and not stored."""
        stored, refused = [], []
        for path, name in files:
            try:
                stored.append(
                    str(store_file(self.upload_folder, Path(path), name, self._upload_cap))
                )
            except (UploadError, OSError) as exc:
                refused.append(FileError(path=name, error=str(exc)))
        report = self.index(stored, progress) if stored else IndexReport()
        report.errors = refused + report.errors
        return report

    def add_text(self, text: str, title: str = "", progress: Progress | None = None) -> IndexReport:
        """Save pasted article text (title first) as a file in the uploads folder and
        index it. Raises ``UploadError`` for empty or oversize text."""
        name, data = pasted_article(title, text, self._upload_cap)
        path = write_upload(self.upload_folder, name, data)
        report = self.index([str(path)], progress)
        if report.errors:
            path.unlink(missing_ok=True)  # nothing was indexed from it: keep no stray file
        return report

    @property
    def _upload_cap(self) -> int:
        return min(self.settings.max_upload_bytes, self.settings.max_file_bytes)

    def example_questions(self, n: int = 4, articles: int = 6) -> list[str]:
        """Up to ``n`` questions the newest articles answer (checked with the extractive
        answerer, so every example gets a cited answer). Cached per index revision."""
        revision = self.store.revision()
        if self._examples[0] == revision:
            return self._examples[1][:n]
        newest = sorted(self.sources(), key=lambda s: s.indexed_at, reverse=True)[:articles]
        texts = []
        for info in newest:
            doc = self.store.get_document(info.doc_id)
            if doc is not None:
                texts.append((doc.title, doc.text[doc.body_start :]))
        checked = [q for q in suggest_questions(texts, n * 2) if self._answerable(q)][:n]
        self._examples = (revision, checked)
        return checked

    def _answerable(self, question: str) -> bool:
        passages, _ = self.retriever.search(question)
        return not self.answerer_for("extractive").answer(question, passages).abstained

    def sources(self) -> list[SourceInfo]:
        return self.store.list_sources()

    def remove(self, source_or_id: str) -> list[str]:
        """Remove articles by doc id, path or URL; returns the ids of articles deleted
        (an article with other sources loses only the named one, see ``remove_matching``)."""
        return self.remove_matching(source_or_id)[0]

    def remove_matching(self, source_or_id: str) -> tuple[list[str], list[str]]:
        """Remove an article by id, or a path or URL from the articles recorded under it:
        an article found under other sources too (a syndicated copy) keeps those and
        stays. Returns (deleted ids, ids that only lost the source)."""
        with self._write_lock, writer_lock(self.settings.index_dir):
            self.store.refresh_if_stale()
            records = self.store.doc_records()
            deleted, kept = [], []
            wanted = {source_or_id, os.path.abspath(source_or_id)}
            for doc_id in self.match_sources(source_or_id):
                sources = json.loads(records[doc_id].get("sources", "[]"))
                rest = [s for s in sources if s not in wanted and file_of(s) not in wanted]
                if doc_id == source_or_id or not rest:
                    deleted.append(doc_id)
                else:
                    self.store.set_sources(doc_id, rest)
                    kept.append(doc_id)
            self.store.remove_documents(deleted)
            rebuild_lexical_if_changed(self.store)
        return deleted, kept

    def match_sources(self, source_or_id: str) -> list[str]:
        """Doc ids matching an id, a recorded path (relative paths too) or a URL."""
        records = self.store.doc_records()
        if source_or_id in records:
            return [source_or_id]
        wanted = {source_or_id, os.path.abspath(source_or_id)}
        return [
            doc_id
            for doc_id, meta in records.items()
            if meta.get("source") in wanted or wanted & set(json.loads(meta.get("sources", "[]")))
        ]
