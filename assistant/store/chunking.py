"""Sentence-aware chunking with exact character offsets.

Chunks are runs of whole sentences sized to the embedding model's word-piece limit
(title included, since the title is embedded with every chunk). Only a single sentence
longer than the whole budget is split, at word boundaries, so nothing is truncated.
Chunks are packed from plain sentences, but the sentences a chunk records for quoting
join a quotation of several sentences into one, so a quote never starts or ends inside
quotation marks.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from itertools import groupby

from assistant.schema import Chunk, Document, Span

TokenCounter = Callable[[Sequence[str]], list[int]]

_ABBREVIATIONS = {
    "mr",
    "mrs",
    "ms",
    "dr",
    "prof",
    "sr",
    "jr",
    "st",
    "gen",
    "gov",
    "sen",
    "rep",
    "lt",
    "col",
    "capt",
    "sgt",
    "cmdr",
    "adm",
    "maj",
    "rev",
    "hon",
    "pres",
    "no",
    "nos",
    "vs",
    "etc",
    "inc",
    "corp",
    "co",
    "ltd",
    "dept",
    "univ",
    "approx",
    "est",
    "fig",
    "vol",
    "jan",
    "feb",
    "mar",
    "apr",
    "jun",
    "jul",
    "aug",
    "sep",
    "sept",
    "oct",
    "nov",
    "dec",
    "u.s",
    "u.k",
    "u.n",
    "e.g",
    "i.e",
    "a.m",
    "p.m",
    "d.c",
    "mt",
    "ft",
    "ave",
    "blvd",
}
# A quotation longer than this stays split into its sentences: a quote should stay short.
_MAX_QUOTED_CHARS = 400
_BOUNDARY = re.compile(r"[.!?…]+[\"'”’)\]]*(?=\s+[\"'“‘(\[]?[A-Z0-9À-Ý])")
_DOTTED_INITIALS = re.compile(r"(?:[^\W\d_]\.)+[^\W\d_]")
_WORD_BEFORE = re.compile(r"([\w.]+)[.!?…]*[\"'”’)\]]*$")


def split_sentences(text: str, start: int = 0, end: int | None = None) -> list[Span]:
    """Sentence spans (absolute offsets) of ``text[start:end]``, whitespace trimmed."""
    end = len(text) if end is None else end
    spans: list[Span] = []
    cursor = start
    for match in _BOUNDARY.finditer(text, start, end):
        if _is_abbreviation(text[cursor : match.start() + 1]):
            continue
        _append_trimmed(spans, text, cursor, match.end())
        cursor = match.end()
    _append_trimmed(spans, text, cursor, end)
    return spans


def _inside_quotation(text: str, start: int, boundary: int, end: int) -> bool:
    """Whether ``boundary`` falls inside a quotation opened after ``start`` that closes
    before ``end``: “We will respond. We are forced to.” is one quote, since either half
    alone misquotes. An opening mark never closed (a quote running on into the next
    paragraph, a typo) holds nothing together."""
    piece = text[start:boundary]
    if piece.count("“") > piece.count("”"):
        close = text.find("”", boundary, end)
    elif piece.count('"') % 2:
        close = text.find('"', boundary, end)
    else:
        return False
    return close != -1 and close - start <= _MAX_QUOTED_CHARS


def _is_abbreviation(fragment: str) -> bool:
    match = _WORD_BEFORE.search(fragment)
    if not match:
        return False
    word = match.group(1).rstrip(".").lower()
    is_initial = len(word) == 1 and word.isalpha()
    # dotted initials such as "J.D." (J.D. Vance) or "J.K." name a person, not an end
    is_initials = _DOTTED_INITIALS.fullmatch(word) is not None
    return word in _ABBREVIATIONS or is_initial or is_initials


def _append_trimmed(spans: list[Span], text: str, start: int, end: int) -> None:
    piece = text[start:end]
    stripped = piece.strip()
    if stripped:
        left = start + len(piece) - len(piece.lstrip())
        spans.append(Span(left, left + len(stripped)))


def document_sentences(doc: Document) -> list[tuple[int, int, int]]:
    """All sentences of a document as (start, end, paragraph number from 1)."""
    return [
        (s.start, s.end, number)
        for number, para in enumerate(doc.paragraphs, start=1)
        for s in split_sentences(doc.text, para.start, para.end)
    ]


def chunk_document(
    doc: Document, count_tokens: TokenCounter, max_tokens: int = 200, overlap: int = 1
) -> list[Chunk]:
    """Pack whole sentences into chunks of at most ``max_tokens`` word pieces,
    counting the title (embedded with each chunk) and the model's two special tokens."""
    budget = max(8, max_tokens - count_tokens([doc.title])[0] - 3)
    sentences, lengths = _fit_sentences(doc, count_tokens, budget)
    groups = _pack(lengths, budget, overlap)
    return [_make_chunk(doc, i, sentences[a:b]) for i, (a, b) in enumerate(groups)]


