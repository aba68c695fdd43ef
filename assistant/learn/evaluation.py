"""Evaluation harness: index a corpus (or reuse a cached index), ask every question, score.

A question is a JSON object per line: ``{"id", "question", "answer"}``, optionally
``"unanswerable": true``. A gold answer counts as found in a text when its normalised form
(Unicode NFKC, case folded, curly quotes made straight, runs of spaces collapsed, quotes
around the whole answer dropped) is a substring of the text's normalised form.

The index is cached under a key made of the corpus content, the settings that shape the
index, and the source of the modules that build it, so a rerun with the same corpus and
settings skips the minutes of embedding, and any change that would alter the index
rebuilds it.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import time
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from assistant.config import Settings
from assistant.library.formats import SUPPORTED_SUFFIXES
from assistant.schema import Answer

HIT_KS = (1, 3, 5, 10)
# the code an index is built by (paths under assistant/): a change to it is a new index
INDEX_MODULES = (
    "library/ingest.py",
    "library/formats.py",
    "store/chunking.py",
    "store/indexer.py",
    "store/articles.py",
    "store/embeddings.py",
)
INDEX_SETTINGS = (
    "embedding_model",
    "max_chunk_tokens",
    "chunk_overlap_sentences",
    "max_file_bytes",
)
_COMPLETE = "eval-index.json"
_QUOTES = str.maketrans({"‘": "'", "’": "'", "“": '"', "”": '"', "`": "'"})

Progress = Callable[[str], None]


class EvalError(ValueError):
    """The questions file or the corpus cannot be used; the message says why."""


@dataclass
class EvalQuestion:
    """One question with its gold answer text."""

    id: str
    question: str
    answer: str
    unanswerable: bool = False


@dataclass
class QuestionResult:
    """How the assistant did on one question."""

    id: str
    question: str
    gold: str
    unanswerable: bool
    abstained: bool
    answer: str
    retrieval_rank: int | None
    citation_hit: bool
    answer_hit: bool
    quotes: int
    quotes_verbatim: int
    latency_ms: float
    cited: list[str] = field(default_factory=list)
    declined_because: str = ""
    answer_probability: float | None = None
    # some article holds the gold near the question's words (``learn.weeks.is_supported``)
    supported: bool = False


def normalise(text: str) -> str:
    """Case-, space- and quote-normalised text for substring matching."""
    text = unicodedata.normalize("NFKC", text).translate(_QUOTES).casefold()
    return " ".join(text.split())


def gold_form(answer: str) -> str:
    """The normalised gold answer, without quotes wrapped around all of it."""
    norm = normalise(answer)
    if len(norm) > 2 and norm[0] == norm[-1] and norm[0] in "'\"":
        norm = norm[1:-1].strip()
    return norm


def contains_gold(text: str, gold: str) -> bool:
    """Whether the gold answer occurs in ``text`` (both normalised)."""
    target = gold_form(gold)
    return bool(target) and target in normalise(text)


def load_questions(path: Path) -> list[EvalQuestion]:
    """Read a questions file; any malformed line is an error naming the line."""
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise EvalError(f"cannot read {path}: {exc}") from exc
    questions, seen = [], set()
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        question = _parse_question(line, f"{path}:{number}")
        if question.id in seen:
            raise EvalError(f"{path}:{number}: duplicate id {question.id!r}")
        seen.add(question.id)
        questions.append(question)
    if not questions:
        raise EvalError(f"{path} holds no questions")
    return questions


def _parse_question(line: str, where: str) -> EvalQuestion:
    try:
        raw = json.loads(line)
    except ValueError as exc:
        raise EvalError(f"{where}: not valid JSON ({exc})") from None
    if not isinstance(raw, dict):
        raise EvalError(f"{where}: expected a JSON object")
    missing = [k for k in ("id", "question", "answer") if not str(raw.get(k, "")).strip()]
    if missing:
        raise EvalError(f"{where}: missing or empty {', '.join(missing)}")
    return EvalQuestion(
        id=str(raw["id"]),
        question=str(raw["question"]),
        answer=str(raw["answer"]),
        unanswerable=bool(raw.get("unanswerable", False)),
    )


# --- the cached index -------------------------------------------------------------------


def corpus_files(corpus: Path) -> list[Path]:
    """The indexable files under ``corpus``, sorted; an empty corpus is an error."""
    corpus = Path(corpus)
    if not corpus.is_dir():
        raise EvalError(f"the corpus {corpus} is not a folder")
    files = sorted(
        p for p in corpus.rglob("*") if p.is_file() and p.suffix.lower() in SUPPORTED_SUFFIXES
    )
    if not files:
        raise EvalError(f"the corpus {corpus} holds no supported article files")
    return files


def index_key(corpus: Path, settings: Settings) -> str:
    """Hash of the corpus content, the indexing settings and the indexing code."""
    import chromadb

    digest = hashlib.sha256()
    for path in corpus_files(corpus):
        digest.update(str(path.relative_to(corpus)).encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    for name in INDEX_SETTINGS:
        digest.update(f"{name}={getattr(settings, name)}\0".encode())
    package = Path(__file__).parent.parent
    for module in INDEX_MODULES:
        digest.update(hashlib.sha256((package / module).read_bytes()).digest())
    digest.update(chromadb.__version__.encode())
    return digest.hexdigest()[:16]


def prepare_index(
    corpus: Path, settings: Settings, cache_dir: Path, embedder, progress: Progress | None = None
) -> tuple[Settings, bool, float]:
    """Settings pointing at an index of ``corpus``: reused from ``cache_dir`` when its key
    matches, else built there. Returns (settings, reused, seconds spent indexing)."""
    from assistant.service import Assistant

    key = index_key(corpus, settings)
    folder = Path(cache_dir) / key
    indexed = settings.model_copy(update={"index_dir": folder, "chroma_url": None})
    if (folder / _COMPLETE).exists():
        return indexed, True, 0.0
    shutil.rmtree(folder, ignore_errors=True)  # an interrupted build: start over
    if progress:
        progress(f"indexing {corpus} into {folder} (key {key}) ...")
    start = time.perf_counter()
    report = Assistant(indexed, embedder=embedder).index([str(corpus)])
    seconds = time.perf_counter() - start
    if report.errors or not report.chunks:
        # an index missing articles would skew every number: fail, and keep no cache
        shutil.rmtree(folder, ignore_errors=True)
        reasons = "; ".join(f"{e.path}: {e.error}" for e in report.errors[:5]) or "no chunks"
        raise EvalError(f"indexing the corpus failed ({len(report.errors)} errors): {reasons}")
    (folder / _COMPLETE).write_text(
        json.dumps({"key": key, "corpus": str(corpus), "seconds": round(seconds, 1)})
        + "\n"
        + report.model_dump_json()
    )
    return indexed, False, seconds


# --- asking and scoring -----------------------------------------------------------------


class QuoteFidelity:
    """Checks quotes against their passage and their stored document (cached per doc)."""

    def __init__(self, store):
        self.store = store
        self.texts: dict[str, str | None] = {}

    def verbatim(self, citation) -> bool:
        if citation.doc_id not in self.texts:
            doc = self.store.get_document(citation.doc_id)
            self.texts[citation.doc_id] = doc.text if doc else None
        text = self.texts[citation.doc_id]
        return (
            citation.quote in citation.passage
            and text is not None
            and text[citation.start : citation.end] == citation.quote
        )


def first_hit_rank(passages: list[str], gold: str) -> int | None:
    """1-based rank of the first passage holding the gold answer, or None."""
    for rank, text in enumerate(passages, start=1):
        if contains_gold(text, gold):
            return rank
    return None


def score_question(
    question: EvalQuestion, answer: Answer, retrieved: list[str], latency_ms: float, fidelity
) -> QuestionResult:
    """One question's result from its answer and its top retrieved passages."""
    verbatim = sum(fidelity.verbatim(c) for c in answer.citations)
    return QuestionResult(
        id=question.id,
        question=question.question,
        gold=question.answer,
        unanswerable=question.unanswerable,
        abstained=answer.abstained,
        answer=answer.answer,
        retrieval_rank=first_hit_rank(retrieved, question.answer),
        citation_hit=any(contains_gold(c.passage, question.answer) for c in answer.citations),
        answer_hit=not answer.abstained and contains_gold(answer.answer, question.answer),
        quotes=len(answer.citations),
        quotes_verbatim=verbatim,
        latency_ms=round(latency_ms, 2),
        cited=[c.chunk_id for c in answer.citations],
        declined_because=answer.declined_because,
        answer_probability=answer.answer_probability,
    )


