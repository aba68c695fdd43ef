import pytest

from assistant.library.ingest import parse_text
from assistant.store.chunking import (
    chunk_document,
    document_sentences,
    split_sentences,
    whole_quotations,
)
from tests.conftest import SEED_FILE


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


def _quotes(text: str) -> list[str]:
    sentences = [(sp.start, sp.end, 1) for sp in split_sentences(text)]
    return [text[a:b] for a, b, _ in whole_quotations(text, sentences)]


def test_a_quotation_of_several_sentences_is_quoted_whole():
    text = (
        "He explained that “NATO is establishing a presence. We are forced to respond.” "
        'Miller said: "It is fine. We agree." Then he left.'
    )
    assert _quotes(text) == [
        "He explained that “NATO is establishing a presence. We are forced to respond.”",
        'Miller said: "It is fine. We agree."',
        "Then he left.",
    ]


def test_a_quotation_left_open_or_too_long_is_quoted_sentence_by_sentence():
    # a quote that runs on into the next paragraph never closes in this one
    unclosed = "“The talks failed. Nobody came. We go on."
    assert _quotes(unclosed) == ["“The talks failed.", "Nobody came.", "We go on."]
    long_quote = "“" + " ".join(["This sentence is part of a long quotation."] * 12) + "”"
    assert len(_quotes(long_quote)) == 12


def test_chunks_record_whole_quotations_but_pack_plain_sentences(embedder):
    text = "Title\n\nPutin said: “We will respond. We are forced to. It is final.” Talks ended."
    doc = parse_text(text, "quote.txt")
    (chunk,) = chunk_document(doc, embedder.count_tokens, max_tokens=128)
    quotes = [doc.text[a:b] for a, b, _ in chunk.sentences]
    assert quotes == [
        "Putin said: “We will respond. We are forced to. It is final.”",
        "Talks ended.",
    ]
    # packing still sees four sentences: a tight budget splits between them, not in words
    small = chunk_document(doc, embedder.count_tokens, max_tokens=20)
    assert all(doc.text[c.start : c.end].endswith((".", ".”")) for c in small)


@pytest.fixture(scope="module")
def seed_doc():
    return parse_text(SEED_FILE.read_text(encoding="utf-8"), str(SEED_FILE))


@pytest.mark.parametrize("max_tokens", [120, 200, 256])
def test_chunks_are_whole_sentences_within_the_token_limit(seed_doc, embedder, max_tokens):
    chunks = chunk_document(seed_doc, embedder.count_tokens, max_tokens=max_tokens, overlap=1)
    sentence_spans = {(s, e) for s, e, _ in document_sentences(seed_doc)}
    starts, ends = {s for s, _ in sentence_spans}, {e for _, e in sentence_spans}
    for chunk in chunks:
        assert seed_doc.text[chunk.start : chunk.end] == chunk.text
        # recorded sentences are whole sentences (or whole quotations of several)
        assert all(s in starts and e in ends for s, e, _ in chunk.sentences)
        with_title = embedder.count_tokens([f"{seed_doc.title}\n{chunk.text}"])[0]
        assert with_title + 2 <= max_tokens
    covered = {
        (s, e) for c in chunks for a, b, _ in c.sentences for s, e in sentence_spans if a <= s < b
    }
    assert covered == sentence_spans


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
