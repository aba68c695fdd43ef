"""What the learned models see: features of a question's candidate passages and
sentences, computed the same way at answer time and in training.

Every word comparison folds case and accents (``terms.fold``). The features are plain
numbers in a fixed order (``PASSAGE_FEATURES``, ``SENTENCE_FEATURES``); the models in
``ranking`` are fitted on exactly these columns, so a change here is a change of the
models' inputs and needs ``assistant train`` (the manifest records the feature names,
and loading refuses models fitted on other columns).
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date

import numpy as np
from langchain_core.documents import Document as LCDocument

from assistant.answer.query import (
    about_terms,
    analyse,
    has_typed_candidate,
    name_groups,
    name_words,
    names_in,
    topic_names,
    years_named,
)
from assistant.answer.quotes import (
    asks_question,
    is_photo_caption,
    leans_on_context,
    partial_quotation,
)
from assistant.dates import Period, date_number, from_number, period_bonus, question_period
from assistant.store.lexical import bm25_tokens, lexical_text
from assistant.terms import content_terms

ANSWER_TYPES = ("person", "place", "named", "number", "percent", "year", "date", "any")
_RESTATES_BELOW = 2  # new content words under which a sentence only restates the question


@dataclass
class QuestionContext:
    """A question as the features read it."""

    question: str
    vector: np.ndarray
    as_of: date | None = None  # the day it is asked (recency is measured from it)
    # its BM25 terms with their IDF in the library (``LexicalIndex.term_weights``); empty:
    # every term counts alike
    weights: dict[str, float] = field(default_factory=dict)
    terms: set[str] = field(init=False)
    focus_terms: set[str] = field(init=False)
    names: list[str] = field(init=False)
    topics: list[str] = field(init=False)
    about: set[str] = field(init=False)  # what it asks about ("about the price of oil")
    years: list[str] = field(init=False)
    answer_type: str = field(init=False)
    period: Period | None = field(init=False)  # "this week", "in June 2024"

    def __post_init__(self) -> None:
        info = analyse(self.question)
        self.terms = content_terms(self.question)
        self.focus_terms = content_terms(info.focus)
        self.names = name_groups(self.question)
        self.topics = topic_names(self.question)
        self.about = about_terms(self.question)
        self.years = years_named(self.question)
        self.answer_type = info.answer_type
        self.period = question_period(self.question, self.as_of)
        if not self.weights:
            self.weights = dict.fromkeys(bm25_tokens([self.question])[0], 1.0)

    def weighted_coverage(self, texts: list[str]) -> list[float]:
        """Per text: the IDF-weighted share of the question's terms it holds."""
        return [self.share_of_terms(set(tokens)) for tokens in bm25_tokens(texts)]

    def share_of_terms(self, held: set[str] | frozenset[str]) -> float:
        """The IDF-weighted share of the question's BM25 terms that ``held`` holds."""
        total = sum(self.weights.values()) or 1.0
        return sum(w for t, w in self.weights.items() if t in held) / total


@dataclass
class PassageHit:
    """One candidate passage: a chunk found by dense or BM25 search (or both)."""

    chunk_id: str
    text: str
    metadata: dict
    cosine: float  # the chunk vector's cosine similarity with the question
    dense_rank: int | None = None  # 1-based
    lexical_rank: int | None = None
    lexical_score: float = 0.0
    fused: float = 0.0  # reciprocal-rank fusion of the two lists
    sentence_vectors: np.ndarray | None = None  # one row per quotable sentence
    # the question's BM25 terms its title and text hold, when the retriever read them from
    # the BM25 index (else they are tokenized again: the same terms, slower)
    query_terms: frozenset[str] | None = None
    features: np.ndarray | None = None  # its row of PASSAGE_FEATURES, once ranked
    score: float = 0.0  # the learned ranker's score

    @property
    def doc_id(self) -> str:
        return self.metadata["doc_id"]

    @property
    def title(self) -> str:
        return self.metadata.get("title", "")

    def sentences(self) -> list[tuple[int, int, int]]:
        return [tuple(s) for s in json.loads(self.metadata["sentences"])]

    def document(self) -> LCDocument:
        """The hit as the LangChain document retrieval returns."""
        meta = {
            **self.metadata,
            "chunk_id": self.chunk_id,
            "score": round(float(self.score), 6),
            "dense_score": round(self.cosine, 6),
            "lexical_score": round(self.lexical_score, 6) if self.lexical_rank else None,
        }
        return LCDocument(page_content=self.text, metadata=meta, id=self.chunk_id)


