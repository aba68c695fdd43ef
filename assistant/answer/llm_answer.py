"""The LLM answerer: prompt -> chat model -> verified citations, or the extractive answer.

The model streams its text (shown as it comes); the final ``Answer`` is the verifier's
reading of that text. When the model fails, runs past the time limit, writes nothing, or
writes nothing the cited passages support, the extractive answer is returned with a note.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Iterator, Sequence

from langchain_core.documents import Document as LCDocument

from assistant.answer.backends import Backend, make_backend
from assistant.answer.extractive import ExtractiveAnswerer
from assistant.answer.prompts import (
    FittedPassages,
    fit_passages,
    history_block,
    load_prompt,
    prompt_overhead,
)
from assistant.answer.verify import CitationVerifier, parse_answer
from assistant.config import Settings
from assistant.schema import Answer
from assistant.terms import content_terms

log = logging.getLogger(__name__)
REWRITE_MAX_TOKENS = 64
NOT_ASKED = "No retrieved passage answers the question, so the model was not asked."


class ModelTimeout(TimeoutError):
    """The model did not finish within the answer time limit."""


class LLMAnswerer:
    """Answers with a chat model and shows only what the verifier could check."""

    def __init__(self, backend: Backend, embedder, settings: Settings, library=None):
        self.backend = backend
        self.name = backend.name
        self.timeout_s = settings.llm_timeout_s
        self.budget_tokens = settings.llm_context_tokens - settings.llm_max_tokens
        self.max_question_chars = settings.max_question_chars
        self.fallback = ExtractiveAnswerer.from_settings(settings, embedder, library)
        self.verifier = CitationVerifier(
            embedder,
            settings.llm_min_support,
            drop_unsupported=settings.llm_unsupported == "drop",
            cite_unmarked=settings.llm_cite_unmarked,
        )
        self.answer_prompt = load_prompt("answer", settings.prompts_dir)
        self.rewrite_prompt = load_prompt("rewrite", settings.prompts_dir)

    def answer(self, question: str, passages: list[LCDocument]) -> Answer:
        """The verified answer (the last event of ``stream``)."""
        final = None
        for event in self.stream(question, passages):
            if isinstance(event, Answer):
                final = event
        return final

    def stream(self, question: str, passages: list[LCDocument]) -> Iterator[str | Answer]:
        """The model's text as it is written (str deltas), then the verified ``Answer``."""
        extractive = self.fallback.answer(question, passages)
        if extractive.abstained:
            yield extractive.model_copy(update={"note": NOT_ASKED})
            return
        fitted = self.fit(question, passages)
        if not fitted.passages:
            reason = f"no passage fits in the {self.name} model's context beside the question"
            yield _fall_back(extractive, reason)
            return
        text = []
        try:
            for delta in self.generate(question, fitted.text):
                text.append(delta)
                yield delta
        except ModelTimeout:
            reason = f"the {self.name} model did not answer within {self.timeout_s:g} s"
            yield _fall_back(extractive, reason)
            return
        except Exception as exc:  # any backend error: the reader still gets an answer
            log.warning("%s model failed: %s", self.name, exc, exc_info=True)
            reason = f"the {self.name} model failed ({type(exc).__name__}: {exc})"
            yield _fall_back(extractive, reason)
            return
        yield self._verified(question, "".join(text), fitted.passages, extractive)

    def _verified(
        self, question: str, text: str, given: list[LCDocument], extractive: Answer
    ) -> Answer:
        if not text.strip():
            return _fall_back(extractive, f"the {self.name} model returned no text")
        checks = self.verifier.check(parse_answer(text), given)
        if not any(c.supported for c in checks):
            return _fall_back(
                extractive,
                f"none of the {len(checks)} sentences of the {self.name} model's answer is "
                "supported by the passages it cites",
            )
        return self.verifier.compose(question, checks, self.name)

    def generate(self, question: str, passages_text: str) -> Iterator[str]:
        """Raw text deltas from the model for the answer prompt, within the time limit."""
        values = {"question": question, "passages": passages_text}
        return self._timed(self.answer_prompt | self.backend.model, values)

    def rewrite_question(self, question: str, history: Sequence[str]) -> str | None:
        """A standalone version of a follow-up question, or None when the model's rewrite
        is missing, too long, or drops words of the follow-up itself."""
        if not any(h and h.strip() for h in history):
            return None
        chain = self.rewrite_prompt | self.backend.model.bind(max_tokens=REWRITE_MAX_TOKENS)
        values = {"question": question, "history": history_block(history)}
        try:
            text = "".join(self._timed(chain, values))
        except Exception as exc:
            log.warning("%s question rewrite failed: %s", self.name, exc)
            return None
        return _accept_rewrite(question, text, self.max_question_chars)

    def _timed(self, chain, values: dict) -> Iterator[str]:
        """Stream ``chain`` in a worker thread so a stalled model cannot block past the
        deadline; the worker stops at its next token once the reader has gone."""
        events: queue.Queue = queue.Queue()
        stop = threading.Event()
        worker = threading.Thread(
            target=_produce, args=(chain, values, self.backend.lock, events, stop), daemon=True
        )
        worker.start()
        deadline = time.monotonic() + self.timeout_s
        try:
            while True:
                try:
                    kind, value = events.get(timeout=max(0.0, deadline - time.monotonic()))
                except queue.Empty:
                    raise ModelTimeout from None
                if kind == "delta":
                    yield value
                elif kind == "error":
                    raise value
                else:
                    return
        finally:
            stop.set()

    def fit(self, question: str, passages: list[LCDocument]) -> FittedPassages:
        """The passages, best first, that fit the model's context beside the prompt and
        the reply (``llm_context_tokens`` minus ``llm_max_tokens``)."""
        count = self.backend.count_tokens
        overhead = prompt_overhead(self.answer_prompt, count, question=question)
        return fit_passages(passages, self.budget_tokens - overhead, count)


def _produce(chain, values: dict, lock, events: queue.Queue, stop: threading.Event) -> None:
    try:
        with lock:
            stream = chain.stream(values)
            try:
                for chunk in stream:
                    if stop.is_set():
                        break
                    if isinstance(chunk.content, str) and chunk.content:
                        events.put(("delta", chunk.content))
            finally:
                stream.close()
    except Exception as exc:
        events.put(("error", exc))
    else:
        events.put(("done", None))


def _fall_back(extractive: Answer, reason: str) -> Answer:
    """The extractive answer, with a note saying why the model's answer is not shown."""
    note = f"Showing the extractive answer: {reason}."
    return extractive.model_copy(update={"note": note})


def _accept_rewrite(question: str, text: str, max_chars: int) -> str | None:
    lines = [line.strip().strip("\"'“”").strip() for line in text.splitlines() if line.strip()]
    if not lines:
        return None
    rewrite = lines[0].removeprefix("Rewritten question:").strip()
    # The rewrite may add names from the history but must keep what the follow-up asks.
    if not rewrite or len(rewrite) > max_chars:
        return None
    if not content_terms(question) <= content_terms(rewrite):
        return None
    return rewrite


def make_llm_answerer(settings: Settings, embedder, library=None) -> LLMAnswerer:
    """The verified LLM answerer named by ``settings.answerer`` (``library`` is for
    its extractive fallback; see ``service.make_answerer``)."""
    return LLMAnswerer(make_backend(settings), embedder, settings, library)
