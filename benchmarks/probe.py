"""A serving process for the benchmark: open an index, answer questions, report.

Run by ``python -m benchmarks`` in a fresh process per corpus, so its peak RSS is
that of one assistant serving that index and nothing else. Prints one JSON object.

    python -m benchmarks.probe --index-dir DIR --questions FILE [--rounds 2]
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import time
from pathlib import Path

START = time.time()


def percentile(values: list[float], q: float) -> float:
    """The ``q``-th percentile (0-100) by linear interpolation."""
    ordered = sorted(values)
    if not ordered:
        raise ValueError("no values")
    pos = (len(ordered) - 1) * q / 100
    low = int(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def update_figures(reader, article: str) -> dict:
    """Another writer adds one article: its index time, this reader's next ask (which
    catches up its BM25 index), and the removal that restores the corpus."""
    from assistant.service import Assistant

    writer = Assistant(reader.settings, embedder=reader.embedder)
    question = Path(article).with_suffix(".question").read_text(encoding="utf-8").strip()
    start = time.perf_counter()
    report = writer.index([article])
    add_s = time.perf_counter() - start
    start = time.perf_counter()
    answer = reader.ask(question)
    ask_ms = (time.perf_counter() - start) * 1e3
    start = time.perf_counter()
    removed = writer.remove(article)
    remove_s = time.perf_counter() - start
    if report.added != 1 or answer.abstained or not removed:
        raise RuntimeError(f"update check failed: {report}, {answer.answer!r}, {removed}")
    return {
        "add_article_s": round(add_s, 2),
        "ask_after_update_ms": round(ask_ms, 1),
        "remove_article_s": round(remove_s, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--index-dir", required=True)
    parser.add_argument("--questions", required=True)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--update-article", help="then add and remove this article")
    args = parser.parse_args()

    from assistant.config import load_settings
    from assistant.service import Assistant

    lines = Path(args.questions).read_text(encoding="utf-8").splitlines()
    questions = [json.loads(line)["question"] for line in lines if line.strip()]
    assistant = Assistant(load_settings(index_dir=args.index_dir))
    assistant.ask(questions[0])
    first_answer_s = time.time() - START
    for question in questions[: args.warmup]:
        assistant.ask(question)
    latencies, stages = [], {"retrieve": [], "answer": []}
    for _ in range(args.rounds):
        for question in questions:
            start = time.perf_counter()
            answer = assistant.ask(question)
            latencies.append((time.perf_counter() - start) * 1e3)
            for stage in stages:
                stages[stage].append(answer.timings_ms[stage])
    peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    update = update_figures(assistant, args.update_article) if args.update_article else {}
    print(
        json.dumps(
            {
                **update,
                "chunks": assistant.store.chunk_count(),
                "asks": len(latencies),
                "p50_ms": round(percentile(latencies, 50), 1),
                "p95_ms": round(percentile(latencies, 95), 1),
                "mean_ms": round(statistics.fmean(latencies), 1),
                "retrieve_p50_ms": round(percentile(stages["retrieve"], 50), 1),
                "answer_p50_ms": round(percentile(stages["answer"], 50), 1),
                "first_answer_s": round(first_answer_s, 2),
                "peak_rss_mb": round(peak_rss_mb, 1),
            }
        )
    )


if __name__ == "__main__":
    main()
