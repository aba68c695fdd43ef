"""The chunks collection's HNSW configuration: cosine space and the configured search effort."""

import numpy as np

from assistant.store.articles import HNSW_EF_CONSTRUCTION, ArticleStore, make_client


def _hnsw(store: ArticleStore) -> dict:
    return store.client.get_collection(store.settings.collection).configuration["hnsw"]


def test_a_new_index_is_cosine_with_the_configured_search_effort(make_settings, embedder):
    store = ArticleStore(make_settings(hnsw_ef_search=321), embedder)
    hnsw = _hnsw(store)
    assert hnsw["space"] == "cosine"
    assert hnsw["ef_search"] == 321
    assert hnsw["ef_construction"] == HNSW_EF_CONSTRUCTION
    rebuild = store.new_rebuild_collection()
    assert rebuild.configuration["hnsw"]["space"] == "cosine"
    assert rebuild.configuration["hnsw"]["ef_search"] == 321


def test_an_index_made_before_the_setting_gets_the_search_effort_on_open(make_settings, embedder):
    settings = make_settings()
    old = make_client(settings).create_collection(
        settings.collection,
        embedding_function=None,
        metadata={"hnsw:space": "cosine", "embedding_model": embedder.model_name},
    )
    assert old.configuration["hnsw"]["ef_search"] == 100  # Chroma's default
    store = ArticleStore(settings, embedder)
    assert _hnsw(store)["ef_search"] == settings.hnsw_ef_search
    assert _hnsw(store)["space"] == "cosine"


def test_dense_search_is_exact_and_scores_are_cosine_similarities(make_assistant, tmp_path):
    folder = tmp_path / "articles"
    folder.mkdir()
    topics = ["harbor budget", "tram line", "flood warning", "school meals", "bridge repairs"]
    for i in range(60):
        topic = topics[i % len(topics)]
        text = f"Story {i} about the {topic}\n\nCouncil note {i}: the {topic} was discussed again."
        (folder / f"s{i}.txt").write_text(text, encoding="utf-8")
    assistant = make_assistant()
    assistant.index([folder])
    store = assistant.store
    got = store.chunks.get(include=["embeddings"])
    vectors = np.asarray(got["embeddings"])
    query = store.embedder.embed_query("what happened with the tram line?")
    exact = [got["ids"][i] for i in np.argsort(-(vectors @ np.asarray(query)))[:10]]
    found = store.dense_search(query, 10)
    assert [c.chunk_id for c in found] == exact
    assert abs(found[0].score - float(vectors[got["ids"].index(exact[0])] @ query)) < 1e-4
