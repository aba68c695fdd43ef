"""The benchmark's pure parts: corpus perturbation, derived vectors, percentiles, table."""

import numpy as np
import pytest

from assistant.library.ingest import parse_text
from assistant.store.chunking import chunk_document, split_sentences
from benchmarks import corpus
from benchmarks.probe import percentile
from benchmarks.report import render_table, rows_for

ARTICLE = (
    "# Storm hits the coast\n\nSource: https://example.com/storm\nPublished: 2022/06/15\n\n"
    "A storm hit the coast on Monday. Winds reached 120 km/h. Ferries stopped.\n\n"
    "The mayor closed the schools. Parents were told on Sunday evening.\n\n"
    "Power returned on Tuesday. Repairs will take weeks, officials said.\n\n"
    "Insurers expect claims of $40 million.\n"
)


def sentences(doc) -> list[str]:
    return [
        doc.text[s.start : s.end]
        for p in doc.paragraphs
        for s in split_sentences(doc.text, p.start, p.end)
    ]


def count_words(texts):
    return [len(t.split()) for t in texts]


@pytest.fixture
def doc():
    return parse_text(ARTICLE, "storm.md", markdown=True)


def make_base(doc, dim=8):
    chunks = chunk_document(doc, count_words, 12, 0)
    rng = np.random.default_rng(0)
    vectors = [v / np.linalg.norm(v) for v in rng.normal(size=(len(chunks), dim))]
    sentence_vectors, in_context, per_chunk = {}, {}, []
    for chunk, vector in zip(chunks, vectors, strict=True):
        rows = rng.normal(size=(len(chunk.sentences), dim))
        rows /= np.linalg.norm(rows, axis=1, keepdims=True)
        per_chunk.append(rows)
        for (s, e, _), row in zip(chunk.sentences, rows, strict=True):
            sentence_vectors[doc.text[s:e]] = vector
            in_context[doc.text[s:e]] = row
    base = corpus.BaseCorpus(
        [doc], {doc.doc_id: vectors}, sentence_vectors, {doc.doc_id: per_chunk}, in_context
    )
    return base, chunks


def test_variants_are_deterministic_new_articles_made_of_the_original_sentences(doc):
    first, again, other = (corpus.variant_text(doc, v) for v in (0, 0, 1))
    assert first == again and first != other
    variant = parse_text(first, "v.md", markdown=True)
    assert variant.doc_id != doc.doc_id and variant.title.startswith(corpus.PREFIXES[0])
    assert variant.date == doc.date and variant.url.startswith(doc.url)
    body = sentences(variant)
    assert body and set(body) <= set(sentences(doc))


def test_variant_vectors_are_unit_length_near_their_sources_and_repeatable(doc):
    base, chunks = make_base(doc)
    variant = parse_text(corpus.variant_text(doc, 2), "v.md", markdown=True)
    vchunks = chunk_document(variant, count_words, 12, 0)
    vectors, sentences = corpus.variant_vectors(variant, vchunks, base, doc.doc_id)
    vectors = np.array(vectors)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    again = corpus.variant_vectors(variant, vchunks, base, doc.doc_id)
    assert vectors.tolist() == again[0]
    assert all(np.array_equal(a, b) for a, b in zip(sentences, again[1], strict=True))
    for chunk, vector, rows in zip(vchunks, vectors, sentences, strict=True):
        texts = [variant.text[s:e] for s, e, _ in chunk.sentences]
        found = [base.sentence_vectors[t] for t in texts if t in base.sentence_vectors]
        if found:
            mean = np.mean(found, axis=0)
            assert vector @ (mean / np.linalg.norm(mean)) > 0.9
        # each sentence keeps (a noisy copy of) its base in-context vector
        assert len(rows) == len(texts)
        for text, row in zip(texts, rows, strict=True):
            if text in base.context_vectors:
                assert row @ base.context_vectors[text] > 0.9


def test_plan_puts_real_articles_first_then_rounds_of_variants(doc):
    base, _ = make_base(doc)
    steps = corpus.plan(base)
    assert [next(steps) for _ in range(4)] == [(doc, -1), (doc, 0), (doc, 1), (doc, 2)]


def test_memo_counter_counts_each_text_once():
    calls = []

    def counter(texts):
        calls.append(list(texts))
        return [len(t) for t in texts]

    count = corpus.memo_counter(counter)
    assert count(["ab", "abc", "ab"]) == [2, 3, 2]
    assert count(["abc", "x"]) == [3, 1]
    assert calls == [["ab", "abc"], ["x"]]


def test_percentile_interpolates():
    assert percentile([1, 2, 3, 4], 50) == 2.5
    assert percentile([10], 95) == 10
    assert percentile(list(range(101)), 95) == 95
    with pytest.raises(ValueError):
        percentile([], 50)


