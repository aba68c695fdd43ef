"""The shipped models, loaded once per process: the passage ranker, the sentence ranker
and the abstention model, fitted by ``assistant train`` (see ``fit``) and stored in
``assistant/answer/models/`` beside a manifest of the data, settings and held-out metrics
they came from.

Without model files (a fresh ``assistant train --out`` folder, say) passages keep their
reciprocal-rank-fusion order and sentences their cosine order, and nothing abstains on
the models' account.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np

from assistant.answer.features import (
    ANSWER_FEATURES,
    PASSAGE_FEATURES,
    SENTENCE_FEATURES,
    PassageHit,
    QuestionContext,
    passage_features,
)
from assistant.answer.trees import TreeEnsemble

MODELS_DIR = Path(__file__).parent / "models"
MANIFEST = "manifest.json"


class ModelError(RuntimeError):
    """The model files do not match the features this code computes."""


@dataclass
class Models:
    """The fitted models (any of them may be missing) and their manifest."""

    passage: TreeEnsemble | None = None
    sentence: TreeEnsemble | None = None
    abstain: dict | None = None  # features, threshold and (logistic) weights and bias
    abstain_trees: TreeEnsemble | None = None  # the boosted abstention model, when chosen
    manifest: dict = field(default_factory=dict)

    def rank_passages(self, ctx: QuestionContext, hits: list[PassageHit]) -> list[PassageHit]:
        """``hits`` best first, each with its ``score`` and its ``features`` row."""
        if not hits:
            return []
        rows = passage_features(ctx, hits)
        scores = self.passage.raw(rows) if self.passage else np.array([h.fused for h in hits])
        for hit, row, score in zip(hits, rows, scores, strict=True):
            hit.features, hit.score = row, float(score)
        return sorted(hits, key=lambda h: h.score, reverse=True)

    def sentence_scores(self, rows: np.ndarray) -> np.ndarray:
        """The sentence model's scores (without one: the sentences' cosines)."""
        if self.sentence is None:
            return rows[:, SENTENCE_FEATURES.index("cosine")] if len(rows) else np.zeros(0)
        return self.sentence.raw(rows)

    def answer_probability(self, values: dict[str, float]) -> float:
        """The calibrated probability that the chosen sentences answer the question."""
        if self.abstain is None:
            return 1.0
        if self.abstain_trees is not None:
            row = np.array([[values[name] for name in self.abstain["features"]]])
            z = float(self.abstain_trees.raw(row)[0])
        else:
            pairs = zip(self.abstain["features"], self.abstain["weights"], strict=True)
            z = self.abstain["bias"] + sum(w * values[name] for name, w in pairs)
        return 1.0 / (1.0 + math.exp(-z))

    @property
    def threshold(self) -> float:
        return float(self.abstain["threshold"]) if self.abstain else 0.0


def _check_columns(manifest: dict, name: str, expected: tuple[str, ...]) -> None:
    fitted = tuple(manifest.get("features", {}).get(name, ()))
    if fitted != expected:
        raise ModelError(
            f"the {name} model was fitted on other features than this code computes; "
            "refit with `assistant train`"
        )


def read_models(folder: Path) -> Models:
    """The models in ``folder`` (missing files are missing models)."""
    folder = Path(folder)
    manifest_path = folder / MANIFEST
    if not manifest_path.exists():
        return Models()
    manifest = json.loads(manifest_path.read_text())
    models = Models(manifest=manifest)
    if (folder / "passage.npz").exists():
        _check_columns(manifest, "passage", PASSAGE_FEATURES)
        models.passage = TreeEnsemble.load(folder / "passage.npz")
    if (folder / "sentence.npz").exists():
        _check_columns(manifest, "sentence", SENTENCE_FEATURES)
        models.sentence = TreeEnsemble.load(folder / "sentence.npz")
    if (folder / "abstain.json").exists():
        models.abstain = _read_abstention(folder)
        if models.abstain.get("kind") == "trees":
            models.abstain_trees = TreeEnsemble.load(folder / "abstain.npz")
    return models


def _read_abstention(folder: Path) -> dict:
    abstain = json.loads((folder / "abstain.json").read_text())
    unknown = set(abstain.get("features", ())) - set(ANSWER_FEATURES)
    if unknown:
        raise ModelError(
            f"the abstention model reads features this code does not compute "
            f"({', '.join(sorted(unknown))}); refit with `assistant train`"
        )
    return abstain


def models_folder(settings) -> str | None:
    """The models folder the settings name (``models_dir``), or None for the shipped."""
    folder = getattr(settings, "models_dir", None)
    return str(folder) if folder else None


@lru_cache(maxsize=4)
def load_models(folder: str | None = None) -> Models:
    """The shipped models (or those in ``folder``), read once per process."""
    return read_models(Path(folder) if folder else MODELS_DIR)