def ask_all(
    assistant, questions: list[EvalQuestion], progress: Progress | None = None
) -> list[QuestionResult]:
    """Ask every question through the assistant's normal path and score it."""
    fidelity = QuoteFidelity(assistant.store)
    results = []
    for number, question in enumerate(questions, start=1):
        start = time.perf_counter()
        answer = assistant.ask(question.question)
        latency = (time.perf_counter() - start) * 1e3
        passages, _ = assistant.retriever.search(question.question, max(HIT_KS))
        retrieved = [p.page_content for p in passages]
        results.append(score_question(question, answer, retrieved, latency, fidelity))
        if progress and number % 10 == 0:
            progress(f"asked {number}/{len(questions)}")
    return results


def label_supported(results: list[QuestionResult], store) -> None:
    """Mark the answerable questions some indexed article supports: it holds the gold
    answer near the question's words (the training evaluation's label, so dev figures on
    supported questions compare with the held-out weeks')."""
    from assistant.learn.weeks import is_supported, support_text

    texts = [support_text(d.text) for i in store.committed_ids() if (d := store.get_document(i))]
    for r in results:
        r.supported = not r.unanswerable and is_supported(r.question, r.gold, texts)


def _share(flags: list[bool]) -> float | None:
    return round(sum(flags) / len(flags), 4) if flags else None


