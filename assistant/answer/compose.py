"""Choosing an answer from ranked passages, with the learned sentence and abstention
models: the same pure steps at answer time (``answer.ExtractiveAnswerer``) and when
the models are fitted and evaluated on the training weeks."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from assistant.answer.features import (
    ANSWER_TYPES,
    PASSAGE_FEATURES,
    SENTENCE_FEATURES,
    PassageHit,
    QuestionContext,
    SentenceCandidate,
    sentence_candidates,
    sentence_features,
)
from assistant.answer.ranking import Models

# an answer quotes at most this many sentences (the models are fitted and chosen at it)
MAX_SENTENCES = 3
# the sharply typed questions: a number, share, year or date answers them
SHARP_TYPES = frozenset({"number", "percent", "year", "date"})


@dataclass
class Composition:
    """The sentences chosen to answer, all candidates best first, and how sure it is."""

    chosen: list[SentenceCandidate] = field(default_factory=list)
    ranked: list[SentenceCandidate] = field(default_factory=list)
    features: np.ndarray | None = None  # (ranked, SENTENCE_FEATURES)
    answer_values: dict[str, float] = field(default_factory=dict)
    probability: float = 0.0


def rank_sentences(
    ctx: QuestionContext, hits: list[PassageHit], models: Models
) -> tuple[list[SentenceCandidate], np.ndarray]:
    """Every sentence of the ranked ``hits`` scored by the sentence model, best first."""
    cands = sentence_candidates(hits)
    if not cands:
        return [], np.zeros((0, len(SENTENCE_FEATURES)), dtype=np.float32)
    rows = sentence_features(ctx, cands, {h.chunk_id: h.features for h in hits})
    for cand, score in zip(cands, models.sentence_scores(rows), strict=True):
        cand.score = float(score)
    order = np.argsort([-c.score for c in cands], kind="stable")
    return [cands[i] for i in order], rows[order]


def choose(
    ranked: list[SentenceCandidate], max_sentences: int, keep: float, distinct: bool = False
) -> list:
    """The best sentence, then the next best ones whose probability is at least ``keep``
    times the best one's (up to ``max_sentences``), none repeating another; with
    ``distinct``, at most one from each passage (more passages cited)."""
    if not ranked:
        return []
    best = _probability(ranked[0].score)
    chosen = [ranked[0]]
    for cand in ranked[1:]:
        if len(chosen) >= max_sentences or _probability(cand.score) < keep * best:
            break
        if distinct and any(cand.hit.chunk_id == c.hit.chunk_id for c in chosen):
            continue
        if all(cand.text not in c.text and c.text not in cand.text for c in chosen):
            chosen.append(cand)
    return chosen


def _probability(score: float) -> float:
    return 1.0 / (1.0 + math.exp(-score))


_TOP_SENTENCES = 5  # agreement is read over this many best sentences
_TOP_ARTICLES = 10  # and the articles are counted over this many
_COLUMN = {name: i for i, name in enumerate(SENTENCE_FEATURES)}
_LEXICAL = PASSAGE_FEATURES.index("lexical_score")
_ARTICLE_NAMES = PASSAGE_FEATURES.index("article_name_share")


def answer_values(
    ctx: QuestionContext, hits: list[PassageHit], ranked, chosen_rows: np.ndarray
) -> dict[str, float]:
    """What the abstention model reads: how strongly the best sentences and passages
    match, and whether the chosen sentence (``chosen_rows``: the chosen sentences'
    features, first first) and its article are about the question's names and years."""
    top = chosen_rows[0] if len(chosen_rows) else np.zeros(len(SENTENCE_FEATURES))
    scores = _padded([c.score for c in ranked])
    passage_scores = _padded(sorted((h.score for h in hits), reverse=True))
    typed = bool(len(chosen_rows)) and bool(chosen_rows[:, _COLUMN["typed_candidate"]].any())
    values = {
        "best_sentence": scores[0],
        "second_sentence": scores[1],
        "best_sentence_gap": scores[0] - scores[1],
        "best_passage": passage_scores[0],
        "best_passage_gap": passage_scores[0] - passage_scores[1],
        "best_cosine": max((h.cosine for h in hits), default=0.0),
        "best_lexical": max((h.features[_LEXICAL] for h in hits), default=0.0),
        "chosen_cosine": float(top[_COLUMN["cosine"]]),
        "chosen_coverage": float(top[_COLUMN["term_coverage"]]),
        "chosen_typed": float(top[_COLUMN["typed_candidate"]]),
        "chosen_name_share": float(top[_COLUMN["name_share"]]),
        "chosen_other_years": float(top[_COLUMN["other_years_only"]]),
        "chosen_article_name_share": float(top[_COLUMN["passage_article_name_share"]]),
        "chosen_topics_named": float(top[_COLUMN["passage_topics_named"]]),
        "chosen_years_named": float(top[_COLUMN["years_named"]]),
        "passages_name_share": max((h.features[_ARTICLE_NAMES] for h in hits), default=0.0),
        "sharp_type_missing": float(ctx.answer_type in SHARP_TYPES and not typed),
        "question_names": float(len(ctx.names)),
    }
    values.update({f"asks_{t}": float(ctx.answer_type == t) for t in ANSWER_TYPES})
    values.update(_agreement(ranked, len(chosen_rows)))
    values.update({f"top_{name}": float(v) for name, v in zip(SENTENCE_FEATURES, top, strict=True)})
    return values


def _agreement(ranked, chosen: int) -> dict[str, float]:
    """Whether the best sentences come from one article (the best one's) or are spread
    over many: one story telling the answer reads differently from scattered near-misses."""
    best = [c.hit.doc_id for c in ranked[:_TOP_SENTENCES]]
    articles = {c.hit.doc_id for c in ranked[:_TOP_ARTICLES]}
    share = sum(d == best[0] for d in best) / len(best) if best else 0.0
    return {
        "top_article_share": float(share),
        "articles_in_top": float(len(articles)),
        "sentences_chosen": float(chosen),
    }


def _padded(scores: list[float]) -> list[float]:
    """At least two scores, best first: a lone candidate counts as its own runner-up.
    Training always sees many candidates, so a sentinel far below them would read as
    a huge lead (a one-article library declined every question)."""
    return (scores + scores[-1:] * 2)[: max(2, len(scores))] if scores else [0.0, 0.0]


def compose(
    ctx: QuestionContext,
    hits: list[PassageHit],
    models: Models,
    max_sentences: int,
    keep: float,
    eligible=None,
    distinct: bool = False,
) -> Composition:
    """Rank the sentences of ``hits`` (ranked passages with features), choose the answer
    among those ``eligible`` keeps (a filter of ranked sentences; default all) and the
    probability that it answers the question."""
    ranked, rows = rank_sentences(ctx, hits, models)
    chosen = choose(eligible(ranked) if eligible else ranked, max_sentences, keep, distinct)
    position = {id(c): i for i, c in enumerate(ranked)}
    chosen_rows = rows[[position[id(c)] for c in chosen]]
    values = answer_values(ctx, hits, ranked, chosen_rows)
    probability = models.answer_probability(values) if chosen else 0.0
    return Composition(chosen, ranked, rows, values, probability)
