"""Pure parts of the learning package: blocks and the held-out sample, the supported
label, the tree evaluator against LightGBM, the vector cache, case/accent folding and the
week figures with their intervals."""

from __future__ import annotations

import numpy as np
import pytest

from assistant.answer.query import names_found
from assistant.answer.trees import TreeEnsemble, from_lightgbm
from assistant.learn.vectors import VectorCache, text_key
from assistant.learn.weeks import (
    held_out_blocks,
    is_supported,
    make_blocks,
    support_text,
    training_blocks,
)
from assistant.terms import content_terms, fold


def _weeks(start: str, n: int) -> list[str]:
    from datetime import date, timedelta

    first = date.fromisoformat(start)
    return [(first + timedelta(days=7 * i)).isoformat() for i in range(n)]


def test_blocks_are_four_consecutive_weeks_and_a_gap_starts_a_new_block():
    names = _weeks("2022-06-17", 6) + _weeks("2024-01-05", 9)
    blocks = make_blocks(names)
    assert [len(b) for b in blocks] == [4, 2, 4, 4, 1]
    assert all(w in names for b in blocks for w in b)
    assert sum(len(b) for b in blocks) == len(names)


def test_held_out_blocks_are_fixed_full_and_disjoint_from_training():
    blocks = make_blocks(_weeks("2024-01-05", 52) + _weeks("2025-01-03", 52))
    held = held_out_blocks(blocks)
    assert held == held_out_blocks(blocks)  # a fixed rule, not a draw
    assert len(held) >= 4 and all(len(b) == 4 for b in held)
    training = training_blocks(blocks)
    assert not {w for b in held for w in b} & {w for b in training for w in b}
    assert len(training) + len(held) == len(blocks)


def test_supported_needs_the_answer_near_most_question_words():
    question = "Which company announced layoffs of 10,000 workers this week?"
    near = "Microsoft announced layoffs on Wednesday, cutting 10,000 workers from its staff."
    far = "Microsoft shares rose. " + "x " * 400 + "Layoffs of 10,000 workers were announced."
    assert is_supported(question, "Microsoft", [support_text(near)])
    assert not is_supported(question, "Microsoft", [support_text(far)])
    assert not is_supported(question, "Apple", [support_text(near)])


def test_supported_counts_at_least_two_question_words():
    # one content word ("capital") is not enough even if it is half of them
    assert not is_supported("What is the capital?", "Paris", [support_text("The capital Paris")])


def test_tree_ensemble_scores_like_lightgbm():
    lightgbm = pytest.importorskip("lightgbm")
    rng = np.random.default_rng(3)
    x = rng.normal(size=(400, 6)).astype(np.float32)
    y = (x[:, 0] + 0.5 * x[:, 1] * x[:, 2] > 0).astype(float)
    params = {"objective": "binary", "num_leaves": 7, "verbose": -1, "seed": 1}
    booster = lightgbm.train(params, lightgbm.Dataset(x, label=y), num_boost_round=40)
    ours = from_lightgbm(booster)
    fresh = rng.normal(size=(50, 6)).astype(np.float32)
    np.testing.assert_allclose(ours.raw(fresh), booster.predict(fresh, raw_score=True), atol=1e-9)


def test_tree_ensemble_round_trips_through_its_file(tmp_path):
    lightgbm = pytest.importorskip("lightgbm")
    x = np.arange(200, dtype=np.float32).reshape(100, 2)
    booster = lightgbm.train(
        {"objective": "regression", "verbose": -1, "min_data_in_leaf": 5},
        lightgbm.Dataset(x, label=x[:, 0] % 7),
        num_boost_round=10,
    )
    model = from_lightgbm(booster)
    model.save(tmp_path / "m.npz")
    again = TreeEnsemble.load(tmp_path / "m.npz")
    np.testing.assert_array_equal(again.raw(x), model.raw(x))


def test_vector_cache_keys_by_model_text_and_spans(tmp_path):
    cache = VectorCache(tmp_path / "v.sqlite")
    a = text_key("m", "passage", "text", [(0, 4)])
    assert a != text_key("m", "passage", "text", [(0, 3)])
    assert a != text_key("other", "passage", "text", [(0, 4)])
    cache.put({a: np.ones((2, 3), np.float32)})
    again = VectorCache(tmp_path / "v.sqlite").get([a, "missing"])
    assert list(again) == [a] and again[a].shape == (2, 3)


@pytest.mark.parametrize("typed", ["Montreal", "MONTREAL", "montréal"])
def test_names_and_terms_fold_case_and_accents(typed):
    text = "Café owners in Montréal protested the new tax."
    assert names_found([typed], text) == 1
    assert content_terms(f"cafe owners {typed}") <= content_terms(text)
    assert fold("São Paulo") == "sao paulo"


