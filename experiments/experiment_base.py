"""What the experiment scripts share (docs/quality.md, "What was tried"): the first sample blocks
of ``make train`` with their passage and sentence models fitted out of fold as
``assistant train`` does (from the vector cache of ``make train``, else it encodes), and
the measurement of extra sentence-ranker columns. Not part of the product."""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # the bundled models only, never a download

TRAIN_DIR = Path("../shared/train/realtimeqa-train")


def _shipped_params():
    """The passage and sentence tree settings the shipped models were chosen with."""
    from assistant.learn.fit import TreeParams

    return TreeParams("lambdarank", rounds=150, leaves=7), TreeParams(
        "binary", rounds=150, leaves=7
    )


def experiment_args(blocks: int, parser: argparse.ArgumentParser | None = None):
    """The command line every experiment takes: ``--train`` and ``--blocks``."""
    parser = parser or argparse.ArgumentParser()
    parser.add_argument("--train", type=Path, default=TRAIN_DIR)
    parser.add_argument("--blocks", type=int, default=blocks, help="sample blocks to score")
    return parser.parse_args()


def sample_examples(train_dir: Path, n_blocks: int):
    """The first ``n_blocks`` sample blocks' examples with passages ranked out of fold,
    the folds and the blocks' articles by doc id."""
    from assistant.config import load_settings
    from assistant.learn import train as T
    from assistant.learn.cli import cached_embedder
    from assistant.learn.fit import block_folds, out_of_fold, set_passage_scores

    settings = load_settings()
    embedder = cached_embedder(settings, Path("eval-results/cache/vectors.sqlite"))
    blocks = T.training_weeks(train_dir)[:n_blocks]
    cache = Path("eval-results/cache/blocks")
    examples, articles = T.build_examples(train_dir, blocks, embedder, settings, print, None, cache)
    folds = block_folds(examples, min(T.FOLDS, n_blocks))
    out_of_fold(examples, folds, T._fit_passages(_shipped_params()[0]), set_passage_scores)
    return examples, folds, articles


def ranked_sets(examples, folds, k: int):
    """The examples' sentences among their ``k`` best passages, ranked out of fold."""
    from assistant.learn import train as T

    sets = T.sentence_sets(examples, k)
    _rank_out_of_fold(sets, folds)
    return sets


def _rank_out_of_fold(sets, folds) -> None:
    from assistant.learn import train as T

    fit = T._fit_sentences(_shipped_params()[1])
    T._oof(T._by_block(sets), folds, fit, T._score_sentences)


def sample_sets(train_dir: Path, n_blocks: int):
    """The first ``n_blocks`` sample blocks' sentence sets, ranked out of fold, with the
    folds and the blocks' articles by doc id."""
    from assistant.config import load_settings

    examples, folds, articles = sample_examples(train_dir, n_blocks)
    return ranked_sets(examples, folds, load_settings().k), folds, articles


def measure(name: str, sets, folds, lookup, extra=None, columns=()) -> None:
    """Refit the sentence ranker out of fold with ``columns`` of ``extra`` (per set, one
    row per sentence; none: the shipped columns only) and report the top sentence, the
    best 3's passages and, at the shipped answer setting, citation and answer hit of
    supported questions and unsupported ones declined."""
    from assistant.answer.topicality import ALWAYS_CHECKS
    from assistant.learn import train as T
    from assistant.learn.evaluation import normalise

    plain = [s.rows for s in sets]
    if columns:
        for s, rows, more in zip(sets, plain, extra, strict=True):
            s.rows = np.hstack([rows, more[:, list(columns)]])
    _rank_out_of_fold(sets, folds)
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
    f = T._figures(results, T.oof_probabilities(results, [s.example.block for s in sets], folds))
    print(
        f"{name:>22}: top sentence {T.sentence_hits(sets)['top1']:.3f}, best 3's passages "
        f"{np.mean(best3):.3f}; citation / answer hit {f['citation_hit']:.3f} / "
        f"{f['answer_hit']:.3f}, unsupported declined {f['unsupported_declined']:.3f} "
        f"({len(supported)} supported)",
        flush=True,
    )


Variants = Callable[[list, list], Iterable[tuple[str, list[np.ndarray], list[int]]]]


def compare_columns(variants: Variants, blocks: int = 5) -> None:
    """The whole run of a column experiment: the sample sets, the shipped columns alone,
    then each (name, extra, columns) that ``variants(sets, folds)`` yields."""
    args = experiment_args(blocks)
    start = time.perf_counter()
    sets, folds, articles = sample_sets(args.train, args.blocks)
    print(f"sets ready ({time.perf_counter() - start:.0f} s)")
    measure("MiniLM only", sets, folds, articles.get)
    for name, extra, columns in variants(sets, folds):
        measure(name, sets, folds, articles.get, extra, columns)
    print(f"done ({time.perf_counter() - start:.0f} s)")
