"""The extractive answerer: answers only with sentences copied from retrieved passages.

Each candidate sentence gets a *support* score against the question: embedding
similarity and content-word overlap, raised when it holds a candidate of the asked answer
type (a name for "Which team ...?", a number for "How many ...?") and lowered when it only
restates the question. Sentences are then *ranked* by support plus priors that say which
supported sentence is likelier to hold the answer: a stronger answer-type bonus, the rank
of its passage in retrieval, its length (headline fragments carry little), and whether it
stands on its own (one opening with "He" or "But", or holding only part of a quotation,
leans on the sentence before it).
Sentences that are themselves questions are never candidates: they state nothing; nor are
image captions that scraped pages run into the text (they hold a photo credit). The best
ones form the answer, each followed by its marker, and each marker resolves to a typed
citation with the sentence's exact document offsets. When no sentence is supported
enough, a question asking for a number or date finds none in them, or the passages are
about something else than the question's names and years (``topicality``), it abstains
instead of guessing: the priors order sentences, they never make one supported.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from typing import Protocol

import numpy as np
from langchain_core.documents import Document as LCDocument

from .config import Settings
from .query import WH_WORDS, analyse, has_typed_candidate, years_named
from .schema import Answer, AnswerSentence, Citation, Document
from .terms import TOKEN, content_terms
from .topicality import about_other_years, articles_about, lacks_asked_type, names_missing

_QUESTION_WORDS = frozenset(
    "what which who whom whose when where why how did does do is are was were according in on "
    "tell".split()
)
_MIN_WORDS = 4
# after a wh-word these mean the question inverts ("what is ...", "where was ...")
_AUXILIARIES = frozenset(
    "is are was were will would can could should shall may might must has have had".split()
)
_DO_FORMS = frozenset({"do", "does", "did"})
# A sentence holding a candidate of the asked type (see ``query``) gains this much; one
# that adds fewer than _MIN_NEW_TERMS content words to the question (it restates the
# question, as quiz pages and headlines do) loses _RESTATEMENT_PENALTY.
_TYPE_BONUS = 0.1
_RESTATEMENT_PENALTY = 0.2
_MIN_NEW_TERMS = 2
# Ranking priors (see the module docstring), measured on realtimeqa-dev with each week
# held out in turn: the same weights won on every pair of weeks and raised the third.
_TYPE_PRIOR = 0.2
# Coverage of the question's words shows a sentence is on topic (support), but among
# on-topic sentences the ones repeating most of the question tend to restate it rather
# than answer it, so coverage counts for less when ranking.
_COVERAGE_DISCOUNT = 0.2
_PASSAGE_RANK_PRIOR = 0.2  # divided by 1 + the passage's retrieval rank
# A quote should stand on its own: one opening with a pronoun or "But" leans on the
# sentence before it ("But a growing body of research suggests heavy use ..." never says
# of what), so it ranks below an otherwise equal one that names its subject.
_DANGLING_PENALTY = 0.1
_DANGLING_OPENERS = frozenset("he she they it his her their its this that these those but".split())
_LENGTH_PRIOR = 0.1  # times min(words, _FULL_LENGTH_WORDS) / _FULL_LENGTH_WORDS
_FULL_LENGTH_WORDS = 40
# Answer sentences after the first must score at least this share of the best one.
_RELATIVE_SUPPORT = 0.7


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

    def sentence_vectors_for(
        self, chunks: dict[str, tuple[str, dict]]
    ) -> dict[str, np.ndarray]: ...


@dataclass
class Candidate:
    """One sentence of one retrieved passage, with its score against the question."""

    text: str
    start: int
    end: int
    paragraph: int
    passage: LCDocument
    rank: int
    index: int = 0  # its place among the passage's sentences (and their vectors)
    support: float = 0.0  # how well it answers the question; abstention looks at this
    score: float = 0.0  # support plus ranking priors; the answer takes the best


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


def _ranking_prior(cand: Candidate, typed: bool) -> float:
    """What, beyond support, makes a sentence likelier to hold the answer."""
    words = min(len(cand.text.split()), _FULL_LENGTH_WORDS)
    return (
        _TYPE_PRIOR * typed
        + _PASSAGE_RANK_PRIOR / (1 + cand.rank)
        + _LENGTH_PRIOR * words / _FULL_LENGTH_WORDS
        - _DANGLING_PENALTY * leans_on_context(cand.text)
    )


def _no_stored_vector(rows: np.ndarray, cand: Candidate) -> bool:
    """Whether a candidate's sentence has no stored vector (out of range, or a zero row
    for a sentence the model's length limit cut off)."""
    return cand.index >= len(rows) or not rows[cand.index].any()


