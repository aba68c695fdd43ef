"""Training runs end to end on a two-week sample of the training data, and the shipped
models load, match their manifest and were fitted on no held-out week."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from assistant.answer.features import PASSAGE_FEATURES, SENTENCE_FEATURES
from assistant.answer.ranking import MANIFEST, MODELS_DIR, ModelError, read_models
from assistant.learn.train import training_weeks
from assistant.learn.weeks import block_name, held_out_blocks, make_blocks, week_names
from tests.conftest import ROOT


def train_dir() -> Path | None:
    """The training weeks: $NEWS_TRAIN_DIR, else ``shared/train`` beside the checkout."""
    candidates = [os.environ.get("NEWS_TRAIN_DIR")] + [
        str(base / "shared" / "train" / "realtimeqa-train") for base in ROOT.parents[:2]
    ]
    for candidate in filter(None, candidates):
        if Path(candidate).is_dir():
            return Path(candidate)
    return None


needs_data = pytest.mark.skipif(train_dir() is None, reason="the training weeks are not here")


def test_the_shipped_models_load_and_match_their_manifest():
    manifest = json.loads((MODELS_DIR / MANIFEST).read_text())
    models = read_models(MODELS_DIR)
    assert models.passage is not None and models.sentence is not None
    assert manifest["features"]["passage"] == list(PASSAGE_FEATURES)
    assert manifest["features"]["sentence"] == list(SENTENCE_FEATURES)
    assert models.abstain["features"] == manifest["features"]["answer"]
    assert 0.0 < models.threshold < 1.0
    # the trees read exactly the columns the features give
    assert int(models.passage.feature.max()) < len(PASSAGE_FEATURES)
    assert int(models.sentence.feature.max()) < len(SENTENCE_FEATURES)
    for name in ("passage.npz", "sentence.npz", "abstain.json", MANIFEST):
        assert (MODELS_DIR / name).stat().st_size < 2_000_000  # small files


@needs_data
def test_the_shipped_models_never_saw_a_held_out_week():
    manifest = json.loads((MODELS_DIR / MANIFEST).read_text())
    held = {w for b in held_out_blocks(make_blocks(week_names(train_dir()))) for w in b}
    assert manifest["trained_on"]["weeks"] and not held & set(manifest["trained_on"]["weeks"])


@needs_data
def test_the_shipped_models_come_from_the_default_training_sample():
    """``make train`` (no options) refits exactly what ships: the same blocks."""
    manifest = json.loads((MODELS_DIR / MANIFEST).read_text())
    sample = training_weeks(train_dir())
    assert manifest["trained_on"]["blocks"] == [block_name(b) for b in sample]
    assert len(sample) < len(training_weeks(train_dir(), all_blocks=True))


def test_models_fitted_on_other_features_are_refused(tmp_path):
    manifest = json.loads((MODELS_DIR / MANIFEST).read_text())
    manifest["features"]["passage"] = manifest["features"]["passage"][:-1]
    for name in ("passage.npz", "sentence.npz", "abstain.json"):
        (tmp_path / name).write_bytes((MODELS_DIR / name).read_bytes())
    (tmp_path / MANIFEST).write_text(json.dumps(manifest))
    with pytest.raises(ModelError, match="assistant train"):
        read_models(tmp_path)


@needs_data
@pytest.mark.slow
def test_training_runs_on_a_two_week_sample(tmp_path, embedder):
    from assistant.config import load_settings
    from assistant.learn.train import train
    from assistant.learn.vectors import CachingEmbedder, VectorCache

    weeks = ["2022-06-17", "2022-06-24"]  # training weeks (never held out)
    cached = CachingEmbedder(embedder, VectorCache(tmp_path / "vectors.sqlite"))

    def train_into(folder: str):
        return train(
            train_dir(),
            tmp_path / folder,
            cached,
            load_settings(index_dir=tmp_path / "index"),
            progress=lambda message: None,
            blocks=[[w] for w in weeks],
            max_articles=25,
        )

    report = train_into("models")
    assert report.weeks == weeks and report.questions > 40
    assert 0 < report.small_library <= report.questions // 3 + 1
    models = read_models(tmp_path / "models")
    manifest = json.loads((tmp_path / "models" / MANIFEST).read_text())
    assert manifest["trained_on"]["weeks"] == weeks
    rows = np.zeros((3, len(PASSAGE_FEATURES)), dtype=np.float32)
    assert models.passage.raw(rows).shape == (3,)
    assert 0.0 <= models.threshold < 1.0
    # the run is reproducible: a second one writes the same trees
    again = train_into("again")
    assert again.passage["chosen"] == report.passage["chosen"]
    first = np.load(tmp_path / "models" / "passage.npz")["value"]
    second = np.load(tmp_path / "again" / "passage.npz")["value"]
    np.testing.assert_allclose(first, second)


@needs_data
def test_training_refuses_held_out_weeks(tmp_path, embedder):
    from assistant.config import load_settings
    from assistant.learn.train import train

    held = held_out_blocks(make_blocks(week_names(train_dir())))[0]
    with pytest.raises(ValueError, match="held-out"):
        train(train_dir(), tmp_path, embedder, load_settings(), blocks=[held[:1], held[1:2]])


@needs_data
def test_evaluation_over_a_training_week_labels_and_scores_its_questions(tmp_path, embedder):
    from assistant.config import load_settings
    from assistant.learn.evaluate import evaluate_blocks
    from assistant.learn.weeks import is_supported, load_week, support_text

    week = "2022-06-17"
    summary, results = evaluate_blocks(
        train_dir(),
        [[week]],
        load_settings(index_dir=tmp_path / "index"),
        tmp_path / "cache",
        embedder,
        progress=lambda message: None,
        max_articles=25,
    )
    loaded = load_week(train_dir() / week, 25)
    texts = [support_text(d.text) for d in loaded.documents]
    assert [r.id for r in results] == [q.id for q in loaded.questions]
    for r, q in zip(results, loaded.questions, strict=True):
        # the week's own label (is the gold in some article near the question's words)
        assert r.supported == (q.in_corpus and is_supported(q.question, q.answer, texts))
        assert (r.declined_because != "") == r.abstained
    assert summary["questions"] == len(results) and summary["weeks"] == [week]
    assert summary["metrics"]["quote_fidelity"]["value"] == 1.0
