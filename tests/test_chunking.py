import pytest

from assistant.chunking import chunk_document, document_sentences, split_sentences
from assistant.ingest import parse_text

from .conftest import SEED_FILE


def test_sentence_split_keeps_abbreviations_and_quotes():
    text = 'Mr. Smith met Dr. Jones in the U.S. capital. He said: "It is fine." Then he left.'
    got = [text[s.start : s.end] for s in split_sentences(text)]
    assert got == [
        "Mr. Smith met Dr. Jones in the U.S. capital.",
        'He said: "It is fine."',
        "Then he left.",
    ]


def test_sentence_split_keeps_dotted_initials_in_names():
    text = "Author and Senate candidate J.D. Vance won. J.K. Rowling wrote it. Plan B. Then."
    got = [text[s.start : s.end] for s in split_sentences(text)]
    assert got == [
        "Author and Senate candidate J.D. Vance won.",
        "J.K. Rowling wrote it.",
        "Plan B. Then.",  # a lone capital is read as an initial, as before
    ]


def test_sentence_split_handles_curly_quotes():
    text = "Putin said it would be a “big mistake.” Miller said, “It is very concerning.”"
    got = [text[s.start : s.end] for s in split_sentences(text)]
    assert got == [
        "Putin said it would be a “big mistake.”",
        "Miller said, “It is very concerning.”",
    ]


@pytest.fixture(scope="module")
def seed_doc():
    return parse_text(SEED_FILE.read_text(encoding="utf-8"), str(SEED_FILE))


@pytest.mark.parametrize("max_tokens", [120, 200, 256])
def test_chunks_are_whole_sentences_within_the_token_limit(seed_doc, embedder, max_tokens):
    chunks = chunk_document(seed_doc, embedder.count_tokens, max_tokens=max_tokens, overlap=1)
    sentence_spans = {(s, e) for s, e, _ in document_sentences(seed_doc)}
    for chunk in chunks:
        assert seed_doc.text[chunk.start : chunk.end] == chunk.text
        assert all((s, e) in sentence_spans for s, e, _ in chunk.sentences)
        with_title = embedder.count_tokens([f"{seed_doc.title}\n{chunk.text}"])[0]
        assert with_title + 2 <= max_tokens
    covered = {s for c in chunks for s in c.sentences}
    assert {(s, e) for s, e, _ in covered} == sentence_spans


def test_tiny_budget_splits_only_overlong_sentences(seed_doc, embedder):
    chunks = chunk_document(seed_doc, embedder.count_tokens, max_tokens=48, overlap=0)
    sentences = document_sentences(seed_doc)
    for chunk in chunks:
        assert embedder.count_tokens([f"{seed_doc.title}\n{chunk.text}"])[0] + 2 <= 48
        for s, e, _ in chunk.sentences:
            assert any(a <= s and e <= b for a, b, _ in sentences)


def test_chunk_ids_are_deterministic(seed_doc, embedder):
    a = chunk_document(seed_doc, embedder.count_tokens, 120, 1)
    b = chunk_document(seed_doc, embedder.count_tokens, 120, 1)
    assert [c.chunk_id for c in a] == [c.chunk_id for c in b]
    assert a[0].chunk_id == f"{seed_doc.doc_id}:0000"


def test_overlong_sentence_is_split_not_truncated(embedder):
    words = " ".join(f"word{i}" for i in range(400))
    doc = parse_text(f"Title\n{words}.\n", "long.txt")
    chunks = chunk_document(doc, embedder.count_tokens, max_tokens=64, overlap=0)
    assert len(chunks) > 1
    assert all(embedder.count_tokens([c.text])[0] <= 64 for c in chunks)
    assert " ".join(c.text for c in chunks).split() == doc.text.split("\n", 1)[1].split()
