"""The ceiling experiment (docs/quality.md, "What was tried", fourth round): how far the learned
answer can go with more training weeks or longer quotes, out of fold on the training
sample. Not part of the product.

1. A learning curve of the abstention model: each fold's questions scored by a model
   fitted on 2, 4, 6 or all 8 of the other blocks (3 random draws below 8), at the
   shipped answer setting, each at its own out-of-fold threshold.
2. Quotes of 1 to 5 sentences instead of at most 3 (the shipped abstention refitted for
   each): what a longer answer buys in citation and answer hit.
3. The rankers with no abstention at all (the always-on checks only).
4. Reading 6 to 20 passages instead of 10 (the sentence ranker refitted for each).

Needs the vector cache of ``make train``, else it encodes (about 2 hours cold).

    PYTHONPATH=.:experiments python experiments/ceiling_experiment.py [--blocks 10]
"""

from __future__ import annotations

import random
import time

import numpy as np
from experiment_base import experiment_args, ranked_sets, sample_examples

SHOWN = ("citation_hit", "answer_hit", "unsupported_declined", "supported_declined")


def _line(label: str, figures: dict) -> None:
    shown = ", ".join(f"{k} {figures[k]:.3f}" for k in SHOWN if k in figures)
    extra = f", utility {figures['utility']:.3f}" if "utility" in figures else ""
    print(f"{label:>28}: {shown}{extra}", flush=True)


def abstention_curve(results, blocks, folds) -> None:
    """Out-of-fold figures with the abstention fitted on part of the other blocks."""
    from assistant.learn import train as T

    rows = np.asarray([r.values for r in results])
    labels = np.asarray([r.answered_right for r in results])
    names = sorted(set(blocks))
    most = min(len(names) - len(f) for f in folds)
    for size in sorted({2, 4, 6, most}):
        for draw in range(3 if size < most else 1):
            rng, probs = random.Random(draw), np.zeros(len(results))
            for fold in folds:
                inside = np.asarray([b in fold for b in blocks])
                use = set(rng.sample([b for b in names if b not in fold], size))
                fitted = np.asarray([b in use for b in blocks])
                model = T.fit_abstention(rows[fitted], labels[fitted])
                probs[inside] = T._probabilities(model, rows[inside])
            _line(f"abstention on {size} blocks, draw {draw}", T._figures(results, probs))


def longer_quotes(sets, folds, lookup, blocks) -> None:
    """Out-of-fold figures when the answer may quote up to 1-5 sentences."""
    from assistant.answer.topicality import ALWAYS_CHECKS
    from assistant.learn import train as T

    for cap in (1, 2, 3, 4, 5):
        results = T.outcomes(sets, 0.3, list(ALWAYS_CHECKS), lookup, max_sentences=cap)
        probs = T.oof_probabilities(results, blocks, folds)
        _line(f"up to {cap} sentences", T._figures(results, probs))


def passages_read(examples, folds, lookup) -> None:
    """Out-of-fold figures when the answer reads 6 to 20 passages instead of 10."""
    from assistant.answer.topicality import ALWAYS_CHECKS
    from assistant.learn import train as T
    from assistant.learn.evaluation import normalise

    for k in (6, 8, 10, 15, 20):
        sets = ranked_sets(examples, folds, k)
        results = T.outcomes(sets, 0.3, list(ALWAYS_CHECKS), lookup)
        blocks = [s.example.block for s in sets]
        figures = T._figures(results, T.oof_probabilities(results, blocks, folds))
        supported = [s for s in sets if s.example.supported]
        held = np.mean(
            [any(s.example.gold in normalise(c.hit.text) for c in s.cands) for s in supported]
        )
        _line(f"{k} passages (hold it: {held:.3f})", figures)


def main() -> None:
    from assistant.answer.topicality import ALWAYS_CHECKS
    from assistant.config import load_settings
    from assistant.learn import train as T

    args = experiment_args(10)
    start = time.perf_counter()
    examples, folds, articles = sample_examples(args.train, args.blocks)
    sets = ranked_sets(examples, folds, load_settings().k)
    blocks = [s.example.block for s in sets]
    results = T.outcomes(sets, 0.3, list(ALWAYS_CHECKS), articles.get)
    _line("no abstention", T.answer_metrics(results, np.ones(len(results)), 0.0))
    abstention_curve(results, blocks, folds)
    longer_quotes(sets, folds, articles.get, blocks)
    passages_read(examples, folds, articles.get)
    print(f"done ({time.perf_counter() - start:.0f} s)")


if __name__ == "__main__":
    main()
