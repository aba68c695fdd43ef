"""The evaluation harness: scoring rules, the index cache, and the seed-set targets."""

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from assistant.cli import app
from assistant.learn.eval_report import markdown_report, write_outputs
from assistant.learn.evaluation import (
    EvalError,
    QuestionResult,
    citation_losses,
    contains_gold,
    index_key,
    load_questions,
    run_eval,
    summarise,
)
from assistant.schema import DECLINE_REASONS
from tests.conftest import ROOT, SEEDS

SEED_QUESTIONS = ROOT / "tests" / "seed_questions.jsonl"


def _result(**fields) -> QuestionResult:
    base = dict(
        id="q",
        question="?",
        gold="x",
        unanswerable=False,
        abstained=False,
        answer="",
        retrieval_rank=None,
        citation_hit=False,
        answer_hit=False,
        quotes=1,
        quotes_verbatim=1,
        latency_ms=10.0,
    )
    return QuestionResult(**{**base, **fields})


def test_supported_figures_count_only_the_questions_the_corpus_supports():
    results = [
        _result(supported=True, citation_hit=True, answer_hit=True),
        _result(supported=True, abstained=True, quotes=0, quotes_verbatim=0),
        _result(abstained=True, quotes=0, quotes_verbatim=0),
        _result(citation_hit=True),
    ]
    sup = summarise(results, passages=10)["supported"]
    assert (sup["questions"], sup["unsupported"]) == (2, 2)
    assert (sup["citation_hit"], sup["answer_hit"], sup["wrongly_declined"]) == (0.5, 0.5, 0.5)
    assert sup["unsupported_declined"] == 0.5


def test_citation_losses_say_whether_retrieval_or_sentence_choice_missed():
    results = [
        _result(supported=True, retrieval_rank=2, citation_hit=True),
        _result(supported=True, retrieval_rank=2),  # read, but no quote from it
        _result(supported=True, retrieval_rank=11),  # beyond the 10 passages read
        _result(supported=True),  # not retrieved at all
        _result(supported=True, retrieval_rank=1, abstained=True, quotes=0, quotes_verbatim=0),
        _result(retrieval_rank=1),  # unsupported: not counted
    ]
    losses = citation_losses(results, passages=10)
    assert losses == {"cited": 1, "declined": 1, "not_retrieved": 2, "not_quoted": 1}
    assert citation_losses(results, passages=12)["not_quoted"] == 2
    assert summarise(results, passages=10)["supported"]["citation_losses"] == losses


@pytest.mark.parametrize(
    ("text", "gold", "expected"),
    [
        ("It was won by the New  York\nYankees.", "new york yankees", True),
        ("the book “Hillbilly Elegy” sold well", '"Hillbilly Elegy"', True),
        ("I’m a Celebrity… Get Me Out of Here!", "I'm a Celebrity... get me out of here!", True),
        ("New Yorkers voted", "New York Yankees", False),
        ("anything", "   ", False),
    ],
)
def test_gold_matching_is_case_space_and_quote_normalised(text, gold, expected):
    assert contains_gold(text, gold) is expected


def test_summary_counts_hits_abstentions_and_fidelity():
    results = [
        _result(retrieval_rank=1, citation_hit=True, answer_hit=True, latency_ms=10),
        _result(retrieval_rank=4, citation_hit=True, latency_ms=20),
        _result(
            abstained=True,
            quotes=0,
            quotes_verbatim=0,
            latency_ms=30,
            declined_because="low_probability",
        ),
        _result(unanswerable=True, abstained=True, quotes=0, quotes_verbatim=0, latency_ms=40),
        _result(unanswerable=True, quotes=2, quotes_verbatim=1, latency_ms=50),
    ]
    s = summarise(results, passages=10)
    assert (s["answerable"], s["unanswerable"]) == (3, 2)
    assert s["hit_at"] == {"1": 0.3333, "3": 0.3333, "5": 0.6667, "10": 0.6667}
    assert (s["citation_hit"], s["answer_hit"]) == (0.6667, 0.3333)
    assert (s["unanswerable_declined"], s["answerable_declined"]) == (0.5, 0.3333)
    assert s["answerable_declined_because"] == {"low_probability": 1}
    # none is marked supported: the supported figures are empty, the declines counted
    assert s["supported"]["questions"] == 0 and s["supported"]["citation_hit"] is None
    assert s["supported"]["unsupported_declined"] == 0.3333
    assert s["quote_fidelity"] == 0.75
    assert s["latency_ms"]["p50"] == 30.0


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("not json", "not valid JSON"),
        ('["a list"]', "expected a JSON object"),
        ('{"id": "1", "question": "Who?"}', "missing or empty answer"),
    ],
)
def test_bad_question_lines_name_the_line(tmp_path, line, message):
    path = tmp_path / "q.jsonl"
    path.write_text('{"id": "0", "question": "Who?", "answer": "x"}\n\n' + line + "\n")
    with pytest.raises(EvalError, match=f"q.jsonl:3: {message}"):
        load_questions(path)


