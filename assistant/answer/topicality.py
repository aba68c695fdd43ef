"""Whether retrieved passages are about what a question asks, before any is quoted.

Support scores say a sentence is *near* the question; they cannot tell the 1998 World Cup
from this year's, or a Halloween story from what Pope Francis said about Halloween. The
extractive answerer therefore also checks the question's names and years against the
passages and their articles, and abstains rather than quote an article about something
else:

- over all passages together (or failing them their whole articles and dates), at least
  three quarters of the question's names and years must occur (``names_missing``);
- an answer sentence's own article must name every year the question names in the quoted
  passage, its title or its date, and half of the other names, or all of them for a
  question asking what someone said *about* something (``Subject.in_article``);
- an answer sentence that names years, none of them the question's, tells of another time
  ("1969 — The New York Mets ... took the World Series" for the 2022 one) and is never
  quoted for it (``about_other_years``);
- a question asking for a number or date needs a sentence holding one (``lacks_asked_type``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from langchain_core.documents import Document as LCDocument

from assistant.answer.query import (
    about_part,
    analyse,
    has_typed_candidate,
    name_groups,
    names_found,
    speaks_of,
    topic_names,
    years_named,
)
from assistant.answer.quotes import asks_question, is_photo_caption
from assistant.schema import Document

ArticleLookup = Callable[[str], Document | None]
# Abstain when fewer than this share of the question's names occur in the passages.
_MIN_NAME_COVERAGE = 0.75
# An answer sentence's own article must name at least this share of them.
_MIN_ARTICLE_NAME_SHARE = 0.5
# "How many ...?" is answered by a number, "When ...?" by a date: with no supported sentence
# holding one (beyond those the question itself names), nothing answers the question.
_SHARP_TYPES = frozenset({"number", "percent", "year", "date"})


@dataclass(frozen=True)
class Subject:
    """What a question is about: the years and names it gives, and the names it asks
    about ("... say about South Korea?")."""

    years: list[str]
    names: list[str]
    topics: list[str]

    @classmethod
    def of(cls, question: str) -> Subject:
        return cls(years_named(question), name_groups(question), topic_names(question))

    def in_article(self, passages: list[LCDocument], get_article: ArticleLookup | None) -> bool:
        """Whether the article of ``passages`` is about this subject: the passages, title or
        date name every year (a year pins the event, "the 1998 World Cup", and one far away
        in a catch-all corrections page proves nothing), and the passages or failing them
        the whole article name every topic and at least half of the other names (names
        are often paraphrased: "U.S." for "United States")."""
        near = _passages_text(passages)
        if names_found(self.years, near) < len(self.years):
            return False
        if self._named_in(near):
            return True
        article = get_article(passages[0].metadata["doc_id"]) if get_article else None
        return bool(article) and self._named_in(_article_text(article))

    def _named_in(self, text: str) -> bool:
        if names_found(self.topics, text) < len(self.topics):
            return False
        share = names_found(self.names, text) / len(self.names) if self.names else 1.0
        return share >= _MIN_ARTICLE_NAME_SHARE


def articles_about(
    question: str, passages: list[LCDocument], get_article: ArticleLookup | None
) -> set[str]:
    """The doc ids of ``passages`` whose article is about the question's subject (see
    ``Subject.in_article``); each article is judged on all of its given passages."""
    by_doc: dict[str, dict[str, LCDocument]] = {}
    for passage in passages:
        meta = passage.metadata
        by_doc.setdefault(meta["doc_id"], {})[meta["chunk_id"]] = passage
    subject = Subject.of(question)
    return {
        doc_id
        for doc_id, chunks in by_doc.items()
        if subject.in_article(list(chunks.values()), get_article)
    }


def names_missing(
    question: str, passages: list[LCDocument], get_article: ArticleLookup | None
) -> bool:
    """Whether too many of the names and years the question is about are absent from every
    passage, its article and its date (then the passages are about something else)."""
    names = name_groups(question) + years_named(question)
    if not names:
        return False
    haystack = _passages_text(passages)
    if not _names_covered(names, haystack) and get_article:
        doc_ids = dict.fromkeys(p.metadata["doc_id"] for p in passages)
        articles = [get_article(d) for d in doc_ids]
        haystack = " ".join(_article_text(a) for a in articles if a)
    return not _names_covered(names, haystack)


def _passages_text(passages: list[LCDocument]) -> str:
    """What the passages say that names and years are looked for in: each one's article
    title and date, then its text."""
    return " ".join(
        f"{p.metadata.get('title', '')} {p.metadata.get('date', '')} {p.page_content}"
        for p in passages
    )


def _article_text(article: Document) -> str:
    return f"{article.title} {article.date} {article.text}"


def _names_covered(names: list[str], text: str) -> bool:
    return names_found(names, text) / len(names) >= _MIN_NAME_COVERAGE


def about_other_years(sentence: str, years: list[str]) -> bool:
    """Whether ``sentence`` names years but none of ``years`` (those a question names)."""
    named = years_named(sentence)
    return bool(years and named) and not set(named) & set(years)


def lacks_asked_type(question: str, sentences: list[str]) -> bool:
    """Whether a question asking for a number or a date has none of ``sentences`` holding
    one it does not name itself."""
    kind = analyse(question).answer_type
    return kind in _SHARP_TYPES and not any(
        has_typed_candidate(s, kind, question) for s in sentences
    )


# --- the checks as the learned answerer applies them ---------------------------------------

# What may be quoted at all: a sentence that is itself a question states nothing, and an
# image caption describes a picture, not the news. Always applied (their measured effect
# is in the manifest, as ``quotable``).
QUOTABLE_CHECKS = ("questions", "captions", "about")
# What the product promises: no answer to a question whose names its passages and their
# articles never mention ("What did Japan's prime minister say ...?" over a story without
# Japan), and no quote that tells only of other years than the question's. Always applied
# too. Out of fold they cost about a point of citation hit, but without them the learned
# abstention (logistic or boosted, measured 2026-12-03) answers four of the seed set's
# eight unanswerable questions: in a one-article library nothing else tells them apart.
TRUST_CHECKS = ("names", "other_years")
ALWAYS_CHECKS = QUOTABLE_CHECKS + TRUST_CHECKS
# Kept only where held-out blocks show they help (``learn.train``).
SENTENCE_CHECKS = ("subject",)
QUESTION_CHECKS = ("asked_type",)
OPTIONAL_CHECKS = SENTENCE_CHECKS + QUESTION_CHECKS
# What a failed question check tells the reader (``Answer.declined_because``).
QUESTION_CHECK_REASONS = {"names": "names_missing", "asked_type": "no_asked_type"}


def eligible_sentences(question: str, ranked: list, checks: list[str], get_article) -> list:
    """The ranked sentences (``answer.features.SentenceCandidate``) that pass the kept
    sentence checks: they are not themselves questions (``questions``) or image captions
    (``captions``), they speak of what a question asks *about* ("about the price of oil":
    price or oil; ``about``), their article is about the question's subject (``subject``),
    and they do not tell only of other years than the question's (``other_years``)."""
    out = list(ranked)
    if "about" in checks and (about := about_part(question)):
        out = [c for c in out if speaks_of(about, c.text)]
    if "questions" in checks:
        out = [c for c in out if not asks_question(c.text)]
    if "captions" in checks:
        out = [c for c in out if not is_photo_caption(c.text)]
    if "other_years" in checks:
        years = years_named(question)
        out = [c for c in out if not about_other_years(c.text, years)]
    if "subject" in checks and out:
        about = articles_about(question, [c.hit.document() for c in out], get_article)
        out = [c for c in out if c.hit.doc_id in about]
    return out


def failed_question_checks(question: str, hits: list, chosen: list, checks: list[str], get_article):
    """The kept question checks that fail: too few of its names and years in the passages
    or their articles (``names``); no sentence of the asked number or date (``asked_type``)."""
    failed = []
    if "names" in checks and names_missing(question, [h.document() for h in hits], get_article):
        failed.append("names")
    if "asked_type" in checks and lacks_asked_type(question, [c.text for c in chosen]):
        failed.append("asked_type")
    return failed
