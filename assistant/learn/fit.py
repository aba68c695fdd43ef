"""Fitting the rankers: LightGBM on the training blocks, folds by block.

Only ``assistant train`` imports this module (LightGBM is a training dependency).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from assistant.answer.trees import TreeEnsemble, from_lightgbm
from assistant.learn.dataset import Example


@dataclass
class TreeParams:
    """LightGBM settings of one ranker (chosen on held-out blocks)."""

    objective: str = "lambdarank"
    rounds: int = 200
    learning_rate: float = 0.05
    leaves: int = 15
    min_data_in_leaf: int = 20
    feature_fraction: float = 0.8
    bagging_fraction: float = 0.8
    extra: dict = field(default_factory=dict)

    def lightgbm(self) -> dict:
        params = {
            "objective": self.objective,
            "learning_rate": self.learning_rate,
            "num_leaves": self.leaves,
            "min_data_in_leaf": self.min_data_in_leaf,
            "feature_fraction": self.feature_fraction,
            "bagging_fraction": self.bagging_fraction,
            "bagging_freq": 1,
            "seed": 7,
            # the same data and settings give the same trees (the shipped files are
            # reproducible); one thread, since thread scheduling changes float sums
            "deterministic": True,
            "force_col_wise": True,
            "num_threads": 1,
            "verbose": -1,
            **self.extra,
        }
        if self.objective == "lambdarank":
            params["lambdarank_truncation_level"] = 20
        return params


def fit_trees(x: np.ndarray, y: np.ndarray, groups: list[int], params: TreeParams) -> TreeEnsemble:
    """A boosted-tree ranker (``groups``: rows per question, in order)."""
    import lightgbm

    data = lightgbm.Dataset(x, label=y.astype(float), group=groups if groups else None)
    booster = lightgbm.train(params.lightgbm(), data, num_boost_round=params.rounds)
    return from_lightgbm(booster)


def passage_rows(examples: list[Example]) -> tuple[np.ndarray, np.ndarray, list[int]]:
    """Passage features, labels and group sizes of the questions that teach ranking:
    supported ones with at least one candidate holding the answer."""
    usable = [e for e in examples if e.supported and e.labels.any()]
    if not usable:
        return np.zeros((0, 0)), np.zeros(0), []
    x = np.vstack([e.features for e in usable])
    y = np.concatenate([e.labels for e in usable])
    return x, y, [len(e.hits) for e in usable]


def block_folds(examples: list[Example], folds: int) -> list[set[str]]:
    """The blocks dealt round-robin into ``folds`` groups (every block in one fold)."""
    blocks = sorted({e.block for e in examples})
    return [set(blocks[i::folds]) for i in range(min(folds, len(blocks)))]


# --- the staged pipeline ----------------------------------------------------------------


def set_passage_scores(model: TreeEnsemble | None, examples: list[Example]) -> None:
    """Score and order every example's hits with ``model`` (None: fused order)."""
    for ex in examples:
        scores = model.raw(ex.features) if model else np.array([h.fused for h in ex.hits])
        order = np.argsort(-scores, kind="stable")
        for hit, row, score in zip(ex.hits, ex.features, scores, strict=True):
            hit.features, hit.score = row, float(score)
        ex.hits = [ex.hits[i] for i in order]
        ex.features = ex.features[order]
        ex.labels = ex.labels[order]


def out_of_fold(examples: list[Example], folds: list[set[str]], fit, apply) -> None:
    """For each fold: ``fit`` on the other folds' examples, ``apply`` the result to this
    fold's (so every example is scored by a model that never saw its block)."""
    for fold in folds:
        inside = [e for e in examples if e.block in fold]
        outside = [e for e in examples if e.block not in fold]
        apply(fit(outside), inside)