def test_duplicate_ids_are_rejected(tmp_path):
    path = tmp_path / "q.jsonl"
    path.write_text('{"id": "a", "question": "Who?", "answer": "x"}\n' * 2)
    with pytest.raises(EvalError, match="duplicate id 'a'"):
        load_questions(path)


def test_index_key_follows_corpus_and_indexing_settings(tmp_path, make_settings):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "a.txt").write_text("Title\nSome text about a mayor.\n")
    settings = make_settings()
    key = index_key(corpus, settings)
    assert index_key(corpus, make_settings(k=9)) == key  # k only shapes answering
    assert index_key(corpus, make_settings(max_chunk_tokens=100)) != key
    (corpus / "a.txt").write_text("Title\nSome text about a governor.\n")
    assert index_key(corpus, settings) != key


def test_cli_rejects_bad_inputs_before_indexing(tmp_path):
    runner = CliRunner()
    empty = tmp_path / "empty"
    empty.mkdir()
    cases = [
        ([str(tmp_path / "missing.jsonl"), "--corpus", str(SEEDS)], "cannot read"),
        ([str(SEED_QUESTIONS), "--corpus", str(empty)], "holds no supported article files"),
        ([str(SEED_QUESTIONS), "--corpus", str(tmp_path / "nope")], "is not a folder"),
    ]
    for args, message in cases:
        result = runner.invoke(app, ["eval", *args, "--out", str(tmp_path / "out")])
        assert result.exit_code == 2
        assert message in result.output
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
def test_seed_set_meets_its_targets_and_reuses_the_index(tmp_path, make_settings, embedder):
    settings = make_settings()
    cache = tmp_path / "cache"
    run = run_eval(SEED_QUESTIONS, SEEDS, settings, cache, embedder=embedder)
    s = run.summary
    assert s["answerable"] >= 15 and s["unanswerable"] >= 4
    missed = [r.id for r in run.results if not r.unanswerable and not r.citation_hit]
    answered = [r.id for r in run.results if r.unanswerable and not r.abstained]
    declined = [r.id for r in run.results if not r.unanswerable and r.abstained]
    # every answerable one cites a passage holding its answer (the small-library training
    # examples made this hold; see docs/quality.md, "The seed article")
    assert missed == []
    assert (answered, declined) == ([], [])
    supported = [r for r in run.results if r.supported]
    assert len(supported) >= 10 and not any(r.unanswerable for r in supported)
    assert s["supported"]["citation_hit"] == 1.0
    reasons = {r.declined_because for r in run.results if r.unanswerable}
    assert "" not in reasons and reasons <= set(DECLINE_REASONS), reasons
    assert s["quote_fidelity"] == 1.0
    assert not s["run"]["index_reused"]

    again = run_eval(SEED_QUESTIONS, SEEDS, settings, cache, embedder=embedder)
    assert again.summary["run"]["index_reused"]
    assert [r.cited for r in again.results] == [r.cited for r in run.results]

    paths = write_outputs(run, tmp_path / "out", "seed")
    payload = json.loads((tmp_path / "out" / "seed.json").read_text())
    cited = payload["summary"]["citation_hit"]
    assert cited == s["citation_hit"] and len(payload["results"]) == len(run.results)
    assert Path(paths["plot"]).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert f"| citation hit | {cited:.2f} |" in markdown_report(run)


@pytest.mark.slow
def test_corpus_given_through_parent_folder_is_indexed(
    tmp_path, make_settings, embedder, monkeypatch
):
    # `make eval` passes ../shared/...; the indexer refuses '..' in paths it is given
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "mayor.txt").write_text("Mayor\n\nThe mayor of Springfield is Jane Doe.\n")
    questions = tmp_path / "q.jsonl"
    questions.write_text('{"id": "1", "question": "Who is the mayor?", "answer": "Jane Doe"}\n')
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    run = run_eval(questions, Path("../corpus"), make_settings(), tmp_path / "c", embedder=embedder)
    assert run.summary["run"]["chunks"] == 1 and run.summary["citation_hit"] == 1.0


@pytest.mark.slow
def test_corpus_that_fails_to_index_raises_and_caches_nothing(tmp_path, make_settings, embedder):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "good.txt").write_text("Mayor\n\nThe mayor of Springfield is Jane Doe.\n")
    (corpus / "empty.txt").write_text("   \n")
    questions = tmp_path / "q.jsonl"
    questions.write_text('{"id": "1", "question": "Who is the mayor?", "answer": "Jane Doe"}\n')
    cache = tmp_path / "cache"
    with pytest.raises(EvalError, match="empty file"):
        run_eval(questions, corpus, make_settings(), cache, embedder=embedder)
    assert not any(cache.glob("*/eval-index.json"))


def test_the_off_corpus_questions_make_eval_asks_are_well_formed():
    questions = load_questions(ROOT / "tests" / "realtimeqa_offcorpus_questions.jsonl")
    assert len(questions) >= 15 and all(q.unanswerable for q in questions)