def leans_on_context(sentence: str) -> bool:
    """Whether a sentence needs the one before it: it opens with a pronoun or "But", or it
    holds only part of a quotation (a passage can begin or end inside one, and the speaker
    is named where the quotation opens)."""
    words = sentence.split()
    first = words[0] if words else ""
    return first.strip("“\"‘'(,").lower() in _DANGLING_OPENERS or partial_quotation(sentence)


def partial_quotation(sentence: str) -> bool:
    """Whether a sentence opens or closes a quotation without the other end."""
    return sentence.count("“") != sentence.count("”") or sentence.count('"') % 2 == 1


# A photo credit ("Andre Penner/AP", "Joe Raedle/Getty Images") marks an image caption that
# scraped pages run into the article text; a caption describes a picture, not the news.
_PHOTO_CREDIT = re.compile(
    r"\b[A-Z][\w.'’-]* ?/(?:[\w&.'’ -]+/)*"
    r"(?:Getty Images|AP|AFP|Reuters|Associated Press|Bloomberg|EPA(?:-EFE)?|Shutterstock|"
    r"Sipa USA|ZUMA|Zuma Press|USA TODAY|The New York Times|The Washington Post|"
    r"NurPhoto|Anadolu Agency|SOPA Images|LightRocket|Pool|CNN)\b"
)


def is_photo_caption(sentence: str) -> bool:
    """Whether a sentence holds a photo credit, as image captions do."""
    return bool(_PHOTO_CREDIT.search(sentence))