def test_a_small_library_holds_only_its_articles_and_retrieves_from_them():
    from assistant.learn.replay import BlockCorpus
    from assistant.store.articles import StoredChunk
    from assistant.store.lexical import LexicalIndex

    texts = {"a": ["The mayor resigned.", "The council voted."], "b": ["A storm hit the coast."]}
    chunks = [
        StoredChunk(f"{d}:{i}", t, {"doc_id": d, "title": ""})
        for d, ts in texts.items()
        for i, t in enumerate(ts)
    ]
    vectors = np.eye(3, dtype=np.float32)
    sentences = [np.ones((1, 3), dtype=np.float16) * i for i in range(3)]
    corpus = BlockCorpus(chunks, vectors, sentences, LexicalIndex.build(chunks, revision=1))
    small = corpus.subset({"a"})
    assert [c.chunk_id for c in small.chunks] == ["a:0", "a:1"]
    assert small.vectors.tolist() == vectors[:2].tolist()
    # more candidates asked for than the library holds: every chunk, best first
    hits = small.hits("mayor", np.array([0, 1, 0], dtype=np.float32), candidates=40)
    assert {h.chunk_id for h in hits} == {"a:0", "a:1"}
    assert small.lexical.search("storm", 5) == []


def _week_result(week: str, supported: bool, **fields):
    from assistant.learn.evaluate import WeekResult

    base = dict(
        id="q", week=week, block="b", question="?", gold="x", supported=supported,
        abstained=False, answer="", retrieval_rank=None, citation_hit=False,
        answer_hit=False, quotes=1, quotes_verbatim=1, latency_ms=10.0,
    )  # fmt: skip
    return WeekResult(**{**base, **fields})


def test_week_figures_split_supported_questions_and_count_decline_reasons():
    from assistant.learn.evaluate import markdown_table, summarise_weeks

    results = [
        _week_result("w1", True, retrieval_rank=1, citation_hit=True, answer_hit=True),
        _week_result("w1", True, abstained=True, declined_because="low_probability"),
        _week_result("w2", False, abstained=True, declined_because="names_missing"),
        _week_result("w2", False, retrieval_rank=3),
    ]
    summary = summarise_weeks(results, passages=10, rounds=50)
    m = summary["metrics"]
    assert (summary["questions"], summary["supported"], summary["weeks"]) == (4, 2, ["w1", "w2"])
    assert m["supported.citation_hit"]["value"] == 0.5 and m["all.citation_hit"]["value"] == 0.25
    assert m["supported.hit@1"]["value"] == 0.5 and m["all.hit@3"]["value"] == 0.5
    assert m["unsupported.declined"]["value"] == 0.5
    assert m["supported.wrongly_declined"]["value"] == 0.5
    low, high = m["all.citation_hit"]["low"], m["all.citation_hit"]["high"]
    assert 0.0 <= low <= 0.25 <= high <= 0.5  # resampling the two weeks
    assert summary["supported_declined_because"] == {"low_probability": 1}
    assert summary["unsupported_declined_because"] == {"names_missing": 1}
    table = markdown_table(summary)
    assert "| citation hit | 0.50 [" in table
    assert "Declined unsupported questions, by reason: names_missing 1." in table
    assert summary["supported_citation_losses"] == {
        "cited": 1, "declined": 1, "not_retrieved": 0, "not_quoted": 0,
    }  # fmt: skip
    assert "where their citations go: cited right 1, declined 1," in table


def test_week_figures_are_also_given_per_year_with_their_own_intervals():
    from assistant.learn.evaluate import markdown_table, summarise_weeks

    results = [
        _week_result("2024-03-01", True, retrieval_rank=1, citation_hit=True, answer_hit=True),
        _week_result("2024-03-08", True, retrieval_rank=2, citation_hit=True),
        _week_result("2025-05-02", True, abstained=True, declined_because="low_probability"),
        _week_result("2025-05-09", False, retrieval_rank=4),
    ]
    summary = summarise_weeks(results, passages=10, rounds=50)
    years = summary["by_year"]
    assert list(years) == ["2024", "2025"]
    assert (years["2024"]["questions"], years["2024"]["supported"]) == (2, 2)
    assert years["2024"]["metrics"]["supported.citation_hit"]["value"] == 1.0
    assert years["2025"]["metrics"]["supported.citation_hit"]["value"] == 0.0
    assert years["2025"]["metrics"]["supported.wrongly_declined"]["value"] == 1.0
    assert years["2025"]["weeks"] == ["2025-05-02", "2025-05-09"]
    assert summary["metrics"]["supported.citation_hit"]["value"] == round(2 / 3, 4)
    table = markdown_table(summary)
    assert "| figure | pooled | 2024 (2 of 2) | 2025 (1 of 2) |" in table
    assert "| citation hit, supported | 0.67 [" in table and "| 1.00 [1.00, 1.00] | 0.00 [" in table
    # one year only: the pooled figures are that year's, no second table
    one = summarise_weeks(results[:2], passages=10, rounds=10)
    assert one["by_year"] == {} and "By year" not in markdown_table(one)


