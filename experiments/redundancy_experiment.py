"""The answer-redundancy experiment (docs/quality.md, "What was tried"): whether a sentence's
candidate answers (words of the asked type the question lacks) recur in the other
articles read for the question, measured as extra features of the sentence ranker.

News tells one fact in many stories: the answer to a quiz question about the week's news
is often named by several of the articles retrieved for it, while a near-miss sentence's
names are its own. Needs the vector cache of ``make train``, else it encodes.

    PYTHONPATH=. python experiments/redundancy_experiment.py [--blocks 5]
"""

from __future__ import annotations

import numpy as np
from experiment_base import compare_columns

COLUMNS = ("other_articles", "other_article_share", "other_passages_weighted", "candidates")


def candidates(text: str, kind: str, asked: set[str]) -> set[str]:
    """The folded words of ``text`` that could answer a question of ``kind``: of that
    kind when it is typed, else names and numbers; never words the question holds."""
    from assistant.answer.query import _WORD, _is_kind, _norm

    words = _WORD.findall(text)
    kinds = (kind,) if kind != "any" else ("named", "number")
    out = {_norm(w) for i, w in enumerate(words) if any(_is_kind(w, words, i, k) for k in kinds)}
    return {w for w in out if len(w) > 1 and w not in asked}


def redundancy_columns(sets) -> list[np.ndarray]:
    """Per sentence set: for each sentence, how many other read articles name one of its
    candidates (the most for any candidate), that as a share of the other articles, the
    rank-weighted count of other passages naming it, and how many candidates it has."""
    from assistant.answer.query import _WORD, _norm

    out = []
    for s in sets:
        ctx = s.example.context
        asked = {_norm(w) for w in _WORD.findall(ctx.question)}
        hits = list({c.hit.chunk_id: c.hit for c in s.cands}.values())
        words = [frozenset(_norm(w) for w in _WORD.findall(h.text)) for h in hits]
        rows = [_sentence_row(c, hits, words, ctx.answer_type, asked) for c in s.cands]
        out.append(np.array(rows, dtype=np.float32).reshape(len(s.cands), len(COLUMNS)))
    return out


def _sentence_row(cand, hits, words, kind, asked) -> list[float]:
    found = candidates(cand.text, kind, asked)
    if not found:
        return [0.0] * len(COLUMNS)
    own = cand.hit.doc_id
    others = {h.doc_id for h in hits} - {own}
    best_articles, best_weighted = 0, 0.0
    for word in found:
        holding = [i for i, held in enumerate(words) if word in held and hits[i].doc_id != own]
        best_articles = max(best_articles, len({hits[i].doc_id for i in holding}))
        best_weighted = max(best_weighted, sum(1.0 / (i + 1) for i in holding))
    share = best_articles / len(others) if others else 0.0
    return [float(best_articles), share, best_weighted, float(len(found))]


def variants(sets, folds):
    """All four redundancy columns, then the article count and share alone."""
    extra = redundancy_columns(sets)
    yield "+ redundancy", extra, [0, 1, 2, 3]
    yield "+ articles, share", extra, [0, 1]


if __name__ == "__main__":
    compare_columns(variants)