LOSS_KINDS = ("cited", "declined", "not_retrieved", "not_quoted")


def citation_losses(results: Iterable, passages: int) -> dict[str, int]:
    """Where the supported questions' citations go: cited right, declined, answered with
    no passage holding the answer among the ``passages`` best retrieved (retrieval), or
    with one there that no quoted sentence came from (sentence choice). ``results``:
    anything with ``supported``, ``abstained``, ``citation_hit`` and ``retrieval_rank``."""
    counts = dict.fromkeys(LOSS_KINDS, 0)
    for r in results:
        if r.supported:
            counts[_loss_kind(r, passages)] += 1
    return counts


def _loss_kind(r, passages: int) -> str:
    if r.abstained:
        return "declined"
    if r.citation_hit:
        return "cited"
    retrieved = r.retrieval_rank is not None and r.retrieval_rank <= passages
    return "not_quoted" if retrieved else "not_retrieved"


def _supported_figures(answerable: list[QuestionResult], passages: int) -> dict:
    """Figures on the answerable questions the corpus supports, and the rest's declines."""
    sup = [r for r in answerable if r.supported]
    unsup = [r for r in answerable if not r.supported]
    return {
        "questions": len(sup),
        "hit_at": _hit_shares([r.retrieval_rank for r in sup]),
        "citation_hit": _share([r.citation_hit for r in sup]),
        "answer_hit": _share([r.answer_hit for r in sup]),
        "wrongly_declined": _share([r.abstained for r in sup]),
        "unsupported": len(unsup),
        "unsupported_declined": _share([r.abstained for r in unsup]),
        "citation_losses": citation_losses(sup, passages),
    }


