"""How much of an LLM's answer survives verification, and how long an answer takes.

    PYTHONPATH=. python experiments/llm_report.py                  # bundled SmolLM2, seed questions
    PYTHONPATH=. python experiments/llm_report.py --answerer openai --base-url http://HOST/v1

For each question it prints the model's sentences, how many the verifier kept (under the
strict rule that a sentence must carry a valid marker, and with ``llm_cite_unmarked``),
and the time of the answer (retrieval + generation + verification): wall seconds, and CPU
seconds of this process (all threads), which other load on the machine inflates less.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from assistant.answer.verify import CitationVerifier, parse_answer
from assistant.config import load_settings
from assistant.schema import Answer
from assistant.service import Assistant

ROOT = Path(__file__).resolve().parent.parent
SEED_QUESTIONS = [
    "What did Putin say about South Korea?",
    "Who is the US State Department spokesman quoted?",
    "What did Putin say about NATO?",
    "How did the United States react?",
    "Where was Putin visiting when he spoke?",
]


def main() -> None:
    args = _parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        index_dir = args.index_dir or Path(tmp) / "index"
        settings = load_settings(
            index_dir=index_dir,
            answerer=args.answerer,
            llm_base_url=args.base_url,
            llm_model=args.model,
            llm_threads=args.threads,
            llm_max_tokens=args.max_tokens,
            k=args.k,
        )
        assistant = Assistant(settings)
        if args.index_dir is None:
            assistant.index([str(ROOT / "seeds")])
        rows = [_measure(assistant, q) for q in args.questions or SEED_QUESTIONS]
    _print_summary(rows)


def _measure(assistant: Assistant, question: str) -> dict:
    start, cpu_start = time.perf_counter(), time.process_time()
    deltas, answer = [], None
    for event in assistant.ask_stream(question):
        if isinstance(event, Answer):
            answer = event
        else:
            deltas.append(event)
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu_start
    raw = "".join(deltas)
    passages, _ = assistant.retriever.search(question, assistant.settings.k)
    given = assistant.answerer.fit(question, passages).passages
    drafts = parse_answer(raw)
    strict = assistant.answerer.verifier.check(drafts, given)
    lenient = CitationVerifier(assistant.embedder, cite_unmarked=True).check(drafts, given)
    print(f"\nQ: {question}  ({seconds:.1f} s wall, {cpu:.1f} s CPU; shown: {answer.answerer})")
    for check, loose in zip(strict, lenient, strict=True):
        verdict = "kept" if check.supported else ("kept*" if loose.supported else "rejected")
        markers = ",".join(map(str, check.draft.markers)) or "-"
        print(f"  [{verdict:>8}] {loose.score:.2f} markers={markers:<5} {check.draft.text[:90]}")
    return {
        "seconds": seconds,
        "cpu": cpu,
        "sentences": len(strict),
        "kept": sum(c.supported for c in strict),
        "kept_lenient": sum(c.supported for c in lenient),
        "with_markers": sum(bool(c.markers) for c in strict),
        "fallback": answer.answerer == "extractive",
    }


def _print_summary(rows: list[dict]) -> None:
    total = sum(r["sentences"] for r in rows) or 1
    times = sorted(r["seconds"] for r in rows)
    cpu = sorted(r["cpu"] for r in rows)
    print("\nsummary")
    print(f"  questions: {len(rows)}, model sentences: {sum(r['sentences'] for r in rows)}")
    print(f"  sentences with a valid marker: {sum(r['with_markers'] for r in rows) / total:.0%}")
    print(f"  kept by the verifier (strict): {sum(r['kept'] for r in rows) / total:.0%}")
    print(f"  kept with llm_cite_unmarked:   {sum(r['kept_lenient'] for r in rows) / total:.0%}")
    print(f"  answers that fell back to extractive: {sum(r['fallback'] for r in rows)}")
    print(f"  wall s per answer: median {times[len(times) // 2]:.1f}, max {times[-1]:.1f}")
    print(f"  CPU s per answer (all threads): median {cpu[len(cpu) // 2]:.1f}, max {cpu[-1]:.1f}")
    print("  (kept* = rejected by the strict rule only because it carries no marker)")


def _parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("questions", nargs="*", help="questions (default: the seed questions)")
    parser.add_argument("--answerer", default="llamacpp")
    parser.add_argument("--index-dir", type=Path, help="an existing index (default: seeds/)")
    parser.add_argument("--base-url", help="openai backend: the server's /v1 URL")
    parser.add_argument("--model", help="openai backend: the model name")
    parser.add_argument("--threads", type=int, help="llamacpp CPU threads")
    parser.add_argument("--max-tokens", type=int, default=256)
    parser.add_argument("--k", type=int, help="passages per question (default: settings)")
    return parser.parse_args()


if __name__ == "__main__":
    main()
