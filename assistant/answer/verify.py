"""Checks a model's answer against the passages it was given, sentence by sentence.

A model's text is never trusted: it is split into sentences, each sentence's ``[n]``
markers are mapped to the passages actually given (others are removed), and the sentence
is scored against the cited passages' own sentences by embedding similarity and content
word overlap. Low word coverage, or names and numbers that none of the cited passages
contain, make a sentence unsupported whatever its score, and passage sentences that talk
to a model ("ignore previous instructions") are never evidence. Each supported sentence
gets typed citations resolved from the retrieved chunks, quoting the best-matching passage
sentence with exact offsets.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np
from langchain_core.documents import Document as LCDocument

from assistant.answer.extractive import Candidate, key_names, make_citation, passage_sentences
from assistant.schema import Answer, AnswerSentence, Citation
from assistant.store.chunking import split_sentences
from assistant.terms import content_terms, fold

# "[1]", "[1, 2]", "[1][2]" and "[Passage 3]" all count as markers.
_MARKER = re.compile(r"\[\s*(?:passages?\s*)?\d+(?:\s*(?:[,;&]|and)\s*\d+)*\s*\]", re.I)
_LEADING_MARKERS = re.compile(rf"^(?:\s*{_MARKER.pattern})+", re.I)
_BULLET = re.compile(r"^\s*(?:[-*•]|\d{1,2}[.)])\s+")
_SPACE_BEFORE_PUNCT = re.compile(r"\s+([.,;:!?])")
# Words about the prompt itself ("the passage says"), not claims about the news.
_META_TERMS = content_terms("passage passages article text source quote quoted mention mentioned")
# Text planted in an article to steer a model is never evidence for a claim, so a model
# that obeys it ("HACKED [1]") cannot pass verification by quoting it back.
_INJECTION = re.compile(
    r"\b(?:ignore|disregard|forget|override)\b.{0,40}\b(?:instructions?|prompts?|rules|context)\b"
    r"|\b(?:system prompt|language model|as an ai|you are an? (?:ai|assistant|chatbot|model))\b"
    r"|\b(?:reply|respond|answer|say|output|print|write)\b.{0,20}"
    r"\b(?:only|exactly|with the word)\b",
    re.I,
)
MIN_CLAIM_TERMS = 2  # "HACKED [1]." or "Yes [1]." state nothing a passage could back
# Share of a sentence's content words its cited passages must hold, whatever the score:
# a claim that reuses a passage's words but adds its own ("... send tanks to Kyiv") fails.
MIN_COVERAGE = 0.8
UNSUPPORTED_TAG = "[unsupported]"
COSINE_WEIGHT = 0.5
MIN_PASSAGE_SHARE = 0.25  # a cited passage holding less of the sentence's words gets no citation


@dataclass
class DraftSentence:
    """One sentence of model output: its text without markers, and the markers it carried."""

    text: str
    markers: list[int] = field(default_factory=list)


@dataclass
class Match:
    """The best sentence of one cited passage for one answer sentence."""

    marker: int
    candidate: Candidate
    cosine: float
    overlap: float  # share of the answer sentence's content words in the candidate sentence
    share: float  # ... and in the whole passage

    @property
    def score(self) -> float:
        return COSINE_WEIGHT * self.cosine + (1 - COSINE_WEIGHT) * self.overlap


@dataclass
class Check:
    """The verdict on one answer sentence."""

    draft: DraftSentence
    markers: list[int]
    score: float = 0.0
    supported: bool = False
    matches: list[Match] = field(default_factory=list)
    attributed: bool = False  # the markers were chosen by the verifier, not the model


def _markers_in(text: str) -> list[int]:
    numbers = (int(n) for m in _MARKER.finditer(text) for n in re.findall(r"\d+", m.group()))
    return list(dict.fromkeys(numbers))


def _clean(text: str) -> str:
    text = _SPACE_BEFORE_PUNCT.sub(r"\1", _MARKER.sub(" ", text))
    return " ".join(text.split())


def parse_answer(text: str) -> list[DraftSentence]:
    """The sentences of a model's answer with their markers.

    Lines are split first (models write lists), then sentences. Markers written after a
    sentence's full stop ("... mistake. [1]") land at the start of the next piece; they go
    back to the previous sentence when that one carries none of its own.
    """
    drafts: list[DraftSentence] = []
    for line in (text or "").splitlines():
        line = _BULLET.sub("", line).strip()
        for span in split_sentences(line):
            _add_piece(drafts, line[span.start : span.end])
    return drafts


def _add_piece(drafts: list[DraftSentence], piece: str) -> None:
    lead = _LEADING_MARKERS.match(piece)
    if lead and drafts and not drafts[-1].markers:
        drafts[-1].markers = _markers_in(lead.group())
        piece = piece[lead.end() :]
    clean = _clean(piece)
    markers = _markers_in(piece)
    if any(ch.isalpha() for ch in clean):
        drafts.append(DraftSentence(clean, markers))
    elif drafts and markers:  # a lone "[2]" after the sentence it belongs to
        drafts[-1].markers = list(dict.fromkeys(drafts[-1].markers + markers))


def _overlap(terms: set[str], other: set[str]) -> float:
    return len(terms & other) / len(terms) if terms else 0.0


def _has_word(haystack: str, word: str) -> bool:
    word = re.sub(r"['’]s$", "", fold(word))  # "NATO's" is backed by "NATO"
    return re.search(rf"(?<!\w){re.escape(word)}(?!\w)", haystack) is not None


class CitationVerifier:
    """Scores answer sentences against their cited passages and builds the checked answer."""

    def __init__(
        self,
        embedder,
        min_support: float = 0.6,
        drop_unsupported: bool = False,
        cite_unmarked: bool = False,
    ):
        self.embedder = embedder
        self.min_support = min_support
        self.drop_unsupported = drop_unsupported
        # Small models often write no markers; optionally the verifier picks the given
        # passage that supports such a sentence best, under the same threshold.
        self.cite_unmarked = cite_unmarked

    def verify(self, question: str, text: str, passages: list[LCDocument], answerer: str) -> Answer:
        """The model's ``text`` as a checked answer; ``[n]`` refers to ``passages[n-1]``.

        Unsupported sentences are kept and flagged, or dropped (``drop_unsupported``).
        The caller decides what to do when no sentence is supported.
        """
        checks = self.check(parse_answer(text), passages)
        return self.compose(question, checks, answerer)

    def check(self, drafts: list[DraftSentence], passages: list[LCDocument]) -> list[Check]:
        """One verdict per draft sentence."""
        if not drafts:
            return []
        per_passage = [evidence_sentences(p, rank) for rank, p in enumerate(passages)]
        texts = [d.text for d in drafts] + [c.text for cands in per_passage for c in cands]
        vectors = np.asarray(self.embedder.embed_documents(texts))
        bounds = np.cumsum([len(drafts)] + [len(c) for c in per_passage])
        passage_vecs = [vectors[a:b] for a, b in zip(bounds[:-1], bounds[1:], strict=True)]
        checks = []
        for draft, vec in zip(drafts, vectors[: len(drafts)], strict=True):
            check = Check(draft, [m for m in draft.markers if 1 <= m <= len(passages)])
            if not check.markers and self.cite_unmarked:
                check.markers, check.attributed = list(range(1, len(passages) + 1)), True
            matches = [
                _best_match(m, draft.text, vec, per_passage[m - 1], passage_vecs[m - 1])
                for m in check.markers
                if per_passage[m - 1]
            ]
            if check.attributed and matches:
                matches = [max(matches, key=lambda m: m.score)]
                check.markers = [matches[0].marker]
            if matches:
                self._judge(check, matches, passages)
            checks.append(check)
        return checks

    def _judge(self, check: Check, matches: list[Match], passages: list[LCDocument]) -> None:
        """Score = cosine with the best passage sentence and coverage of the sentence's
        content words by all cited passages. Low coverage, or names and numbers that the
        cited passages lack, fail a sentence whatever its score."""
        top = max(matches, key=lambda m: m.score)
        cited = " ".join(_evidence_text(m.candidate.passage) for m in matches)
        terms = _terms(check.draft.text)
        coverage = _overlap(terms, content_terms(cited)) if len(terms) >= MIN_CLAIM_TERMS else 0.0
        check.score = round(COSINE_WEIGHT * top.cosine + (1 - COSINE_WEIGHT) * coverage, 4)
        haystack = fold(cited)
        names_found = all(_has_word(haystack, n) for n in key_names(check.draft.text))
        check.supported = check.score >= self.min_support and coverage >= MIN_COVERAGE
        check.supported = check.supported and names_found
        check.matches = [m for m in matches if m is top or m.share >= MIN_PASSAGE_SHARE]

    def compose(self, question: str, checks: list[Check], answerer: str) -> Answer:
        """The answer text, sentences and citations (renumbered from 1) for ``checks``."""
        citations: list[Citation] = []
        numbers: dict[tuple[str, int], int] = {}
        sentences: list[AnswerSentence] = []
        for check in checks:
            if not check.supported and self.drop_unsupported:
                continue
            markers = []
            for match in check.matches if check.supported else []:
                key = (match.candidate.passage.metadata["chunk_id"], match.candidate.start)
                if key not in numbers:
                    numbers[key] = len(citations) + 1
                    citations.append(make_citation(numbers[key], match.candidate, match.score))
                markers.append(numbers[key])
            sentences.append(
                AnswerSentence(
                    text=check.draft.text,
                    markers=list(dict.fromkeys(markers)),
                    supported=check.supported,
                    support_score=check.score,
                )
            )
        return Answer(
            question=question,
            answer=answer_text(sentences),
            abstained=False,
            citations=citations,
            sentences=sentences,
            answerer=answerer,
            note=verification_note(checks, self.drop_unsupported),
        )


def addresses_model(sentence: str) -> bool:
    """Does a passage sentence talk to an AI model ("ignore previous instructions")?"""
    return _INJECTION.search(sentence) is not None


def evidence_sentences(passage: LCDocument, rank: int) -> list[Candidate]:
    """The passage's sentences that can back a claim: all but those addressing the model."""
    return [c for c in passage_sentences(passage, rank) if not addresses_model(c.text)]