def test_table_marks_each_target():
    results = {
        "indexing": {
            "articles": 3, "chunks": 30, "pipeline_chunks_per_s": 9.5, "bare_chunks_per_s": 10.0,
            "pipeline_vs_bare": 0.95, "reindex_s": 0.5, "reindex_fraction": 0.05,
        },
        "serving": {
            "10000": {
                "chunks": 10_004, "p50_ms": 120.0, "p95_ms": 200.0, "peak_rss_mb": 700.0,
                "cold_start_s": 4.0, "cold_start_cpu_s": 3.5, "cpu_p50_ms": 100.0,
                "retrieve_p50_ms": 20.0, "answer_p50_ms": 90.0, "add_article_s": 1.0,
                "ask_after_update_ms": 90.0, "remove_article_s": 0.5,
            },
            "100000": {
                "chunks": 100_010, "p50_ms": 120.0, "p95_ms": 600.0, "peak_rss_mb": 1600.0,
                "cold_start_s": 6.0, "cold_start_cpu_s": 5.0, "cpu_p50_ms": 100.0,
                "retrieve_p50_ms": 20.0, "answer_p50_ms": 90.0, "add_article_s": 1.0,
                "ask_after_update_ms": 90.0,
                "remove_article_s": 0.5,
            },
        },
        "server": {
            "10000": {
                "writer": {"p50_ms": 100.0, "first_round_p50_ms": 105.0,
                           "published_chunks": 10_004, "publish_s": 9.0},
                "replica": {"p50_ms": 125.0, "first_round_p50_ms": 140.0,
                            "sentence_sources": {"sidecar": 0, "server": 900},
                            "sentence_fetches": 60},
                "replica_vs_writer_p50": 1.25,
            },
            "100000": {
                "writer": {"p50_ms": 100.0, "first_round_p50_ms": 100.0,
                           "published_chunks": 100_010, "publish_s": 90.0},
                "replica": {"p50_ms": 140.0, "first_round_p50_ms": 150.0,
                            "sentence_sources": {"server": 800, "encoded": 20},
                            "sentence_fetches": 60},
                "replica_vs_writer_p50": 1.4,
            },
        },
        "machine": {"cpu": "test", "cores": 2, "torch_threads": 2, "cuda": None,
                    "load_average_at_start": [0.1]},
        "device": "cpu", "batch_size": 64, "runtime_s": 1.0, "quick": False,
        "encoder_options": [], "thread_policy": [], "vectors_note": "derived",
    }  # fmt: skip
    marks = {row.figure: row.ok for row in rows_for(results)}
    assert marks["  pipeline / bare encoder"] is True
    assert marks["re-index unchanged corpus / full index"] is False
    assert marks["ask p50 at 100k (100010 chunks)"] is True
    assert marks["ask p95 at 100k"] is False
    assert marks["peak RSS serving 100k"] is False  # 1.5 GB
    assert marks["ask p50 at 10k (10004 chunks)"] is False  # 100 ms at 10k
    assert marks["cold start to first answer at 10k"] is True  # 5 s
    assert marks["  replica / writer ask p50 at 10k"] is True  # within 1.3 x
    assert marks["  replica / writer ask p50 at 100k"] is False
    table = render_table(rows_for(results), results)
    assert "| ask p95 at 100k | 600 ms | <= 300 ms | MISSED |" in table
    assert "| 800 from the server in 60 requests, 20 encoded |" in table
    del results["server"]  # a run with --skip-server, or from before server figures
    assert not any(row.figure.startswith("server mode") for row in rows_for(results))


class WordEmbedder:
    """Only what the store and the corpus builder use of an embedder (no encoding)."""

    model_name, dimension, batch_size = "words-test", 8, 64

    def count_tokens(self, texts):
        return count_words(texts)


def test_corpus_is_built_through_the_real_store(doc, make_settings, tmp_path):
    from assistant.store.articles import ArticleStore

    base_store = ArticleStore(make_settings(index_dir=tmp_path / "base"), WordEmbedder())
    chunks = chunk_document(doc, count_words, 12, 0)
    rng = np.random.default_rng(1)
    vectors = [(v / np.linalg.norm(v)).tolist() for v in rng.normal(size=(len(chunks), 8))]
    sentences = [rng.normal(size=(len(c.sentences), 8)).astype(np.float32) for c in chunks]
    base_store.add_document(doc, chunks, vectors, sentence_vectors=sentences)
    base = corpus.read_base(base_store)
    assert base.chunks == len(chunks) and base.docs[0].doc_id == doc.doc_id

    store = ArticleStore(make_settings(index_dir=tmp_path / "big"), WordEmbedder())
    written = corpus.build_corpus(store, base, 4 * len(chunks), 12, 0)
    assert written >= 4 * len(chunks) and store.chunk_count() == written
    assert len(store.committed_ids()) >= 4
    ids = [c.chunk_id for c in store.all_chunks()]
    assert set(store.sentences.get(ids)) == set(ids)  # the sidecar is built too
    stored = store.chunks.get(ids=[chunks[0].chunk_id], include=["embeddings"])
    assert np.allclose(stored["embeddings"][0], vectors[0], atol=1e-6)  # real vectors kept


def test_eval_dir_given_through_parent_folder_is_resolved(tmp_path, monkeypatch):
    # `make bench` passes ../shared/...; the ingester refuses paths with '..'
    from benchmarks.__main__ import parse_args

    (tmp_path / "data" / "articles").mkdir(parents=True)
    (tmp_path / "data" / "articles" / "a.md").write_text("# T\n\nText.\n")
    (tmp_path / "data" / "questions.jsonl").write_text("{}\n")
    (tmp_path / "work").mkdir()
    monkeypatch.chdir(tmp_path / "work")
    args = parse_args(["--eval-dir", "../data"])
    assert ".." not in args.eval_dir.parts and args.files[0].is_absolute()
