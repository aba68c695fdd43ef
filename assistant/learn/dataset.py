"""Training examples: every question of a block asked against the block's corpus, with
its candidate passages, their features and whether each holds the gold answer."""

from __future__ import annotations

import hashlib
import json
import pickle
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np

from assistant.answer.features import PassageHit, QuestionContext, passage_features
from assistant.config import Settings
from assistant.learn.evaluation import gold_form, normalise
from assistant.learn.replay import BlockCorpus
from assistant.learn.weeks import TrainQuestion, is_supported, load_week, support_text
from assistant.library.duplicates import distinct_documents


@dataclass
class Example:
    """One question with its ranked candidates (features computed, labels set)."""

    question: TrainQuestion
    block: str
    supported: bool
    context: QuestionContext
    hits: list[PassageHit]
    features: np.ndarray  # (hits, PASSAGE_FEATURES)
    labels: np.ndarray  # (hits,) bool: the passage holds the gold answer
    foreign: bool = False  # asked against another block's articles (a negative)
    small: bool = False  # asked against a small library of a few of the block's articles

    @property
    def gold(self) -> str:
        return gold_form(self.question.answer)


@dataclass
class Block:
    """A block's weeks, corpus and questions."""

    name: str
    weeks: list[str]
    corpus: BlockCorpus
    questions: list[TrainQuestion]
    texts: list[str]  # the articles' texts as the supported label reads them
    documents: list  # the articles (unique by id)


def block_cache_key(weeks: list[str], settings: Settings, max_articles) -> str:
    """What a built block depends on: its weeks, the chunking settings and code."""
    digest = hashlib.sha256(json.dumps([weeks, max_articles]).encode())
    for name in (
        "embedding_model",
        "max_chunk_tokens",
        "chunk_overlap_sentences",
        "duplicate_threshold",
    ):
        digest.update(f"{name}={getattr(settings, name)}".encode())
    package = Path(__file__).parent.parent
    modules = ("library/ingest.py", "library/formats.py", "store/chunking.py")
    modules += ("store/articles.py", "store/lexical.py", "dates.py")
    for module in (*modules, "library/duplicates.py"):
        digest.update((package / module).read_bytes())
    return digest.hexdigest()[:16]


def load_block(
    train_dir: Path,
    weeks: list[str],
    embedder,
    settings: Settings,
    max_articles=None,
    cache_dir: Path | None = None,
) -> Block:
    """A block's articles (unique by id) chunked, encoded (through the vector cache) and
    indexed (``max_articles``: only a week's first N, for a quick sample). With
    ``cache_dir``, a block built before with the same inputs is read back instead."""
    if cache_dir is None:
        return _build_block(train_dir, weeks, embedder, settings, max_articles)
    path = Path(cache_dir) / f"block-{block_cache_key(weeks, settings, max_articles)}.pkl"
    if path.exists():
        with path.open("rb") as handle:
            return pickle.load(handle)
    block = _build_block(train_dir, weeks, embedder, settings, max_articles)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as handle:
        pickle.dump(block, handle, protocol=pickle.HIGHEST_PROTOCOL)
    return block


def _build_block(train_dir, weeks, embedder, settings, max_articles) -> Block:
    loaded = [load_week(Path(train_dir) / w, max_articles) for w in weeks]
    unique = list({d.doc_id: d for w in loaded for d in w.documents}.values())
    # syndicated copies are merged as the indexer merges them
    docs = distinct_documents(unique, settings.duplicate_threshold)
    return Block(
        name=f"{weeks[0]}+{len(weeks)}w",
        weeks=list(weeks),
        corpus=BlockCorpus.build(docs, embedder, settings),
        questions=[q for w in loaded for q in w.questions],
        texts=[support_text(d.text) for d in docs],
        documents=docs,
    )


def quiz_day(question: TrainQuestion) -> date | None:
    try:
        return date.fromisoformat(question.date)
    except ValueError:
        return None


def make_example(
    block: Block,
    question: TrainQuestion,
    embedder,
    candidates: int,
    foreign: bool = False,
    small: bool = False,
) -> Example:
    """Ask one question against ``block``'s corpus (``foreign``: it is another block's;
    ``small``: a small library made from it)."""
    vector = np.asarray(embedder.embed_query(question.question), dtype=np.float32)
    weights = block.corpus.lexical.term_weights(question.question)
    ctx = QuestionContext(question.question, vector, quiz_day(question), weights)
    hits = block.corpus.hits(question.question, vector, candidates)
    gold = gold_form(question.answer)
    labels = np.array([bool(gold) and gold in normalise(h.text) for h in hits], dtype=bool)
    supported = (
        not foreign
        and question.in_corpus
        and is_supported(question.question, question.answer, block.texts)
    )
    return Example(
        question,
        block.name,
        supported,
        ctx,
        hits,
        passage_features(ctx, hits),
        labels,
        foreign,
        small,
    )


def block_examples(block: Block, embedder, candidates: int) -> list[Example]:
    """Every question of ``block`` against its own corpus."""
    return [make_example(block, q, embedder, candidates) for q in block.questions]


def small_library_examples(
    block: Block, examples: list[Example], embedder, candidates: int, rng
) -> list[Example]:
    """``examples``' questions asked again against a small library: the article of their
    best candidate holding the answer (else of their best candidate), with up to two
    other articles of the block. A reader's library of a few articles gives BM25 and the
    rankers other numbers than a week of news does, and the models must answer and
    decline there too (the seed article is such a library)."""
    doc_ids = [d.doc_id for d in block.documents]
    texts = dict(zip(doc_ids, block.texts, strict=True))
    out = []
    for example in examples:
        if not example.hits:
            continue
        holding = [h for h, held in zip(example.hits, example.labels, strict=True) if held]
        main = (holding or [max(example.hits, key=lambda h: h.fused)])[0].doc_id
        library = {main, *rng.sample(doc_ids, k=rng.randint(0, 2))}
        small = Block(
            block.name,
            block.weeks,
            block.corpus.subset(library),
            [example.question],
            [texts[d] for d in library],
            [d for d in block.documents if d.doc_id in library],
        )
        out.append(make_example(small, example.question, embedder, candidates, small=True))
    return out
