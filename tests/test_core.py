"""The core flow on the seed article, with the real model and a real Chroma index."""

import dataclasses
import json
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from assistant.answer.extractive import ExtractiveAnswerer
from assistant.answer.ranking import load_models
from assistant.cli import app
from assistant.service import NO_ARTICLES
from tests.conftest import ROOT, SEED_FILE, SEEDS

CITATION_KEYS = {
    "marker",
    "doc_id",
    "chunk_id",
    "title",
    "source",
    "passage",
    "quote",
    "start",
    "end",
    "score",
}


def test_putin_south_korea_cites_big_mistake(seed_assistant):
    answer = seed_assistant.ask("What did Putin say about South Korea?")
    assert not answer.abstained
    assert any("big mistake" in c.passage for c in answer.citations)
    assert any("big mistake" in c.quote for c in answer.citations)


def test_spokesman_answer_quotes_matthew_miller(seed_assistant):
    answer = seed_assistant.ask("Who is the US State Department spokesman quoted?")
    assert not answer.abstained
    assert "Matthew Miller" in answer.answer
    assert any("Matthew Miller" in c.quote for c in answer.citations)


def test_names_missing_from_small_passages_are_found_in_their_article(seed_assistant):
    # the NATO passage calls Putin "the Russian president"; the article names him
    question = "What did Putin say about NATO?"
    passages, _ = seed_assistant.retriever.search(question, 10)
    nato = [p for p in passages if "NATO" in p.page_content and "Putin" not in p.page_content]
    assert nato, "the seed article has a NATO passage that does not name Putin"
    models = load_models()
    with_names = dataclasses.replace(models, manifest={**models.manifest, "checks": ["names"]})
    looked_up = ExtractiveAnswerer(
        seed_assistant.embedder,
        min_probability=0.0,
        library=seed_assistant.store,
        models=with_names,
    )
    answer = looked_up.answer(question, nato[:1])
    assert not answer.abstained and "NATO" in answer.citations[0].quote
    lacking_lookup = ExtractiveAnswerer(
        seed_assistant.embedder, min_probability=0.0, models=with_names
    )
    assert lacking_lookup.answer(question, nato[:1]).abstained


def test_uncovered_question_abstains(seed_assistant):
    answer = seed_assistant.ask("Who won the 2022 FIFA World Cup?")
    assert answer.abstained
    assert answer.citations == []
    assert answer.answer.startswith("The indexed articles don't say")


def test_an_empty_library_says_so_instead_of_blaming_the_articles(make_assistant):
    assistant = make_assistant()
    answer = assistant.ask("What did Putin say about South Korea?")
    assert answer.abstained and answer.citations == [] and answer.related == []
    assert answer.answer == NO_ARTICLES
    *deltas, streamed = list(assistant.ask_stream("Who won?"))
    assert streamed.answer == NO_ARTICLES == "".join(deltas)
    assistant.index([str(SEED_FILE)])
    assert assistant.ask("Who won the 2022 FIFA World Cup?").answer != NO_ARTICLES


@pytest.mark.parametrize(
    "question",
    [
        "What did Putin say about South Korea?",
        "What did Putin say about NATO?",
        "How did the United States react?",
        "Where was Putin visiting when he spoke?",
    ],
)
def test_every_sentence_is_cited_and_quotes_are_verbatim(seed_assistant, question):
    answer = seed_assistant.ask(question)
    source_text = SEED_FILE.read_text(encoding="utf-8")
    for citation in answer.citations:
        assert citation.quote in citation.passage
        assert source_text[citation.start : citation.end] == citation.quote
        stored = seed_assistant.store.get_document(citation.doc_id)
        assert stored.text[citation.start : citation.end] == citation.quote
    for sentence in answer.sentences:
        assert sentence.markers and f"{sentence.text} [{sentence.markers[0]}]" in answer.answer
        assert sentence.text in {c.quote for c in answer.citations}


def test_indexing_twice_changes_nothing(make_assistant):
    assistant = make_assistant()
    first = assistant.index([str(SEEDS)])
    count = assistant.store.chunk_count()
    second = assistant.index([str(SEEDS)])
    assert (first.added, second.added, second.unchanged) == (1, 0, 1)
    assert assistant.store.chunk_count() == count > 0


def test_changed_file_replaces_its_chunks(make_assistant, tmp_path):
    article = tmp_path / "a.txt"
    article.write_text("Old title\nThe first version says the mayor resigned on Monday.\n")
    assistant = make_assistant()
    assistant.index([str(article)])
    article.write_text("New title\nThe second version says the mayor stayed in office.\n")
    report = assistant.index([str(article)])
    assert report.updated == 1
    assert [s.title for s in assistant.sources()] == ["New title"]
    texts = [c.text for c in assistant.store.all_chunks()]
    assert texts == ["The second version says the mayor stayed in office."]