def fuse_ranks(hits: list[PassageHit], rrf_k: int = 60) -> None:
    """Reciprocal-rank fusion score of each hit (the untrained baseline, and a feature)."""
    for hit in hits:
        hit.fused = sum(1.0 / (rrf_k + r) for r in (hit.dense_rank, hit.lexical_rank) if r)


def _reciprocal(rank: int | None) -> float:
    return 1.0 / rank if rank else 0.0


def _share(found: int, total: int) -> float:
    return found / total if total else 1.0


def _date_number(meta: dict) -> int:
    """A passage's publication day as ``YYYYMMDD`` (0: unknown), from an index of any age."""
    return int(meta.get("date_num") or date_number(meta.get("date", "")))


def _days_behind_newest(hits: list[PassageHit]) -> list[float]:
    """Per hit: log days between its article's date and the newest dated hit's (how much
    older than the latest story found it is; -1 when undated). Unlike ``days_old`` it does
    not depend on the day the question is asked."""
    days = [from_number(_date_number(h.metadata)) for h in hits]
    newest = max((d for d in days if d), default=None)
    return [math.log1p((newest - d).days) if d and newest else -1.0 for d in days]


def _days_old(ctx: QuestionContext, meta: dict) -> tuple[float, float]:
    """(log days between the article's date and the question's, unknown flag)."""
    published = from_number(_date_number(meta))
    if published is None or ctx.as_of is None:
        return 0.0, 1.0
    days = (ctx.as_of - published).days
    return math.copysign(math.log1p(abs(days)), days), 0.0


def _type_columns(kind: str) -> list[float]:
    return [float(kind == t) for t in ANSWER_TYPES]


PASSAGE_FEATURES = (
    "dense_cosine",
    "dense_reciprocal_rank",
    "lexical_score",
    "lexical_share_of_best",
    "lexical_reciprocal_rank",
    "fused",
    "best_sentence_cosine",
    "second_sentence_cosine",
    "term_coverage",
    "focus_coverage",
    "title_coverage",
    "idf_coverage",
    "name_share",
    "article_name_share",
    "topics_named",
    "years_named",
    "typed_candidate",
    "chunk_index",
    "days_old",
    "date_unknown",
    "days_behind_newest_hit",
    "in_asked_period",
    "article_hits",
    "article_best_cosine",
    "words",
    "question_words",
    "question_names",
    "names_a_period",
    *(f"asks_{t}" for t in ANSWER_TYPES),
)


def passage_features(ctx: QuestionContext, hits: list[PassageHit]) -> np.ndarray:
    """One row of ``PASSAGE_FEATURES`` per hit (hits need ``sentence_vectors``)."""
    cosines = [h.cosine for h in hits]
    best_lexical = max((h.lexical_score for h in hits), default=0.0) or 1.0
    words = [name_words(f"{h.title} {h.metadata.get('date', '')} {h.text}") for h in hits]
    by_doc: dict[str, list[int]] = defaultdict(list)
    for i, hit in enumerate(hits):
        by_doc[hit.doc_id].append(i)
    article_words = {d: set().union(*(words[i] for i in rows)) for d, rows in by_doc.items()}
    fixed = [
        len(ctx.question.split()),
        len(ctx.names),
        float(ctx.period is not None),
        *_type_columns(ctx.answer_type),
    ]
    weighted = _idf_coverage(ctx, hits)
    behind = _days_behind_newest(hits)
    rows = []
    for i, hit in enumerate(hits):
        doc_rows = by_doc[hit.doc_id]
        rows.append(
            [
                cosines[i],
                _reciprocal(hit.dense_rank),
                math.log1p(hit.lexical_score),
                hit.lexical_score / best_lexical,
                _reciprocal(hit.lexical_rank),
                hit.fused * 60,
                *_best_two(hit.sentence_vectors, ctx.vector),
                *_coverages(ctx, hit),
                weighted[i],
                _share(names_in(ctx.names, words[i]), len(ctx.names)),
                _share(names_in(ctx.names, article_words[hit.doc_id]), len(ctx.names)),
                float(names_in(ctx.topics, article_words[hit.doc_id]) == len(ctx.topics)),
                _share(names_in(ctx.years, words[i]), len(ctx.years)),
                float(has_typed_candidate(hit.text, ctx.answer_type, ctx.question)),
                math.log1p(int(hit.metadata.get("index", 0))),
                *_days_old(ctx, hit.metadata),
                behind[i],
                period_bonus(ctx.period, _date_number(hit.metadata)),
                len(doc_rows),
                max(cosines[j] for j in doc_rows),
                math.log1p(len(hit.text.split())),
                *fixed,
            ]
        )
    return np.asarray(rows, dtype=np.float32).reshape(len(hits), len(PASSAGE_FEATURES))


