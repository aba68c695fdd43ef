"""Sentence vectors from the indexing pass: stored beside the index, equal to encoding the
chunk again, used by the answerer without encoding sentences, and indexes without them
still answer."""

from __future__ import annotations

import shutil

import numpy as np

from assistant.store.chunking import embedding_spans, embedding_text
from assistant.store.sentence_vectors import (
    FOLDER,
    RecentVectors,
    SentenceLayers,
    SentenceVectorStore,
)


def _chunks(store):
    return store.all_chunks()


def test_every_chunk_has_one_stored_vector_per_sentence(seed_assistant):
    import json

    store = seed_assistant.store
    chunks = _chunks(store)
    found = store.sentences.get([c.chunk_id for c in chunks])
    assert set(found) == {c.chunk_id for c in chunks}
    for chunk in chunks:
        assert len(found[chunk.chunk_id]) == len(json.loads(chunk.metadata["sentences"]))


def test_stored_vectors_equal_a_fresh_pass_and_chunk_vectors_are_unchanged(seed_assistant):
    import json

    store, embedder = seed_assistant.store, seed_assistant.embedder
    chunk = _chunks(store)[1]
    title = chunk.metadata["title"]
    text = embedding_text(title, chunk.text)
    spans = embedding_spans(
        title, int(chunk.metadata["start"]), json.loads(chunk.metadata["sentences"])
    )
    fresh = embedder.encode_passages([text], [spans])
    stored = store.sentences.get([chunk.chunk_id])[chunk.chunk_id]
    np.testing.assert_allclose(stored, fresh.sentences[0], atol=2e-3)  # float16 on disk
    # the chunk vector of the same pass is the one sentence-transformers gives
    assert float(fresh.passages[0] @ np.asarray(embedder.encode([text])[0])) > 0.99999
    # and a sentence's vector is about that sentence: closest to its own text alone
    alone = np.asarray(embedder.encode([text[s:e] for s, e in spans]))
    assert (np.argmax(stored @ alone.T, axis=1) == np.arange(len(spans))).mean() >= 0.75


def test_a_question_encodes_nothing_but_the_question(seed_assistant, monkeypatch):
    embedder = seed_assistant.embedder
    seen: list[list[str]] = []
    real = type(embedder).encode

    def counting(self, texts):
        seen.append(list(texts))
        return real(self, texts)

    monkeypatch.setattr(type(embedder), "encode", counting)
    monkeypatch.setattr(
        type(embedder),
        "encode_passages",
        lambda *a: (_ for _ in ()).throw(AssertionError("encoded passages")),
    )
    question = "What did the Kremlin say about the rate of gas exports this winter?"
    seed_assistant.ask(question)
    assert seen == [[question]]


def test_an_index_without_sentence_vectors_still_answers_alike(seed_copy, make_assistant):
    question = "What did Putin say about South Korea?"
    before = make_assistant(index_dir=seed_copy).ask(question)
    shutil.rmtree(seed_copy / FOLDER)
    after = make_assistant(index_dir=seed_copy).ask(question)
    assert not after.abstained
    assert [c.quote for c in after.citations] == [c.quote for c in before.citations]


def test_rebuild_writes_a_new_folder_and_drops_the_old(seed_copy, make_assistant):
    from assistant.store.rebuild import rebuild_index

    assistant = make_assistant(index_dir=seed_copy)
    old = {p.name for p in (seed_copy / FOLDER).iterdir()}
    rebuild_index(assistant.settings, assistant.embedder)
    new = {p.name for p in (seed_copy / FOLDER).iterdir()}
    assert new and not new & old
    fresh = make_assistant(index_dir=seed_copy)
    ids = [c.chunk_id for c in fresh.store.all_chunks()]
    assert set(fresh.store.sentences.get(ids)) == set(ids)


def test_parts_compact_and_a_later_part_wins(tmp_path):
    store = SentenceVectorStore(tmp_path / "gen")
    store.add({"a": np.zeros((2, 4)), "b": np.ones((1, 4))})
    store.add({"a": np.full((3, 4), 2.0)})
    reader = SentenceVectorStore(tmp_path / "gen")
    reader.refresh()
    assert reader.get(["a"])["a"].shape == (3, 4)
    store.compact(keep={"a"})
    assert len(list((tmp_path / "gen").glob("part-*.json"))) == 1
    again = SentenceVectorStore(tmp_path / "gen")
    again.refresh()
    assert set(again.get(["a", "b"])) == {"a"} and again.get(["a"])["a"][0, 0] == 2.0


def test_a_sidecar_reader_picks_up_parts_written_since_on_a_miss(tmp_path):
    reader = SentenceVectorStore(tmp_path / "gen")
    reader.refresh()
    SentenceVectorStore(tmp_path / "gen").add({"a": np.ones((2, 4))})  # another process
    assert set(reader.get(["a"])) == {"a"}
    assert reader.get(["a"], counts={"a": 3}) == {}  # another row count: not these


def test_recent_vectors_drop_the_least_recently_used_beyond_their_rows():
    recent = RecentVectors(max_rows=5)
    recent.put({"a": np.zeros((2, 4)), "b": np.zeros((2, 4))})
    recent.get(["a"])  # a is now the most recent
    recent.put({"c": np.zeros((2, 4))})
    assert set(recent.get(["a", "b", "c"])) == {"a", "c"}


class _Layer:
    def __init__(self, name, held):
        self.name, self.held, self.added, self.removed = name, held, [], []

    def get(self, chunk_ids, counts=None):
        return {c: self.held[c] for c in chunk_ids if c in self.held}

    def add(self, vectors):
        self.added.append(set(vectors))

    def remove_documents(self, doc_ids):
        self.removed.append(list(doc_ids))


def test_layers_read_in_order_and_write_to_all():
    first, second = _Layer("sidecar", {"a": np.ones((1, 4))}), _Layer("server", {})
    second.held = {"a": np.zeros((1, 4)), "b": np.zeros((1, 4))}
    layers = SentenceLayers([first, second])
    found = layers.get(["a", "b", "c"])
    assert set(found) == {"a", "b"} and found["a"][0, 0] == 1.0  # the first layer wins
    assert layers.served == {"sidecar": 1, "server": 1}
    layers.add({"d": np.ones((1, 4))})
    layers.remove_documents(["doc"])
    assert first.added == second.added == [{"d"}]
    assert first.removed == second.removed == [["doc"]]
