"""Typed objects passed between pipeline stages, and the JSON contract."""

from __future__ import annotations

from dataclasses import dataclass, field

from pydantic import BaseModel, Field, computed_field, field_validator


@dataclass(frozen=True)
class Span:
    """A half-open character range ``[start, end)`` in a document's text."""

    start: int
    end: int


@dataclass
class Document:
    """A cleaned article: its full text, metadata and paragraph spans."""

    doc_id: str
    title: str
    text: str
    source: str
    date: str = ""
    url: str = ""
    paragraphs: list[Span] = field(default_factory=list)
    body_start: int = 0
    outlet: str = ""  # the publisher: a site or feed name, else the URL's host


@dataclass
class Chunk:
    """A run of whole sentences from one document, with exact offsets."""

    chunk_id: str
    doc_id: str
    index: int
    start: int
    end: int
    text: str
    paragraph: int
    sentences: list[tuple[int, int, int]]  # absolute (start, end, paragraph number)


class Citation(BaseModel):
    """One numbered source of an answer, resolved from a retrieved chunk."""

    marker: int
    doc_id: str
    chunk_id: str
    title: str
    source: str
    passage: str
    quote: str
    start: int
    end: int
    score: float
    paragraph: int = 0
    passage_start: int = 0
    date: str = ""  # publication day, ISO YYYY-MM-DD ("" when unknown)
    url: str = ""
    outlet: str = ""

    @field_validator("date", mode="before")
    @classmethod
    def _iso_date(cls, value: str) -> str:
        """Dates of articles indexed before dates were normalised come out as ISO too."""
        from assistant.dates import normalize_date

        return normalize_date(value)


class AnswerSentence(BaseModel):
    """One sentence of an answer, with the markers of the passages behind it."""

    text: str
    markers: list[int]
    supported: bool = True
    support_score: float = 1.0

    @computed_field
    @property
    def unsupported(self) -> bool:
        """The verifier found no passage backing this sentence (shown with a warning)."""
        return not self.supported


# Why an answer abstained (``Answer.declined_because``), in words for the reader.
DECLINE_REASONS = {
    "empty_library": "No articles are indexed.",
    "no_quotable_sentence": "No retrieved sentence speaks of what the question asks.",
    "low_probability": "The closest sentences are unlikely to answer the question.",
    "names_missing": "The retrieved articles do not mention the names or years it asks about.",
    "no_asked_type": "No retrieved sentence holds the number or date it asks for.",
}


class Answer(BaseModel):
    """The answer to one question, following the JSON contract."""

    question: str
    answer: str
    abstained: bool
    citations: list[Citation] = Field(default_factory=list)
    timings_ms: dict[str, float] = Field(default_factory=dict)
    sentences: list[AnswerSentence] = Field(default_factory=list)
    answerer: str = "extractive"
    related: list[Citation] = Field(default_factory=list)
    note: str = ""
    declined_because: str = ""  # one of DECLINE_REASONS when abstained
    # the abstention model's probability that the chosen sentences answer (extractive)
    answer_probability: float | None = None

    def to_json_dict(self) -> dict:
        """The object printed by ``assistant ask --json``."""
        return self.model_dump(mode="json")


class FileError(BaseModel):
    path: str
    error: str


class IndexReport(BaseModel):
    """Summary of one indexing run (``assistant index --json``)."""

    added: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: int = 0
    chunks: int = 0
    errors: list[FileError] = Field(default_factory=list)
    merged: int = 0  # near-copies of indexed articles, recorded as their other sources


class SourceInfo(BaseModel):
    """One indexed article, as listed by ``assistant sources``."""

    doc_id: str
    title: str
    source: str
    chunks: int
    indexed_at: str
    date: str = ""
    sources: list[str] = Field(default_factory=list)
    outlet: str = ""
