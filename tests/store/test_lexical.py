"""The updatable BM25 index: same scores as bm25s, updates equal rebuilds, files."""

from dataclasses import dataclass, field

import bm25s
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from assistant.store.lexical import LexicalIndex, bm25_tokens, lexical_text, saved_revision

WORDS = "mayor city council budget vote storm flood river bridge court judge trial".split()


@dataclass
class FakeChunk:
    """Just what the lexical index reads of a stored chunk."""

    chunk_id: str
    text: str
    metadata: dict = field(default_factory=dict)


def make_chunks(doc_id: str, texts: list[str], title: str = "") -> list[FakeChunk]:
    return [
        FakeChunk(f"{doc_id}:{i:04d}", t, {"doc_id": doc_id, "title": title})
        for i, t in enumerate(texts)
    ]


CORPUS = (
    make_chunks(
        "a", ["The mayor resigned after the council vote.", "The city budget grew."], "Mayor"
    )
    + make_chunks("b", ["A storm flooded the river; the bridge closed.", "Floods hit the city."])
    + make_chunks("c", ["The judge opened the trial.", "The court heard the mayor's testimony."])
)


def bm25s_scores(chunks, query: str) -> dict[str, float]:
    """The reference: bm25s (Lucene variant) over the same tokens."""
    model = bm25s.BM25()
    model.index(bm25_tokens([lexical_text(c.metadata["title"], c.text) for c in chunks]))
    scores = model.get_scores([t for t in bm25_tokens([query])[0] if t in model.vocab_dict])
    return {c.chunk_id: float(s) for c, s in zip(chunks, scores, strict=True) if s > 0}


@pytest.mark.parametrize("query", ["mayor", "city flood", "What did the mayor tell the court?"])
def test_scores_match_bm25s(query):
    ours = dict(LexicalIndex.build(CORPUS, revision=1).search(query, 10))
    reference = bm25s_scores(CORPUS, query)
    assert ours.keys() == reference.keys()
    for chunk_id, score in reference.items():
        assert ours[chunk_id] == pytest.approx(score, rel=1e-5)


def test_results_are_best_first_and_capped():
    hits = LexicalIndex.build(CORPUS, 1).search("mayor city", 2)
    assert len(hits) == 2
    assert hits[0][1] >= hits[1][1] > 0


def test_unknown_or_stop_words_find_nothing():
    index = LexicalIndex.build(CORPUS, 1)
    assert index.search("the of and", 5) == []
    assert index.search("zeppelin", 5) == []
    assert LexicalIndex.empty().search("mayor", 5) == []


def test_update_drops_and_adds_articles():
    index = LexicalIndex.build(CORPUS, 1)
    new = make_chunks("d", ["The zeppelin landed near the bridge."])
    updated = index.updated(new, {"b"}, revision=2)
    assert updated.docs == {"a", "c", "d"}
    assert index.docs == {"a", "b", "c"}  # the old index is untouched
    assert [cid for cid, _ in updated.search("zeppelin", 5)] == ["d:0000"]
    assert not any(cid.startswith("b:") for cid, _ in updated.search("flood river bridge", 10))


@settings(max_examples=25, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from("abcdef"), st.lists(st.sampled_from(WORDS), min_size=1)),
        min_size=1,
        max_size=12,
    ),
    st.sets(st.sampled_from("abcdef")),
    st.lists(st.sampled_from(WORDS), min_size=1, max_size=4),
)
def test_any_update_equals_a_fresh_build(rows, removed, query_words):
    chunks = [
        FakeChunk(f"{d}:{i:04d}", " ".join(words), {"doc_id": d, "title": ""})
        for i, (d, words) in enumerate(rows)
    ]
    half = len(chunks) // 2
    step = LexicalIndex.build(chunks[:half], 1).updated(chunks[half:], set(removed), 2)
    kept = [c for c in chunks[:half] if c.metadata["doc_id"] not in removed] + chunks[half:]
    fresh = LexicalIndex.build(kept, 2)
    query = " ".join(query_words)
    got, want = dict(step.search(query, 50)), dict(fresh.search(query, 50))
    assert got.keys() == want.keys()
    assert np.allclose([got[k] for k in want], list(want.values()), rtol=1e-5)


@pytest.mark.parametrize("query", ["mayor", "city flood", "What did the mayor tell the court?"])
def test_terms_held_are_the_terms_of_the_tokenized_text(query):
    """The answerer's IDF coverage reads a chunk's terms from the index; they must be
    exactly the terms tokenizing its text again gives (the models were fitted on those)."""
    index = LexicalIndex.build(CORPUS, 1)
    terms = list(index.term_weights(query))
    held = index.terms_held(terms, [c.chunk_id for c in CORPUS] + ["z:0000"])
    tokens = bm25_tokens([lexical_text(c.metadata["title"], c.text) for c in CORPUS])
    assert held[:-1] == [frozenset(terms) & set(t) for t in tokens]
    assert held[-1] is None  # not in the index: the caller tokenizes it
    assert any(held[:-1])


def test_save_and_load_round_trip(tmp_path):
    index = LexicalIndex.build(CORPUS, revision=7)
    index.save(tmp_path / "lex")
    assert saved_revision(tmp_path / "lex") == 7
    assert LexicalIndex.load(tmp_path / "lex", revision=8) is None
    loaded = LexicalIndex.load(tmp_path / "lex", revision=7)
    assert loaded.chunk_ids == index.chunk_ids and loaded.doc_ids == index.doc_ids
    assert loaded.search("mayor trial", 5) == index.search("mayor trial", 5)


def test_missing_or_corrupt_file_loads_as_none(tmp_path):
    assert LexicalIndex.load(tmp_path) is None and saved_revision(tmp_path) is None
    (tmp_path / "bm25.npz").write_bytes(b"not a zip file")
    assert LexicalIndex.load(tmp_path) is None and saved_revision(tmp_path) is None
