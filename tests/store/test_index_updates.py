"""Indexing writes in batches, skips unchanged work, and keeps every reader current."""

import pytest

from assistant.store.lexical import LexicalIndex, lexical_dir, saved_revision
from tests.conftest import SEEDS

pytestmark = pytest.mark.slow

ARTICLES = {
    "bridge.txt": "Bridge reopens\n\nThe Elbe bridge in Dresden reopened after repairs.\n",
    "flood.txt": "Flood warning\n\nHydrologists in Passau warned of rising water on the Inn.\n",
    "vote.txt": "Council vote\n\nThe council of Ulm voted to extend the tram line to Wiblingen.\n",
}


def write_articles(folder, names=ARTICLES):
    folder.mkdir(exist_ok=True)
    for name in names:
        (folder / name).write_text(ARTICLES[name], encoding="utf-8")
    return folder


def test_one_flush_writes_many_articles_with_one_revision_change(make_assistant, tmp_path):
    assistant = make_assistant()
    revisions = []
    new_revision = assistant.store._new_revision

    def counting_revision():
        revisions.append(new_revision())
        return revisions[-1]

    assistant.store._new_revision = counting_revision
    report = assistant.index([str(write_articles(tmp_path / "news"))])
    assert report.added == 3 and len(revisions) == 1
    assert assistant.store.revision() == revisions[0]
    assert len(assistant.sources()) == 3


def test_unchanged_reindex_writes_nothing(make_assistant, tmp_path):
    assistant = make_assistant()
    folder = write_articles(tmp_path / "news")
    assistant.index([str(folder), str(SEEDS)])
    revision = assistant.store.revision()
    saved = (lexical_dir(assistant.settings) / "bm25.npz").stat().st_mtime_ns
    report = assistant.index([str(folder), str(SEEDS)])
    assert (report.added, report.unchanged) == (0, 4)
    assert assistant.store.revision() == revision
    assert (lexical_dir(assistant.settings) / "bm25.npz").stat().st_mtime_ns == saved


def test_same_article_under_a_second_path_records_the_path(make_assistant, tmp_path):
    assistant = make_assistant()
    write_articles(tmp_path / "a", ["bridge.txt"])
    write_articles(tmp_path / "b", ["bridge.txt"])
    assistant.index([str(tmp_path / "a")])
    assert assistant.index([str(tmp_path / "b")]).unchanged == 1
    [source] = assistant.sources()
    assert sorted(source.sources) == sorted(
        [str(tmp_path / "a" / "bridge.txt"), str(tmp_path / "b" / "bridge.txt")]
    )


def test_orphan_chunks_of_an_interrupted_run_are_removed(make_assistant, tmp_path):
    assistant = make_assistant()
    assistant.index([str(SEEDS)])
    count = assistant.store.chunk_count()
    vector = assistant.embedder.embed_query("orphan")
    assistant.store.chunks.upsert(
        ids=["deadbeef:0000"], embeddings=[vector], documents=["x"], metadatas=[{"doc_id": "dead"}]
    )
    assistant.index([str(write_articles(tmp_path / "news", ["vote.txt"]))])
    assert assistant.store.chunks.get(ids=["deadbeef:0000"])["ids"] == []
    assert assistant.store.chunk_count() > count


def test_lexical_index_follows_adds_and_removes_without_a_rebuild(make_assistant, tmp_path):
    assistant = make_assistant()
    assistant.index([str(write_articles(tmp_path / "news", ["bridge.txt"]))])
    first = LexicalIndex.load(lexical_dir(assistant.settings))
    assistant.index([str(write_articles(tmp_path / "news", ["flood.txt"]))])
    lexical = LexicalIndex.load(lexical_dir(assistant.settings))
    assert saved_revision(lexical_dir(assistant.settings)) == assistant.store.revision()
    assert first.chunk_ids == lexical.chunk_ids[: len(first.chunk_ids)]  # appended, not rebuilt
    assert lexical.docs == assistant.store.committed_ids()
    assert lexical.search("Passau hydrologists", 3)[0][0].split(":")[0] in lexical.docs


def test_a_second_assistant_sees_writes_on_its_next_question(make_assistant, tmp_path):
    writer = make_assistant()
    reader = make_assistant()  # same index folder: another process in real use
    writer.index([str(SEEDS)])
    question = "Which tram line did the council of Ulm vote to extend?"
    assert reader.ask(question).abstained
    writer.index([str(write_articles(tmp_path / "news", ["vote.txt"]))])
    answer = reader.ask(question)
    assert not answer.abstained and "Wiblingen" in answer.answer
    writer.remove(str(tmp_path / "news" / "vote.txt"))
    assert reader.ask(question).abstained


def test_the_library_lists_titles_with_numbers_in_counting_order(make_assistant):
    assistant = make_assistant()
    for n in (10, 2, 1):
        assistant.add_text(
            f"Officials counted the ships in the harbour for report {n} on Monday.",
            title=f"Harbour report {n}",
        )
    titles = [s.title for s in assistant.sources()]
    assert titles == ["Harbour report 1", "Harbour report 2", "Harbour report 10"]