def test_opening_with_another_model_is_a_clear_error(seed_copy, embedder):
    from assistant.config import load_settings
    from assistant.store.articles import ArticleStore, ModelMismatchError

    class OtherModel:
        model_name, dimension = "other-model", embedder.dimension

    with pytest.raises(ModelMismatchError, match="reindex --rebuild"):
        ArticleStore(load_settings(index_dir=seed_copy), OtherModel())


def test_remove_by_source(make_assistant):
    assistant = make_assistant()
    assistant.index([str(SEEDS)])
    assert assistant.remove(str(SEED_FILE))
    assert assistant.sources() == []
    assert assistant.store.chunk_count() == 0
    assert assistant.ask("What did Putin say about South Korea?").abstained


def test_cli_json_contract(tmp_path, embedder):
    runner = CliRunner()
    index_dir = str(tmp_path / "idx")
    result = runner.invoke(app, ["index", str(SEEDS), "--index-dir", index_dir, "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert set(report) == {"added", "updated", "unchanged", "removed", "chunks", "errors", "merged"}
    assert report["added"] == 1 and report["chunks"] > 0

    result = runner.invoke(
        app, ["ask", "What did Putin say about South Korea?", "--index-dir", index_dir, "--json"]
    )
    assert result.exit_code == 0, result.output
    answer = json.loads(result.stdout)
    assert {"question", "answer", "abstained", "citations", "timings_ms"} <= set(answer)
    assert set(answer["timings_ms"]) >= {"retrieve", "answer"}
    for citation in answer["citations"]:
        assert set(citation) >= CITATION_KEYS
        assert citation["quote"] in citation["passage"]

    result = runner.invoke(app, ["sources", "--index-dir", index_dir, "--json"])
    listed = json.loads(result.stdout)
    keys = {"doc_id", "title", "source", "chunks", "indexed_at", "date", "outlet", "sources"}
    assert [set(s) for s in listed] == [keys]


def test_cli_questions_file_streams_one_object_per_line(tmp_path, seed_index_dir):
    questions = tmp_path / "q.jsonl"
    questions.write_text(
        '{"question": "What did Putin say about NATO?"}\n'
        '{"question": "Who won the 2022 FIFA World Cup?"}\n'
    )
    result = CliRunner().invoke(
        app, ["ask", "--questions", str(questions), "--index-dir", str(seed_index_dir), "--json"]
    )
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [a["abstained"] for a in lines] == [False, True]
    assert "NATO" in lines[0]["answer"]


def test_cli_on_an_empty_index_says_how_to_add_articles(tmp_path, embedder):
    result = CliRunner().invoke(app, ["ask", "Who won?", "--index-dir", str(tmp_path / "idx")])
    assert result.exit_code == 0, result.output
    assert NO_ARTICLES in result.stdout
    assert "holds no articles: add some with `assistant index" in result.stderr


def test_cli_text_output_lists_sources(seed_index_dir):
    result = CliRunner().invoke(
        app, ["ask", "What did Putin say about South Korea?", "--index-dir", str(seed_index_dir)]
    )
    assert result.exit_code == 0
    assert "[1]" in result.stdout and "Sources:" in result.stdout and "paragraph" in result.stdout


def test_python_dash_m_entry_point(seed_index_dir):
    """The real console entry, in a fresh process."""
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "assistant",
            "ask",
            "Who is Matthew Miller?",
            "--index-dir",
            str(seed_index_dir),
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stderr
    assert "Matthew Miller" in json.loads(proc.stdout)["answer"]


def test_bad_question_is_refused_before_any_work(seed_assistant):
    from assistant.service import QuestionError

    with pytest.raises(QuestionError, match="empty"):
        seed_assistant.ask("   ")
    with pytest.raises(QuestionError, match="limit"):
        seed_assistant.ask("x" * 5000)


def test_ask_stream_deltas_add_up_to_the_answer(seed_assistant):
    events = list(seed_assistant.ask_stream("What did Putin say about South Korea?"))
    final = events[-1]
    assert final.citations and not final.abstained
    assert "".join(e for e in events[:-1]) == final.answer
    assert set(final.timings_ms) == {"retrieve", "answer"}


MONTREAL = (
    "Café owners in Montréal protest a new terrace fee\n\n"
    "Published: 2024-06-03\n\n"
    "Dozens of café owners in Montréal protested on Monday against a new fee on sidewalk "
    "terraces, which the city council approved last month.\n\n"
    "The owners say the fee, charged per square metre of terrace, would cost a small café "
    "more than 4,000 dollars a season. A city spokeswoman said the money would pay for wider "
    "sidewalks.\n"
)


def test_names_typed_without_accents_find_the_accented_article(make_assistant, tmp_path):
    article = tmp_path / "montreal.txt"
    article.write_text(MONTREAL, encoding="utf-8")
    assistant = make_assistant()
    assistant.index([str(SEEDS), str(article)])
    for question in (
        "What did cafe owners in Montreal protest?",
        "What did café owners in Montréal protest?",
    ):
        answer = assistant.ask(question)
        assert not answer.abstained, question
        assert any("terrace" in c.quote for c in answer.citations), answer.answer