def _hit_shares(ranks: list[int | None]) -> dict[str, float | None]:
    """Share of ``ranks`` (first hit rank, or None) within each of ``HIT_KS``."""
    return {str(k): _share([r is not None and r <= k for r in ranks]) for k in HIT_KS}


def decline_reason_counts(results: Iterable) -> dict[str, int]:
    """How many of ``results`` (anything with ``abstained`` and ``declined_because``)
    declined for each reason."""
    reasons = [r.declined_because or "unknown" for r in results if r.abstained]
    return {reason: reasons.count(reason) for reason in sorted(set(reasons))}


def summarise(results: list[QuestionResult], passages: int) -> dict:
    """The metrics over all results (shares in 0..1; None where nothing to count);
    ``passages``: how many the answerer reads (``Settings.k``), for the citation losses."""
    answerable = [r for r in results if not r.unanswerable]
    unanswerable = [r for r in results if r.unanswerable]
    quotes = sum(r.quotes for r in results)
    latencies = [r.latency_ms for r in results]
    return {
        "questions": len(results),
        "answerable": len(answerable),
        "unanswerable": len(unanswerable),
        "hit_at": _hit_shares([r.retrieval_rank for r in answerable]),
        "citation_hit": _share([r.citation_hit for r in answerable]),
        "answer_hit": _share([r.answer_hit for r in answerable]),
        "unanswerable_declined": _share([r.abstained for r in unanswerable]),
        "answerable_declined": _share([r.abstained for r in answerable]),
        "answerable_declined_because": decline_reason_counts(answerable),
        "supported": _supported_figures(answerable, passages),
        "quote_fidelity": round(sum(r.quotes_verbatim for r in results) / quotes, 4)
        if quotes
        else None,
        "latency_ms": {
            "p50": round(float(np.percentile(latencies, 50)), 1),
            "p95": round(float(np.percentile(latencies, 95)), 1),
        },
    }


# --- one whole run ----------------------------------------------------------------------


@dataclass
class EvalRun:
    """Everything one evaluation produced."""

    summary: dict
    results: list[QuestionResult]
    outputs: dict[str, str] = field(default_factory=dict)


def run_eval(
    questions_path: Path,
    corpus: Path,
    settings: Settings,
    cache_dir: Path,
    embedder=None,
    progress: Progress | None = None,
) -> EvalRun:
    """Index ``corpus`` (or reuse its cached index), ask every question, summarise."""
    from assistant.learn.vectors import CachingEmbedder, VectorCache
    from assistant.service import Assistant
    from assistant.store.embeddings import get_embedder

    questions = load_questions(questions_path)
    # resolved, so a corpus given as ../shared/... passes the indexer's path checks
    corpus = Path(corpus).resolve()
    corpus_files(corpus)  # fail on a bad corpus before loading any model
    # vectors are cached by model and text too: a changed chunking re-encodes only new chunks
    embedder = CachingEmbedder(
        embedder or get_embedder(settings), VectorCache(Path(cache_dir) / "vectors.sqlite")
    )
    indexed, reused, seconds = prepare_index(corpus, settings, cache_dir, embedder, progress)
    assistant = Assistant(indexed, embedder=embedder)
    start = time.perf_counter()
    results = ask_all(assistant, questions, progress)
    label_supported(results, assistant.store)
    summary = summarise(results, settings.k)
    summary["run"] = {
        "questions_file": str(questions_path),
        "corpus": str(corpus),
        "articles": len(assistant.sources()),
        "chunks": assistant.store.chunk_count(),
        "index_dir": str(indexed.index_dir),
        "index_reused": reused,
        "index_seconds": round(seconds, 1),
        "ask_seconds": round(time.perf_counter() - start, 1),
        "settings": settings.model_dump(
            mode="json", exclude={"index_dir", "chroma_url", "host", "port"}
        ),
    }
    return EvalRun(summary, results)


def result_dicts(results: list[QuestionResult]) -> list[dict]:
    return [asdict(r) for r in results]
