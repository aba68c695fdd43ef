"""Load: 20 concurrent gradio_client sessions ask 10 questions each while one more session
uploads articles. Every question must be answered, no answer may cite a half-indexed
article, and the server must stay up. Throughput and latency are printed (a benchmark,
not a timed assert)."""

from __future__ import annotations

import statistics
import threading
import time

import pytest
from gradio_client import Client, handle_file

from tests.app_server import copy_index, running_app

pytestmark = pytest.mark.slow

READERS, QUESTIONS_EACH, UPLOADS = 20, 10, 6
TOWNS = ["Arden", "Bexley", "Corran", "Dunmore", "Elston", "Fairview"]
SEED_QUESTIONS = [
    "What did Putin say about South Korea?",
    "What did Putin say about NATO?",
    "Who is the US State Department spokesman quoted?",
    "Where was Putin visiting when he spoke?",
    "Who won the 2022 FIFA World Cup?",
]
FILLER = (
    "Residents gathered in the square to discuss the plans. Several speakers praised the "
    "volunteers who had raised money for years. Others asked about parking, opening hours and "
    "the bus routes that would serve the building. The council promised to publish a report. "
)


def town_article(i: int) -> str:
    town = TOWNS[i]
    paragraphs = [
        f"{town} opens a new public library",
        f"The {town} public library opened on Saturday after three years of construction.",
        *(FILLER for _ in range(4)),
        f"The {town} library cost {11 + i} million dollars and holds {40 + i} thousand books.",
        *(FILLER for _ in range(4)),
        f"Head librarian Mara {town}son said the reading room seats {100 + i} people.",
    ]
    return "\n\n".join(paragraphs) + "\n"


def questions_for(reader: int) -> list[str]:
    out = []
    for n in range(QUESTIONS_EACH):
        if (reader + n) % 2:
            out.append(SEED_QUESTIONS[(reader + n) % len(SEED_QUESTIONS)])
        else:
            out.append(f"How much did the {TOWNS[(reader + n) % UPLOADS]} library cost?")
    return out


class Results:
    def __init__(self):
        self.lock = threading.Lock()
        self.latencies: list[float] = []
        self.failures: list[str] = []
        self.half_indexed: list[str] = []
        self.cited_uploads = 0
        self.upload_seconds: list[float] = []


def check_citations(app, answer: dict, results: Results) -> None:
    """Each cited article must be complete the moment a reader sees it."""
    store = app.assistant.store
    for cite in answer["citations"]:
        record = store.doc_records().get(cite["doc_id"])
        got = store.chunks.get(where={"doc_id": cite["doc_id"]}, include=[])
        if record is None or len(got["ids"]) != int(record["chunks"]):
            results.half_indexed.append(cite["doc_id"])
        doc = store.get_document(cite["doc_id"])
        if doc is None or doc.text[cite["start"] : cite["end"]] != cite["quote"]:
            results.half_indexed.append(f"{cite['doc_id']} quote")
        if "library" in cite["title"]:
            with results.lock:
                results.cited_uploads += 1


def reader(app, number: int, results: Results) -> None:
    client = Client(app.url, verbose=False)
    for question in questions_for(number):
        start = time.perf_counter()
        try:
            if number % 2:
                _, chat = client.predict(question, [], 5, "extractive", True, api_name="/ask")
                reply = chat[-1]["content"][0]["text"]
                assert "cite-card" in reply, reply[:200]
            else:
                answer = client.predict(question, 0, "", api_name="/answer")
                assert answer["citations"] or answer["related"] or answer["abstained"]
                check_citations(app, answer, results)
        except Exception as exc:
            with results.lock:
                results.failures.append(f"{question}: {exc!r}"[:300])
            continue
        with results.lock:
            results.latencies.append(time.perf_counter() - start)


def uploader(app, folder, results: Results) -> None:
    client = Client(app.url, verbose=False)
    for i in range(UPLOADS):
        path = folder / f"{TOWNS[i].lower()}-library.txt"
        path.write_text(town_article(i))
        start = time.perf_counter()
        try:
            report, _ = client.predict([handle_file(str(path))], api_name="/add_files")
            assert "1 added" in report, report
        except Exception as exc:
            with results.lock:
                results.failures.append(f"upload {path.name}: {exc!r}"[:300])
        results.upload_seconds.append(time.perf_counter() - start)


def test_many_readers_and_an_uploader(seed_index_dir, embedder, tmp_path):
    index = copy_index(seed_index_dir, tmp_path / "index")
    results = Results()
    with running_app(index, embedder) as app:
        Client(app.url, verbose=False).predict("warm up", 0, "", api_name="/answer")
        threads = [threading.Thread(target=reader, args=(app, n, results)) for n in range(READERS)]
        threads.append(threading.Thread(target=uploader, args=(app, tmp_path, results)))
        start = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=600)
        elapsed = time.perf_counter() - start
        after = Client(app.url, verbose=False).predict(
            "How much did the Fairview library cost?", 0, "", api_name="/answer"
        )
        sources = app.assistant.sources()

    lat = sorted(results.latencies)
    p95 = lat[int(0.95 * (len(lat) - 1))] if lat else float("nan")
    print(
        f"\nload: {READERS} sessions x {QUESTIONS_EACH} questions + {UPLOADS} uploads in "
        f"{elapsed:.1f} s; {len(lat) / elapsed:.2f} questions/s; latency p50 "
        f"{statistics.median(lat):.2f} s, p95 {p95:.2f} s, max {lat[-1]:.2f} s; uploads "
        f"median {statistics.median(results.upload_seconds):.2f} s; answers citing an "
        f"uploaded article: {results.cited_uploads}"
    )
    assert results.failures == []
    assert len(lat) == READERS * QUESTIONS_EACH
    assert results.half_indexed == []
    assert len(sources) == 1 + UPLOADS
    assert "16 million dollars" in after["answer"]
