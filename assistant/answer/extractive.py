"""The extractive answerer: answers only with sentences copied from retrieved passages.

The retrieved passages come ranked by the learned passage model (``retrieval``). Every
sentence of them is scored by the learned sentence model (``answer.compose``), which reads
how close it is to the question (its in-context vector, stored at index time), whether it
holds a candidate of the asked answer type (a name for "Which team ...?", a number for
"How many ...?"), whether it only restates the question, stands on its own or is an
image caption, and how its passage ranked. The best ones form the answer, each followed
by its marker, and each marker resolves to a typed citation with the sentence's exact
document offsets. A calibrated abstention model then gives the probability that the
chosen sentences answer the question; below the threshold chosen on held-out weeks (or
``min_answer_probability``), and wherever a check that held-out weeks show still helps
fails (``topicality``), it abstains instead of guessing.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from functools import cache
from typing import Protocol

import numpy as np
from langchain_core.documents import Document as LCDocument

from assistant.answer.compose import MAX_SENTENCES, Composition, compose
from assistant.answer.features import PassageHit, QuestionContext, SentenceCandidate
from assistant.answer.query import WH_WORDS
from assistant.answer.ranking import Models, load_models, models_folder
from assistant.answer.topicality import (
    ALWAYS_CHECKS,
    QUESTION_CHECK_REASONS,
    eligible_sentences,
    failed_question_checks,
)
from assistant.config import Settings
from assistant.schema import Answer, AnswerSentence, Citation, Document
from assistant.store.sentence_vectors import ChunkTexts, encode_sentences
from assistant.terms import TOKEN

_QUESTION_WORDS = frozenset(
    "what which who whom whose when where why how did does do is are was were according in on "
    "tell".split()
)
# after a wh-word these mean the question inverts ("what is ...", "where was ...")
_AUXILIARIES = frozenset(
    "is are was were will would can could should shall may might must has have had".split()
)
_DO_FORMS = frozenset({"do", "does", "did"})


def key_names(question: str) -> list[str]:
    """Names and numbers in a question: capitalised words not at its start, and digits."""
    words = TOKEN.findall(question)
    keys = [
        w
        for i, w in enumerate(words)
        if (w[0].isupper() and i > 0 and w.lower() not in _QUESTION_WORDS) or w.isdigit()
    ]
    return list(dict.fromkeys(w.strip("'’-") for w in keys))


class Library(Protocol):
    """What the answerer reads besides the passages (``ArticleStore`` is one)."""

    def get_document(self, doc_id: str) -> Document | None: ...

    def sentence_vectors_for(self, chunks: ChunkTexts) -> dict[str, np.ndarray]: ...


@dataclass
class Candidate:
    """One sentence of one retrieved passage (the LLM verifier's unit of evidence)."""

    text: str
    start: int
    end: int
    paragraph: int
    passage: LCDocument
    rank: int
    index: int = 0  # its place among the passage's sentences
    score: float = 0.0


def passage_sentences(passage: LCDocument, rank: int) -> list[Candidate]:
    """The sentences of a retrieved passage, with absolute document offsets."""
    meta = passage.metadata
    base = int(meta["start"])
    out = []
    for index, (start, end, paragraph) in enumerate(json.loads(meta["sentences"])):
        text = passage.page_content[start - base : end - base]
        out.append(Candidate(text, start, end, paragraph, passage, rank, index))
    return out


def make_citation(marker: int, cand: Candidate, score: float) -> Citation:
    """A citation whose quote is exactly ``document[start:end]``."""
    meta = cand.passage.metadata
    return Citation(
        marker=marker,
        doc_id=meta["doc_id"],
        chunk_id=meta["chunk_id"],
        title=meta.get("title", ""),
        source=meta.get("source", ""),
        passage=cand.passage.page_content,
        quote=cand.text,
        start=cand.start,
        end=cand.end,
        score=round(float(score), 4),
        paragraph=cand.paragraph,
        passage_start=int(meta["start"]),
        date=meta.get("date", ""),
        url=meta.get("url", ""),
        outlet=meta.get("outlet", ""),
    )


def sentence_citation(marker: int, cand: SentenceCandidate) -> Citation:
    """The citation of a chosen sentence, scored with its probability of answering."""
    quoted = Candidate(
        cand.text, cand.start, cand.end, cand.paragraph, cand.hit.document(), cand.passage_rank
    )
    return make_citation(marker, quoted, probability(cand.score))


def probability(score: float) -> float:
    """A sentence model score as a probability (the model is fitted with a logistic loss)."""
    return 1.0 / (1.0 + math.exp(-score))


def abstention_text(question: str) -> str:
    """'The indexed articles don't say who won ...' built from the question.

    Only a wh-question without subject-auxiliary inversion reads right as an indirect
    question ("who won the cup"); "what did Putin say" does not, so any other question is
    quoted as asked."""
    q = question.strip().rstrip("?!. ").strip()
    words = [w.lower().strip('“”"‘’,') for w in q.split()]
    inverted = len(words) > 1 and (words[1] in _AUXILIARIES or _DO_FORMS & set(words))
    if words and words[0] in WH_WORDS and not inverted:
        return f"The indexed articles don't say {q[0].lower() + q[1:]}."
    return f"The indexed articles don't answer “{question.strip()}”"


class ExtractiveAnswerer:
    """Composes an answer from the sentences the learned models rank best."""

    name = "extractive"

    def __init__(
        self,
        embedder,
        max_sentences: int = MAX_SENTENCES,
        min_probability: float | None = None,
        related: int = 3,
        library: Library | None = None,
        models: Models | None = None,
    ):
        """``library`` (the ``ArticleStore``), when given, is where the sentence vectors
        stored at index time come from and where the checks look names up in a passage's
        whole article. ``min_probability`` overrides the learned abstention threshold."""
        self.embedder = embedder
        self.max_sentences = max_sentences
        self.related = related
        self.library = library
        self.models = models or load_models()
        learned = self.models.threshold
        self.min_probability = learned if min_probability is None else min_probability

    @classmethod
    def from_settings(
        cls, settings: Settings, embedder, library: Library | None = None
    ) -> ExtractiveAnswerer:
        """The extractive answerer as the settings configure it (also the LLM answerers'
        fallback)."""
        return cls(
            embedder,
            settings.max_answer_sentences,
            settings.min_answer_probability,
            library=library,
            models=load_models(models_folder(settings)),
        )

    def answer(self, question: str, passages: list[LCDocument]) -> Answer:
        """An answer made only of passage sentences, or an abstention."""
        ctx, hits = self.ranked_hits(question, passages)
        checks = [*ALWAYS_CHECKS, *self.models.manifest.get("checks", [])]
        # an article is read whole at most once per question
        lookup = cache(self.library.get_document) if self.library is not None else None
        comp = compose(
            ctx,
            hits,
            self.models,
            self.max_sentences,
            float(self.models.manifest.get("keep", 0.5)),
            lambda ranked: eligible_sentences(question, ranked, checks, lookup),
            bool(self.models.manifest.get("distinct", False)),
        )
        if reason := self.decline_reason(question, hits, comp, checks, lookup):
            return self._abstain(question, comp, reason)
        citations = [sentence_citation(i, c) for i, c in enumerate(comp.chosen, start=1)]
        sentences = [
            AnswerSentence(
                text=c.text,
                markers=[i],
                supported=True,
                support_score=round(probability(c.score), 4),
            )
            for i, c in enumerate(comp.chosen, start=1)
        ]
        return Answer(
            question=question,
            answer=" ".join(f"{s.text} [{s.markers[0]}]" for s in sentences),
            abstained=False,
            citations=citations,
            sentences=sentences,
            answerer=self.name,
            answer_probability=round(float(comp.probability), 4),
        )

    def decline_reason(self, question: str, hits, comp: Composition, checks, lookup) -> str:
        """Why to abstain (one of ``schema.DECLINE_REASONS``), or "" to answer: nothing
        quotable, too unlikely an answer, or a kept check of the question's names and
        answer type fails."""
        if not comp.chosen:
            return "no_quotable_sentence"
        if comp.probability < self.min_probability:
            return "low_probability"
        failed = failed_question_checks(question, hits, comp.chosen, checks, lookup)
        return QUESTION_CHECK_REASONS[failed[0]] if failed else ""

    def ranked_hits(
        self, question: str, passages: list[LCDocument]
    ) -> tuple[QuestionContext, list[PassageHit]]:
        """The question's context and the passages as ranked hits: as retrieval gave them,
        or (passages from elsewhere) scored and ranked here."""
        context = getattr(passages, "context", None)
        hits = getattr(passages, "hits", None)
        if context is not None and hits and context.question == question:
            return context, hits
        vector = np.asarray(self.embedder.embed_query(question), dtype=np.float32)
        ctx = QuestionContext(question, vector)
        return ctx, self.models.rank_passages(ctx, self._hits(passages, vector))

    def _hits(self, passages: list[LCDocument], vector: np.ndarray) -> list[PassageHit]:
        chunks = {p.metadata["chunk_id"]: (p.page_content, p.metadata) for p in passages}
        lookup = getattr(self.library, "sentence_vectors_for", None)
        stored = lookup(chunks) if lookup else {}
        missing = {cid: item for cid, item in chunks.items() if cid not in stored}
        stored.update(encode_sentences(self.embedder, missing))
        hits = []
        for rank, p in enumerate(passages, start=1):
            cosine = p.metadata.get("dense_score")
            vectors = stored[p.metadata["chunk_id"]]
            if cosine is None:
                cosine = float(vectors.mean(axis=0) @ vector) if len(vectors) else 0.0
            hits.append(
                PassageHit(
                    p.metadata["chunk_id"],
                    p.page_content,
                    p.metadata,
                    float(cosine),
                    dense_rank=rank,
                    sentence_vectors=vectors,
                )
            )
        return hits

    def _abstain(self, question: str, comp: Composition, reason: str) -> Answer:
        related, used = [], set()
        for cand in comp.ranked:
            if cand.hit.chunk_id in used:
                continue
            used.add(cand.hit.chunk_id)
            related.append(sentence_citation(len(related) + 1, cand))
            if len(related) >= self.related:
                break
        return Answer(
            question=question,
            answer=abstention_text(question),
            abstained=True,
            declined_because=reason,
            answer_probability=round(float(comp.probability), 4) if comp.chosen else None,
            related=related,
            answerer=self.name,
        )