def test_reliability_table_bins_answered_questions_by_their_probability():
    from assistant.learn.breakdown import reliability_markdown, reliability_table

    results = [
        _week_result("w", True, answer_probability=0.95, citation_hit=True, answer_hit=True),
        _week_result("w", True, answer_probability=1.0, citation_hit=True),
        _week_result("w", True, answer_probability=0.91, citation_hit=False),
        _week_result("w", False, answer_probability=0.15, citation_hit=False),
        _week_result("w", True, answer_probability=0.12, citation_hit=True),
        # declined: no observed outcome, left out; no probability: left out
        _week_result("w", True, abstained=True, answer_probability=0.05),
        _week_result("w", False, answer_probability=None),
    ]
    table = reliability_table(results)
    assert table["answered"] == 5
    low, high = table["bins"]
    assert (low["low"], low["high"], low["count"], low["citation_hit"]) == (0.1, 0.2, 2, 0.5)
    assert (high["low"], high["count"], high["predicted"]) == (0.9, 3, round(2.86 / 3, 4))
    assert (high["citation_hit"], high["answer_hit"]) == (round(2 / 3, 4), round(1 / 3, 4))
    gap = 2 * abs(0.135 - 0.5) + 3 * abs(2.86 / 3 - 2 / 3)
    assert table["ece"] == pytest.approx(gap / 5, abs=1e-3)
    lines = reliability_markdown({"pooled": table, "2025": reliability_table([])})
    assert (
        "| 0.9–1.0 | 3 | 0.95 | 0.67 | 0.33 |" in lines
        and "| 0.1–0.2 | 2 | 0.14 | 0.50 | 0.00 |" in lines
    )
    assert sum("Reliability" in line for line in lines) == 1  # a year with no answers: no table
    assert reliability_table([]) == {"answered": 0, "ece": None, "bins": []}


@pytest.mark.parametrize("which", [0, 1])
def test_abstention_models_answer_at_start_up_as_fitted(tmp_path, which):
    """Both kinds of abstention model (logistic, boosted trees) written by training and
    read back at start-up give the probabilities training computed out of fold."""
    import json

    pytest.importorskip("lightgbm")
    pytest.importorskip("sklearn")
    from assistant.answer.features import ANSWER_FEATURES
    from assistant.answer.ranking import read_models
    from assistant.learn.train import ABSTAIN_GRID, _probabilities, fit_abstention

    rng = np.random.default_rng(5)
    rows = rng.normal(size=(300, len(ANSWER_FEATURES)))
    labels = rows[:, 0] + rows[:, -1] > 0
    spec = ABSTAIN_GRID[which]
    described, trees = fit_abstention(rows, labels, spec)
    (tmp_path / "manifest.json").write_text("{}")
    (tmp_path / "abstain.json").write_text(json.dumps(described))
    if trees is not None:
        trees.save(tmp_path / "abstain.npz")
    models = read_models(tmp_path)
    fresh = rng.normal(size=(20, len(ANSWER_FEATURES)))
    expected = _probabilities((described, trees), fresh)
    got = [models.answer_probability(dict(zip(ANSWER_FEATURES, r, strict=True))) for r in fresh]
    np.testing.assert_allclose(got, expected, atol=1e-9)
    assert (models.abstain_trees is not None) == (spec.trees is not None)
    # the model separates what it was fitted on
    positive = fresh[:, 0] + fresh[:, -1] > 0
    assert expected[positive].mean() > expected[~positive].mean() + 0.2


def test_an_abstention_model_reading_unknown_features_fails_loudly(tmp_path):
    import json

    from assistant.answer.ranking import ModelError, read_models

    (tmp_path / "manifest.json").write_text("{}")
    described = {"kind": "logistic", "features": ["no_such"], "weights": [1.0], "bias": 0.0}
    (tmp_path / "abstain.json").write_text(json.dumps(described))
    with pytest.raises(ModelError, match="no_such"):
        read_models(tmp_path)