def _evidence_text(passage: LCDocument) -> str:
    sentences = " ".join(c.text for c in evidence_sentences(passage, 0))
    return f"{passage.metadata.get('title', '')} {sentences}"


def _terms(text: str) -> set[str]:
    return content_terms(text) - _META_TERMS


def _best_match(
    marker: int, text: str, vector: np.ndarray, candidates: list[Candidate], vectors: np.ndarray
) -> Match:
    """The cited passage's sentence closest to the answer sentence ``text``."""
    terms = _terms(text)
    cosines = vectors @ vector
    matches = [
        Match(marker, c, float(cos), _overlap(terms, content_terms(c.text)), 0.0)
        for c, cos in zip(candidates, cosines, strict=True)
    ]
    best = max(matches, key=lambda m: m.score)
    best.share = _overlap(terms, content_terms(_evidence_text(candidates[0].passage)))
    return best


def answer_text(sentences: list[AnswerSentence]) -> str:
    """Sentences followed by their markers; unsupported ones tagged ``[unsupported]``."""
    parts = []
    for s in sentences:
        tail = "".join(f" [{m}]" for m in s.markers) if s.supported else f" {UNSUPPORTED_TAG}"
        parts.append(s.text + tail)
    return " ".join(parts)


def verification_note(checks: list[Check], dropped: bool) -> str:
    """Sentences for the reader about model sentences that failed verification, and
    those the verifier had to find a passage for."""
    notes = []
    bad = sum(1 for c in checks if not c.supported)
    if bad:
        verb = "were dropped" if dropped else f"are marked {UNSUPPORTED_TAG}"
        notes.append(
            f"{bad} of {len(checks)} sentences of the model's answer {verb}: "
            "no passage it was given supports them."
        )
    attributed = sum(1 for c in checks if c.supported and c.attributed)
    if attributed:
        notes.append(
            f"{attributed} supported sentence(s) carried no passage number; "
            "the verifier cited the passage that supports them best."
        )
    return " ".join(notes)
