"""Offline replay of the period preference (``dates.prefer_period``) on the training weeks.

For every question that names a period ("this week", "in June 2024") and whose gold answer
is in its week's articles, the week's articles are chunked like the index does, ranked by
BM25 (and, for the weeks given to ``--dense-every``, by all-MiniLM-L6-v2 too, fused by RRF
as in ``retrieval``), the preference is added with each candidate weight, and hit@k (the
gold text in one of the top k passages) is counted. Prints aggregate figures only.

    PYTHONPATH=. python scripts/period_weight.py [--train DIR] [--dense-every 16]
"""

from __future__ import annotations

import argparse
import gzip
import json
from collections import defaultdict
from pathlib import Path

import numpy as np

from assistant.chunking import chunk_document, embedding_text
from assistant.dates import date_number, from_number, prefer_period, question_period
from assistant.evaluation import gold_form, normalise
from assistant.formats import jsonl_article
from assistant.lexical import LexicalIndex
from assistant.retrieval import near_duplicate, rrf_fuse
from assistant.store import StoredChunk

WEIGHTS = [0.0, 0.001, 0.002, 0.003, 0.005, 0.0075, 0.01, 0.015, 0.02, 0.03, 0.05]
KS = (1, 3, 5, 10)
CANDIDATES = 40


def week_chunks(folder: Path, embedder):
    chunks, dates = [], {}
    with gzip.open(folder / "articles.jsonl.gz", "rt", encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            try:
                doc = jsonl_article(line, f"{folder.name}#L{number}")
            except Exception:
                continue
            for c in chunk_document(doc, embedder.count_tokens, 128, 1):
                meta = {"doc_id": doc.doc_id, "title": doc.title}
                chunks.append(StoredChunk(c.chunk_id, c.text, meta))
                dates[c.chunk_id] = date_number(doc.date)
    return list({c.chunk_id: c for c in chunks}.values()), dates


def ranked(question, chunks, lexical, vectors, embedder):
    lists = [([cid for cid, _ in lexical.search(question, CANDIDATES)], 1.0)]
    if vectors is not None:
        q = np.asarray(embedder.embed_query(question), dtype=np.float32)
        top = np.argsort(-(vectors @ q))[:CANDIDATES]
        lists.insert(0, ([chunks[i].chunk_id for i in top], 1.0))
    return rrf_fuse(lists, 60)


def top_k(scores, texts, k=10):
    picked = []
    for cid in sorted(scores, key=scores.get, reverse=True):
        if any(near_duplicate(texts[cid], texts[p]) for p in picked):
            continue
        picked.append(cid)
        if len(picked) == k:
            break
    return picked


def replay_week(folder: Path, embedder, dense: bool, tally, counts) -> None:
    lines = (folder / "questions.jsonl").read_text(encoding="utf-8").splitlines()
    questions = [json.loads(line) for line in lines if line.strip()]
    chunks, dates = week_chunks(folder, embedder)
    newest = from_number(max(dates.values(), default=0))
    asked = [(q, question_period(q["question"], newest)) for q in questions if q["in_corpus"]]
    asked = [(q, p) for q, p in asked if p is not None]
    if not asked:
        return
    lexical = LexicalIndex.build(chunks, 0)
    texts = {c.chunk_id: c.text for c in chunks}
    vectors = None
    if dense:
        vectors = np.asarray(
            embedder.embed_documents([embedding_text(c.metadata["title"], c.text) for c in chunks]),
            dtype=np.float32,
        )
    group = ("dense+bm25" if dense else "bm25", folder.name[:4])
    for q, period in asked:
        fused = ranked(q["question"], chunks, lexical, vectors, embedder)
        gold = normalise(gold_form(q["answer"]))
        for weight in WEIGHTS:
            top = top_k(prefer_period(fused, dates, period, weight), texts)
            hit = next((i for i, cid in enumerate(top) if gold in normalise(texts[cid])), None)
            for k in KS:
                tally[group][weight][k] += hit is not None and hit < k
        counts[group] += 1


def main() -> None:
    from assistant.embeddings import SentenceEmbedder

    parser = argparse.ArgumentParser()
    parser.add_argument("--train", type=Path, default=Path("../shared/train/realtimeqa-train"))
    parser.add_argument(
        "--dense-every", type=int, default=16, help="every n-th week dense too (0: none)"
    )
    parser.add_argument("--bm25", action="store_true", help="also BM25 alone on every week")
    args = parser.parse_args()
    embedder = SentenceEmbedder()
    tally = defaultdict(lambda: defaultdict(lambda: defaultdict(int)))
    counts = defaultdict(int)
    weeks = sorted(p for p in args.train.iterdir() if p.is_dir())
    for i, week in enumerate(weeks):
        if args.dense_every and i % args.dense_every == 0:
            replay_week(week, embedder, True, tally, counts)
        if args.bm25:
            replay_week(week, embedder, False, tally, counts)
        print(f"{week.name} done", flush=True)
    for group in sorted(tally):
        n = counts[group]
        print(f"\n{group[0]} {group[1]}: {n} questions naming a period")
        for weight in WEIGHTS:
            hits = " ".join(f"@{k} {tally[group][weight][k] / max(n, 1):.3f}" for k in KS)
            print(f"  weight {weight:<6} {hits}")


if __name__ == "__main__":
    main()