def test_training_takes_a_named_abstention_model_or_chooses_and_refuses_unknown_ones():
    from assistant.learn.train import ABSTAIN_GRID, abstention_specs

    assert abstention_specs("auto") == ABSTAIN_GRID
    assert [s.name for s in abstention_specs("logistic")] == ["logistic"]
    with pytest.raises(ValueError, match="unknown abstention model 'forest'"):
        abstention_specs("forest")


def _held_out_summary() -> dict:
    keys = ("blocks", "weeks", "questions", "supported", "metrics")
    return {k: [1] for k in keys} | {"supported_citation_losses": {}, "latency_ms": {}}


def test_a_held_out_run_at_default_settings_is_recorded_in_the_manifest(tmp_path, monkeypatch):
    import json

    from assistant.answer import ranking
    from assistant.config import load_settings
    from assistant.learn import cli

    monkeypatch.setattr(ranking, "MODELS_DIR", tmp_path)
    (tmp_path / ranking.MANIFEST).write_text(json.dumps({"weeks": ["2022-06-17"]}))
    cli.record_held_out(_held_out_summary(), load_settings())
    manifest = json.loads((tmp_path / ranking.MANIFEST).read_text())
    assert manifest["weeks"] == ["2022-06-17"] and manifest["held_out"]["questions"] == [1]


def test_a_diagnostic_held_out_run_leaves_the_manifest_alone(tmp_path, monkeypatch, capsys):
    from assistant.answer import ranking
    from assistant.config import load_settings
    from assistant.learn import cli

    monkeypatch.setattr(ranking, "MODELS_DIR", tmp_path)
    (tmp_path / ranking.MANIFEST).write_text('{"weeks": []}')
    cli.record_held_out(_held_out_summary(), load_settings(min_answer_probability=0.0))
    assert (tmp_path / ranking.MANIFEST).read_text() == '{"weeks": []}'
    assert "min_answer_probability not at default" in capsys.readouterr().err


def test_leaving_a_year_out_drops_every_block_with_a_week_in_it():
    from assistant.learn.weeks import WeeksError, leave_year_out, touches_year

    blocks = [["2022-12-16", "2022-12-23"], ["2024-12-27", "2025-01-03"], ["2025-02-07"]]
    assert touches_year(blocks[1], "2024") and touches_year(blocks[1], "2025")
    assert leave_year_out(blocks, "2025") == [blocks[0]]  # the New Year block goes too
    assert leave_year_out(blocks, "2022") == blocks[1:]
    with pytest.raises(WeeksError, match="no training block falls in 2023"):
        leave_year_out(blocks, "2023")


def test_the_evaluation_takes_one_year_of_the_named_blocks(tmp_path):
    from assistant.learn.cli import chosen_blocks
    from assistant.learn.weeks import WeeksError

    for week in ("2022-06-17", "2022-06-24", "2024-01-05", "2024-01-12"):
        (tmp_path / week).mkdir()
        (tmp_path / week / "questions.jsonl").write_text("")
    assert chosen_blocks(tmp_path, "all", "2024") == [["2024-01-05", "2024-01-12"]]
    assert len(chosen_blocks(tmp_path, "all")) == 2
    with pytest.raises(WeeksError, match="none of the all blocks has a week in 2025"):
        chosen_blocks(tmp_path, "all", "2025")


def test_a_models_folder_setting_is_what_answers_and_must_hold_models(tmp_path):
    import json
    import shutil

    from assistant.answer.extractive import ExtractiveAnswerer
    from assistant.answer.ranking import MODELS_DIR, load_models
    from assistant.config import SettingsError, load_settings

    shutil.copytree(MODELS_DIR, tmp_path / "loyo")
    abstain = json.loads((tmp_path / "loyo" / "abstain.json").read_text())
    abstain["threshold"] = 0.4321  # tell the copy from the shipped models
    (tmp_path / "loyo" / "abstain.json").write_text(json.dumps(abstain))
    settings = load_settings(models_dir=tmp_path / "loyo")
    answerer = ExtractiveAnswerer.from_settings(settings, embedder=None)
    assert answerer.min_probability == 0.4321
    assert load_models().threshold != 0.4321  # the shipped ones are untouched
    with pytest.raises(SettingsError, match="holds no learned models"):
        load_settings(models_dir=tmp_path)


def test_a_leave_one_year_out_fit_never_writes_the_shipped_models(tmp_path):
    from typer.testing import CliRunner

    from assistant.cli import app

    result = CliRunner().invoke(
        app, ["train", "--train-dir", str(tmp_path), "--leave-out-year", "2024"]
    )
    assert result.exit_code == 2 and "give --out DIR" in result.output
