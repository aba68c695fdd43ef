"""Server mode against a real ``chroma run`` server: processes that share one server
see each other's writes on their next query, and a replica (another folder) takes the
sentence vectors from the server instead of encoding them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.server import chroma_server
from tests.conftest import ROOT, SEEDS

pytestmark = pytest.mark.slow

FESTIVAL = (
    "Zeppelin festival draws record crowd\n\n"
    "The annual zeppelin festival in Friedrichshafen drew 48,000 visitors on Saturday, "
    "organisers said.\n\n"
    "The airship maker opened its hangars to the public for the first time since 2019.\n"
)
FESTIVAL_QUESTION = "How many visitors did the zeppelin festival in Friedrichshafen draw?"
PUTIN_QUESTION = "What did Putin say about South Korea?"


@pytest.fixture(scope="module")
def chroma_url(tmp_path_factory):
    """A real Chroma server on a free port, stopped after this module."""
    with chroma_server(tmp_path_factory.mktemp("chroma-server") / "data") as url:
        yield url


def _cli(url: str, index_dir: Path, collection: str, *args: str) -> dict:
    """One ``python -m assistant ... --json`` process against the server."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ASSISTANT_")}
    env |= {"ASSISTANT_COLLECTION": collection, "HF_HUB_OFFLINE": "1"}
    proc = subprocess.run(
        [sys.executable, "-m", "assistant", *args]
        + ["--chroma-url", url, "--index-dir", str(index_dir), "--json"],
        capture_output=True, text=True, timeout=600, cwd=ROOT, env=env,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_a_write_by_one_process_is_seen_by_the_others_next_query(
    chroma_url, tmp_path, make_settings, embedder
):
    from assistant.service import Assistant

    collection = "two-processes"
    writer_dir, reader_dir = tmp_path / "writer", tmp_path / "reader"
    assert _cli(chroma_url, writer_dir, collection, "index", str(SEEDS))["added"] == 1

    reader = Assistant(
        make_settings(chroma_url=chroma_url, index_dir=reader_dir, collection=collection),
        embedder=embedder,
    )
    putin = reader.ask(PUTIN_QUESTION)
    assert any("big mistake" in c.quote for c in putin.citations)
    assert reader.ask(FESTIVAL_QUESTION).abstained

    article = tmp_path / "festival.txt"
    article.write_text(FESTIVAL, encoding="utf-8")
    report = _cli(chroma_url, writer_dir, collection, "index", str(article))
    assert report["added"] == 1

    festival = reader.ask(FESTIVAL_QUESTION)  # the same long-lived reader, next query
    assert not festival.abstained
    assert any("48,000 visitors" in c.quote for c in festival.citations)

    third = _cli(chroma_url, tmp_path / "third", collection, "ask", FESTIVAL_QUESTION)
    assert third["answer"] == festival.answer
    assert [c["chunk_id"] for c in third["citations"]] == [c.chunk_id for c in festival.citations]

    removed = _cli(chroma_url, writer_dir, collection, "remove", str(article))
    assert removed["removed"] == [c.doc_id for c in festival.citations if "48,000" in c.quote]
    assert reader.ask(FESTIVAL_QUESTION).abstained
    assert reader.ask(PUTIN_QUESTION).answer == putin.answer


def test_every_assistant_operation_works_in_server_mode(
    chroma_url, tmp_path, make_settings, embedder
):
    from assistant.service import Assistant
    from assistant.web.app import build_app

    settings = make_settings(chroma_url=chroma_url, collection="in-process")
    assistant = Assistant(settings, embedder=embedder)
    other = Assistant(
        make_settings(chroma_url=chroma_url, collection="in-process", index_dir=tmp_path / "o"),
        embedder=embedder,
    )
    article = tmp_path / "festival.txt"
    article.write_text(FESTIVAL, encoding="utf-8")

    report = assistant.index([str(SEEDS), str(article)])
    assert (report.added, report.errors) == (2, [])
    assert assistant.index([str(SEEDS), str(article)]).unchanged == 2
    assert assistant.reindex().unchanged == 2
    assert sorted(s.title for s in other.sources()) == sorted(s.title for s in assistant.sources())
    events = list(other.ask_stream(FESTIVAL_QUESTION))
    assert "48,000" in events[-1].answer and "".join(events[:-1]) == events[-1].answer
    assert build_app(other) is not None  # the UI builds on a server-mode assistant

    assert assistant.remove(str(article))
    assert other.ask(FESTIVAL_QUESTION).abstained
    assistant.index([str(article)])
    article.unlink()
    assert assistant.index([str(tmp_path)], sync=True).removed == 1  # file gone: forgotten
    assert other.ask(FESTIVAL_QUESTION).abstained
    assert [s.source for s in other.sources()] == [s.source for s in assistant.sources()]
    assert len(other.sources()) == 1


@pytest.fixture
def open_at(make_settings, embedder):
    """An assistant on a Chroma server with its own local folder."""
    from assistant.service import Assistant

    def build(url: str, folder: Path, collection: str = "articles"):
        settings = make_settings(chroma_url=url, collection=collection, index_dir=folder)
        return Assistant(settings, embedder=embedder)

    return build


def _count_passes(monkeypatch, embedder) -> list[int]:
    """Record every in-context encoding (``encode_passages``) from now on: its batch size."""
    passes: list[int] = []
    real = embedder.encode_passages

    def counting(texts, spans):
        passes.append(len(texts))
        return real(texts, spans)

    monkeypatch.setattr(embedder, "encode_passages", counting)
    return passes


def _sentence_rows(store) -> dict[str, int]:
    """Sentences per chunk id in the store's sentence collection on the server."""
    got = store.sentences.layers[1].collection.get(include=["metadatas"])
    return {i: m["sentences"] for i, m in zip(got["ids"], got["metadatas"], strict=True)}


def _sentence_counts(store) -> dict[str, int]:
    return {c.chunk_id: len(json.loads(c.metadata["sentences"])) for c in store.all_chunks()}


def _quotes(answer) -> list[tuple[str, str]]:
    return [(c.chunk_id, c.quote) for c in answer.citations]


def _writer_with_festival(open_at, chroma_url: str, tmp_path: Path, collection: str):
    """A writer on its own folder that indexed the seeds and the festival article (whose
    file is returned too, for edits)."""
    writer = open_at(chroma_url, tmp_path / "writer", collection)
    article = tmp_path / "festival.txt"
    article.write_text(FESTIVAL, encoding="utf-8")
    writer.index([str(SEEDS), str(article)])
    return writer, article


def test_a_replica_takes_sentence_vectors_from_the_server_and_answers_alike(
    chroma_url, tmp_path, open_at, embedder, monkeypatch
):
    writer, _ = _writer_with_festival(open_at, chroma_url, tmp_path, "replica")
    expected = [writer.ask(q) for q in (PUTIN_QUESTION, FESTIVAL_QUESTION)]
    assert not any(a.abstained for a in expected)

    passes = _count_passes(monkeypatch, embedder)
    replica = open_at(chroma_url, tmp_path / "replica", "replica")  # an empty folder
    for answer in expected:
        again = replica.ask(answer.question)
        assert (again.answer, _quotes(again)) == (answer.answer, _quotes(answer))
    assert passes == []  # no sentence was encoded
    assert set(writer.store.sentence_sources) == {"sidecar"}  # the writer reads its folder
    assert set(replica.store.sentence_sources) == {"sidecar", "server"}
    assert replica.store.sentence_sources["sidecar"] == 0
    server = replica.store.sentences.layers[1]
    fetches = server.fetches
    assert replica.ask(PUTIN_QUESTION).answer == expected[0].answer
    assert server.fetches == fetches  # kept in the process: no second round trip


def test_sentence_vectors_on_the_server_follow_their_chunks(
    chroma_url, tmp_path, open_at, embedder, monkeypatch
):
    from assistant.store.rebuild import rebuild_index

    writer, article = _writer_with_festival(open_at, chroma_url, tmp_path, "follow")
    first = _sentence_rows(writer.store)
    assert first == _sentence_counts(writer.store)

    article.write_text(FESTIVAL.replace("48,000", "52,000"), encoding="utf-8")
    assert writer.index([str(article)]).updated == 1  # a new article; the old one goes
    second = _sentence_rows(writer.store)
    assert second == _sentence_counts(writer.store) and set(second) != set(first)

    replica = open_at(chroma_url, tmp_path / "replica", "follow")
    assert "52,000" in replica.ask(FESTIVAL_QUESTION).answer
    rebuild_index(writer.settings, embedder)  # a new chunk collection, a new sentence one
    writer.store.reopen()
    names = {c.name for c in writer.store.client.list_collections()}
    rebuilt = {n for n in names if n.startswith("follow-sentences-")}
    assert rebuilt == {f"follow-sentences-{writer.store.chunks.id}"}  # the old one dropped
    assert _sentence_rows(writer.store) == second  # chunk ids are the same after a rebuild

    passes = _count_passes(monkeypatch, embedder)
    assert "52,000" in replica.ask(FESTIVAL_QUESTION).answer  # rebinds, reads the new one
    assert passes == []
    assert writer.remove(str(article))
    assert set(_sentence_rows(writer.store)) == set(_sentence_counts(writer.store))


def test_an_embedded_index_served_by_chroma_run_publishes_its_sentence_vectors(
    seed_copy, seed_assistant, tmp_path, open_at, embedder, monkeypatch
):
    expected = seed_assistant.ask(PUTIN_QUESTION)
    with chroma_server(seed_copy) as url:  # README, "Scale out": serve the index folder
        old = open_at(url, tmp_path / "r1")
        assert old.ask(PUTIN_QUESTION).answer == expected.answer
        assert old.store.sentence_sources["encoded"] > 0  # nothing on the server yet

        writer = open_at(url, seed_copy)
        assert writer.index([str(SEEDS)]).unchanged == 1  # the next index run publishes
        assert _sentence_rows(writer.store) == _sentence_counts(writer.store)

        passes = _count_passes(monkeypatch, embedder)
        replica = open_at(url, tmp_path / "r2")
        answer = replica.ask(PUTIN_QUESTION)
        assert (answer.answer, _quotes(answer)) == (expected.answer, _quotes(expected))
        assert passes == [] and replica.store.sentence_sources["server"] > 0