def _pack(lengths: list[int], budget: int, overlap: int) -> list[tuple[int, int]]:
    """Greedy runs ``[a, b)`` of sentences within ``budget``; each run repeats up to
    ``overlap`` trailing sentences of the previous one when they fit."""
    groups: list[tuple[int, int]] = []
    a = 0
    while a < len(lengths):
        b, used = a, 0
        while b < len(lengths) and (b == a or used + lengths[b] <= budget):
            used += lengths[b]
            b += 1
        groups.append((a, b))
        if b >= len(lengths):
            break
        back = b
        while back > a + 1 and b - back < overlap and sum(lengths[back - 1 : b + 1]) <= budget:
            back -= 1
        a = back
    return groups


def _fit_sentences(
    doc: Document, count_tokens: TokenCounter, budget: int
) -> tuple[list[tuple[int, int, int]], list[int]]:
    """Sentences, with any single sentence over the budget split at word boundaries, and
    their lengths in word pieces (sentences are tokenized once: the counting is a tenth
    of an index run's time outside the encoder)."""
    sentences = document_sentences(doc)
    lengths = count_tokens([doc.text[s:e] for s, e, _ in sentences])
    fitted: list[tuple[int, int, int]] = []
    fitted_lengths: list[int] = []
    for (start, end, para), length in zip(sentences, lengths, strict=True):
        if length <= budget:
            fitted.append((start, end, para))
            fitted_lengths.append(length)
            continue
        pieces = _split_long(doc.text, start, end, count_tokens, budget)
        fitted.extend((s, e, para) for s, e in pieces)
        fitted_lengths.extend(count_tokens([doc.text[s:e] for s, e in pieces]))
    return fitted, fitted_lengths


def _split_long(
    text: str, start: int, end: int, count_tokens: TokenCounter, budget: int
) -> list[tuple[int, int]]:
    words = [m.span() for m in re.finditer(r"\S+", text[start:end])]
    pieces: list[tuple[int, int]] = []
    i = 0
    while i < len(words):
        j = min(len(words), i + max(1, budget // 3))
        while (
            j > i + 1
            and count_tokens([text[start + words[i][0] : start + words[j - 1][1]]])[0] > budget
        ):
            j -= 1
        pieces.append((start + words[i][0], start + words[j - 1][1]))
        i = j
    return pieces


def whole_quotations(
    text: str, sentences: list[tuple[int, int, int]]
) -> list[tuple[int, int, int]]:
    """``sentences`` (start, end, paragraph) with each quotation of several sentences in
    one paragraph joined into one, for quoting. Packing chunks uses the plain sentences:
    finer units fill the word-piece budget better."""
    out: list[tuple[int, int, int]] = []
    for para, run in groupby(sentences, key=lambda s: s[2]):
        run = list(run)
        para_end = run[-1][1]
        merged = [run[0]]
        for start, end, _ in run[1:]:
            first, last, _ = merged[-1]
            if _inside_quotation(text, first, last, para_end):
                merged[-1] = (first, end, para)
            else:
                merged.append((start, end, para))
        out.extend(merged)
    return out


def chunk_id_of(doc_id: str, index: int) -> str:
    """A chunk's id: its article's id and its place in the article."""
    return f"{doc_id}:{index:04d}"


def doc_of_chunk(chunk_id: str) -> str:
    """The id of the article a chunk id belongs to (``chunk_id_of`` read backwards)."""
    return chunk_id.rpartition(":")[0]


def _make_chunk(doc: Document, index: int, sentences: list[tuple[int, int, int]]) -> Chunk:
    start, end = sentences[0][0], sentences[-1][1]
    return Chunk(
        chunk_id=chunk_id_of(doc.doc_id, index),
        doc_id=doc.doc_id,
        index=index,
        start=start,
        end=end,
        text=doc.text[start:end],
        paragraph=sentences[0][2],
        sentences=whole_quotations(doc.text, sentences),
    )


def embedding_text(title: str, chunk_text: str) -> str:
    """What the embedder sees for a chunk: the title as context, then the passage."""
    return f"{title}\n{chunk_text}" if title else chunk_text


def embedding_spans(
    title: str, chunk_start: int, sentences: Sequence[Sequence[int]]
) -> list[tuple[int, int]]:
    """The chunk's quotable sentences (absolute ``(start, end, paragraph)``) as character
    ranges into its ``embedding_text``."""
    shift = (len(title) + 1 if title else 0) - chunk_start
    return [(int(s[0]) + shift, int(s[1]) + shift) for s in sentences]