def _idf_coverage(ctx: QuestionContext, hits: list[PassageHit]) -> list[float]:
    """Per hit: the IDF-weighted share of the question's terms its title and text hold."""
    if all(h.query_terms is not None for h in hits):
        return [ctx.share_of_terms(h.query_terms) for h in hits]
    return ctx.weighted_coverage([lexical_text(h.title, h.text) for h in hits])


def _best_two(vectors: np.ndarray | None, question: np.ndarray) -> tuple[float, float]:
    if vectors is None or not len(vectors):
        return 0.0, 0.0
    cos = np.sort(vectors @ question)[::-1]
    return float(cos[0]), float(cos[1]) if len(cos) > 1 else float(cos[0])


def _coverages(ctx: QuestionContext, hit: PassageHit) -> tuple[float, float, float]:
    terms = content_terms(f"{hit.title} {hit.text}")
    title = content_terms(hit.title)
    return (
        _share(len(ctx.terms & terms), len(ctx.terms)),
        _share(len(ctx.focus_terms & terms), len(ctx.focus_terms)),
        _share(len(ctx.terms & title), len(ctx.terms)),
    )


# --- sentences ----------------------------------------------------------------------------


@dataclass
class SentenceCandidate:
    """One quotable sentence of a ranked passage."""

    text: str
    start: int
    end: int
    paragraph: int
    hit: PassageHit
    passage_rank: int  # 0-based place of its passage after ranking
    index: int  # its place among the passage's sentences
    score: float = 0.0  # the learned sentence model's score


SENTENCE_FEATURES = (
    "cosine",
    "cosine_below_best",
    "previous_cosine",
    "next_cosine",
    "term_coverage",
    "focus_coverage",
    "about_coverage",
    "asks_about",
    "idf_coverage",
    "new_terms",
    "restates",
    "typed_candidate",
    "name_share",
    "years_named",
    "other_years_only",
    "passage_score",
    "passage_score_below_best",
    "passage_reciprocal_rank",
    "sentence_index",
    "paragraph",
    "words",
    "leans_on_context",
    "partial_quotation",
    "photo_caption",
    "asks_question",
    *(f"passage_{name}" for name in PASSAGE_FEATURES),
)

# what the answerer's abstention model reads of a composed answer (``compose``)
ANSWER_FEATURES = (
    "best_sentence",
    "second_sentence",
    "best_sentence_gap",
    "best_passage",
    "best_passage_gap",
    "best_cosine",
    "best_lexical",
    "chosen_cosine",
    "chosen_coverage",
    "chosen_typed",
    "chosen_name_share",
    "chosen_other_years",
    "chosen_article_name_share",
    "chosen_topics_named",
    "chosen_years_named",
    "passages_name_share",
    "sharp_type_missing",
    "question_names",
    *(f"asks_{t}" for t in ANSWER_TYPES),
    # the boosted abstention model also reads the chosen sentence's whole feature row and
    # how much the best sentences agree on one article (the logistic one reads the above)
    "top_article_share",
    "articles_in_top",
    "sentences_chosen",
    *(f"top_{name}" for name in SENTENCE_FEATURES),
)
# what the logistic abstention model reads (a linear model over the 90 would overfit)
LINEAR_ANSWER_FEATURES = ANSWER_FEATURES[: ANSWER_FEATURES.index("top_article_share")]