def asks_question(sentence: str) -> bool:
    """Whether a sentence is itself a question (it states nothing, so never answers)."""
    return sentence.rstrip("”\"’') ").endswith("?")


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
    """Composes an answer from the best-supported sentences of the passages."""

    name = "extractive"

    def __init__(
        self,
        embedder,
        max_sentences: int = 3,
        min_support: float = 0.35,
        related: int = 3,
        library: Library | None = None,
    ):
        """``library`` (the ``ArticleStore``), when given, is where names the passages
        lack are looked up before abstaining for want of them, and where the sentences'
        vectors stored at index time come from (without it, sentences are encoded)."""
        self.embedder = embedder
        self.max_sentences = max_sentences
        self.min_support = min_support
        self.related = related
        self.library = library
        self.get_article = library.get_document if library is not None else None

    @classmethod
    def from_settings(
        cls, settings: Settings, embedder, library: Library | None = None
    ) -> ExtractiveAnswerer:
        """The extractive answerer as the settings configure it (also the LLM answerers'
        fallback)."""
        return cls(embedder, settings.max_answer_sentences, settings.min_support, library=library)

    def sentence_vectors(self, candidates: list[Candidate]) -> np.ndarray:
        """One vector per candidate: in-context vectors from the library (stored at index
        time), else each sentence encoded on its own."""
        chunks = {
            c.passage.metadata["chunk_id"]: (c.passage.page_content, c.passage.metadata)
            for c in candidates
        }
        lookup = getattr(self.library, "sentence_vectors_for", None)
        by_chunk = lookup(chunks) if lookup else {}
        out = np.zeros((len(candidates), self.embedder.dimension), np.float32)
        missing = []
        for i, cand in enumerate(candidates):
            rows = by_chunk.get(cand.passage.metadata["chunk_id"])
            if rows is None or _no_stored_vector(rows, cand):
                missing.append(i)
            else:
                out[i] = rows[cand.index]
        if missing:
            out[missing] = self.embedder.embed_documents([candidates[i].text for i in missing])
        return out

    def score(self, question: str, candidates: list[Candidate]) -> None:
        """Set each candidate's support (0.6 cosine + 0.4 question-term coverage, plus a
        bonus for a candidate of the asked answer type, minus a penalty for restating) and
        its ranking score (support plus the priors)."""
        if not candidates:
            return
        question_vector = np.asarray(self.embedder.embed_query(question))
        cosines = self.sentence_vectors(candidates) @ question_vector
        q_terms = content_terms(question)
        kind = analyse(question).answer_type
        for cand, cos in zip(candidates, cosines, strict=True):
            terms = content_terms(cand.text)
            coverage = len(q_terms & terms) / len(q_terms) if q_terms else 0.0
            typed = has_typed_candidate(cand.text, kind, question)
            restates = len(terms - q_terms) < _MIN_NEW_TERMS
            cand.support = (
                0.6 * float(cos)
                + 0.4 * coverage
                + _TYPE_BONUS * typed
                - _RESTATEMENT_PENALTY * restates
            )
            cand.score = cand.support - _COVERAGE_DISCOUNT * coverage + _ranking_prior(cand, typed)

    def candidates(self, passages: list[LCDocument]) -> list[Candidate]:
        seen: set[str] = set()
        out = []
        for rank, passage in enumerate(passages):
            for cand in passage_sentences(passage, rank):
                key = " ".join(cand.text.lower().split())
                usable = (
                    len(cand.text.split()) >= _MIN_WORDS
                    and not asks_question(cand.text)
                    and not is_photo_caption(cand.text)
                )
                if usable and key not in seen:
                    seen.add(key)
                    out.append(cand)
        return out

    def answer(self, question: str, passages: list[LCDocument]) -> Answer:
        """An answer made only of passage sentences, or an abstention."""
        cands = self.candidates(passages)
        self.score(question, cands)
        ranked = sorted(cands, key=lambda c: c.score, reverse=True)
        # only supported sentences may answer; the priors merely order them
        supported = [c for c in ranked if c.support >= self.min_support]
        # an article is read whole at most once per question
        get_article = cache(self.get_article) if self.get_article else None
        about = articles_about(question, [c.passage for c in supported], get_article)
        years = years_named(question)
        eligible = [
            c
            for c in supported
            if c.passage.metadata["doc_id"] in about and not about_other_years(c.text, years)
        ]
        if (
            not eligible
            or lacks_asked_type(question, [c.text for c in eligible])
            or names_missing(question, passages, get_article)
        ):
            return self._abstain(question, ranked)
        chosen = self._select(eligible)
        citations = [make_citation(i, c, c.score) for i, c in enumerate(chosen, start=1)]
        sentences = [
            AnswerSentence(
                text=c.text, markers=[i], supported=True, support_score=round(c.support, 4)
            )
            for i, c in enumerate(chosen, start=1)
        ]
        text = " ".join(f"{s.text} [{s.markers[0]}]" for s in sentences)
        return Answer(
            question=question,
            answer=text,
            abstained=False,
            citations=citations,
            sentences=sentences,
            answerer=self.name,
        )

    def _select(self, ranked: list[Candidate]) -> list[Candidate]:
        best = ranked[0].score
        chosen = [ranked[0]]
        for cand in ranked[1:]:
            if len(chosen) >= self.max_sentences or cand.score < _RELATIVE_SUPPORT * best:
                break
            if all(content_terms(cand.text) - content_terms(c.text) for c in chosen):
                chosen.append(cand)
        return chosen

    def _abstain(self, question: str, ranked: list[Candidate]) -> Answer:
        related, used = [], set()
        for cand in ranked:
            if cand.passage.metadata["chunk_id"] in used:
                continue
            used.add(cand.passage.metadata["chunk_id"])
            related.append(make_citation(len(related) + 1, cand, cand.score))
            if len(related) >= self.related:
                break
        return Answer(
            question=question,
            answer=abstention_text(question),
            abstained=True,
            related=related,
            answerer=self.name,
        )