def sentence_candidates(hits: list[PassageHit]) -> list[SentenceCandidate]:
    """The sentences of ranked passages, each once (the same text in two passages is one
    candidate, in the better passage)."""
    seen: set[str] = set()
    out = []
    for rank, hit in enumerate(hits):
        base = int(hit.metadata["start"])
        for index, (start, end, paragraph) in enumerate(hit.sentences()):
            text = hit.text[start - base : end - base]
            key = " ".join(text.lower().split())
            if key and key not in seen:
                seen.add(key)
                out.append(SentenceCandidate(text, start, end, paragraph, hit, rank, index))
    return out


def sentence_features(
    ctx: QuestionContext, cands: list[SentenceCandidate], passage_rows: dict[str, np.ndarray]
) -> np.ndarray:
    """One row of ``SENTENCE_FEATURES`` per sentence; ``passage_rows`` holds each
    passage's ``PASSAGE_FEATURES`` row by chunk id."""
    cosines = [_sentence_cosine(c, ctx.vector, c.index) for c in cands]
    best_cos = max(cosines, default=0.0)
    best_passage = max((c.hit.score for c in cands), default=0.0)
    weighted = ctx.weighted_coverage([c.text for c in cands])
    rows = []
    for cand, cos, idf in zip(cands, cosines, weighted, strict=True):
        terms = content_terms(cand.text)
        new_terms = len(terms - ctx.terms)
        named = years_named(cand.text)
        rows.append(
            [
                cos,
                best_cos - cos,
                _sentence_cosine(cand, ctx.vector, cand.index - 1),
                _sentence_cosine(cand, ctx.vector, cand.index + 1),
                _share(len(ctx.terms & terms), len(ctx.terms)),
                _share(len(ctx.focus_terms & terms), len(ctx.focus_terms)),
                len(ctx.about & terms) / len(ctx.about) if ctx.about else 0.0,
                float(bool(ctx.about)),
                idf,
                math.log1p(new_terms),
                float(new_terms < _RESTATES_BELOW),
                float(has_typed_candidate(cand.text, ctx.answer_type, ctx.question)),
                _share(names_in(ctx.names, name_words(cand.text)), len(ctx.names)),
                _share(len(set(ctx.years) & set(named)), len(ctx.years)),
                float(bool(ctx.years and named) and not set(ctx.years) & set(named)),
                cand.hit.score,
                best_passage - cand.hit.score,
                1.0 / (1 + cand.passage_rank),
                math.log1p(cand.index),
                math.log1p(cand.paragraph),
                math.log1p(len(cand.text.split())),
                float(leans_on_context(cand.text)),
                float(partial_quotation(cand.text)),
                float(is_photo_caption(cand.text)),
                float(asks_question(cand.text)),
                *passage_rows[cand.hit.chunk_id],
            ]
        )
    return np.asarray(rows, dtype=np.float32).reshape(len(cands), len(SENTENCE_FEATURES))


def _sentence_cosine(cand: SentenceCandidate, question: np.ndarray, index: int) -> float:
    """The cosine of the passage's sentence ``index`` (0 where there is none)."""
    vectors = cand.hit.sentence_vectors
    if vectors is None or not 0 <= index < len(vectors):
        return 0.0
    return float(np.asarray(vectors[index], dtype=np.float32) @ question)


def merge_hits(
    dense_ids: list[str],
    lexical: list[tuple[str, float]],
    records: dict[str, tuple[str, dict, float]],
    rrf_k: int = 60,
) -> list[PassageHit]:
    """The union of the dense and BM25 lists as hits, in fused order; ``records`` gives
    every listed chunk's (text, metadata, cosine with the question)."""
    hits: dict[str, PassageHit] = {}
    for rank, chunk_id in enumerate(dense_ids, start=1):
        text, meta, cosine = records[chunk_id]
        hits[chunk_id] = PassageHit(chunk_id, text, meta, cosine, dense_rank=rank)
    for rank, (chunk_id, score) in enumerate(lexical, start=1):
        if chunk_id not in records:
            continue  # not committed (an article being written or removed)
        if chunk_id not in hits:
            text, meta, cosine = records[chunk_id]
            hits[chunk_id] = PassageHit(chunk_id, text, meta, cosine)
        hits[chunk_id].lexical_rank, hits[chunk_id].lexical_score = rank, score
    merged = list(hits.values())
    fuse_ranks(merged, rrf_k)
    return sorted(merged, key=lambda h: h.fused, reverse=True)
