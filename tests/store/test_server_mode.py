"""Server mode against a real ``chroma run`` server: processes that share one server
see each other's writes on their next query."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import ROOT, SEEDS

pytestmark = pytest.mark.slow

FESTIVAL = (
    "Zeppelin festival draws record crowd\n\n"
    "The annual zeppelin festival in Friedrichshafen drew 48,000 visitors on Saturday, "
    "organisers said.\n\n"
    "The airship maker opened its hangars to the public for the first time since 2019.\n"
)
FESTIVAL_QUESTION = "How many visitors did the zeppelin festival in Friedrichshafen draw?"
PUTIN_QUESTION = "What did Putin say about South Korea?"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _chroma_cli() -> str:
    beside_python = Path(sys.executable).with_name("chroma")
    found = str(beside_python) if beside_python.exists() else shutil.which("chroma")
    if not found:
        pytest.fail("the `chroma` CLI (installed with chromadb) is missing")
    return found


def _wait_for_heartbeat(url: str, proc: subprocess.Popen, log: Path, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"chroma server exited ({proc.returncode}):\n{log.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(f"{url}/api/v2/heartbeat", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    pytest.fail(f"chroma server did not answer within {timeout} s")


@pytest.fixture(scope="module")
def chroma_url(tmp_path_factory):
    """A real Chroma server on a free port, stopped after this module."""
    folder = tmp_path_factory.mktemp("chroma-server")
    port = _free_port()
    log = folder / "server.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [_chroma_cli(), "run", "--path", str(folder / "data"), "--port", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://localhost:{port}"
    try:
        _wait_for_heartbeat(url, proc, log)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


def _cli(url: str, index_dir: Path, collection: str, *args: str) -> dict:
    """One ``python -m assistant ... --json`` process against the server."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ASSISTANT_")}
    env |= {"ASSISTANT_COLLECTION": collection, "HF_HUB_OFFLINE": "1"}
    proc = subprocess.run(
        [sys.executable, "-m", "assistant", *args]
        + ["--chroma-url", url, "--index-dir", str(index_dir), "--json"],
        capture_output=True, text=True, timeout=600, cwd=ROOT, env=env,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_a_write_by_one_process_is_seen_by_the_others_next_query(
    chroma_url, tmp_path, make_settings, embedder
):
    from assistant.service import Assistant

    collection = "two-processes"
    writer_dir, reader_dir = tmp_path / "writer", tmp_path / "reader"
    assert _cli(chroma_url, writer_dir, collection, "index", str(SEEDS))["added"] == 1

    reader = Assistant(
        make_settings(chroma_url=chroma_url, index_dir=reader_dir, collection=collection),
        embedder=embedder,
    )
    putin = reader.ask(PUTIN_QUESTION)
    assert any("big mistake" in c.quote for c in putin.citations)
    assert reader.ask(FESTIVAL_QUESTION).abstained

    article = tmp_path / "festival.txt"
    article.write_text(FESTIVAL, encoding="utf-8")
    report = _cli(chroma_url, writer_dir, collection, "index", str(article))
    assert report["added"] == 1

    festival = reader.ask(FESTIVAL_QUESTION)  # the same long-lived reader, next query
    assert not festival.abstained
    assert any("48,000 visitors" in c.quote for c in festival.citations)

    third = _cli(chroma_url, tmp_path / "third", collection, "ask", FESTIVAL_QUESTION)
    assert third["answer"] == festival.answer
    assert [c["chunk_id"] for c in third["citations"]] == [c.chunk_id for c in festival.citations]

    removed = _cli(chroma_url, writer_dir, collection, "remove", str(article))
    assert removed["removed"] == [c.doc_id for c in festival.citations if "48,000" in c.quote]
    assert reader.ask(FESTIVAL_QUESTION).abstained
    assert reader.ask(PUTIN_QUESTION).answer == putin.answer


def test_every_assistant_operation_works_in_server_mode(
    chroma_url, tmp_path, make_settings, embedder
):
    from assistant.service import Assistant
    from assistant.web.app import build_app

    settings = make_settings(chroma_url=chroma_url, collection="in-process")
    assistant = Assistant(settings, embedder=embedder)
    other = Assistant(
        make_settings(chroma_url=chroma_url, collection="in-process", index_dir=tmp_path / "o"),
        embedder=embedder,
    )
    article = tmp_path / "festival.txt"
    article.write_text(FESTIVAL, encoding="utf-8")

    report = assistant.index([str(SEEDS), str(article)])
    assert (report.added, report.errors) == (2, [])
    assert assistant.index([str(SEEDS), str(article)]).unchanged == 2
    assert assistant.reindex().unchanged == 2
    assert sorted(s.title for s in other.sources()) == sorted(s.title for s in assistant.sources())
    events = list(other.ask_stream(FESTIVAL_QUESTION))
    assert "48,000" in events[-1].answer and "".join(events[:-1]) == events[-1].answer
    assert build_app(other) is not None  # the UI builds on a server-mode assistant

    assert assistant.remove(str(article))
    assert other.ask(FESTIVAL_QUESTION).abstained
    assistant.index([str(article)])
    article.unlink()
    assert assistant.index([str(tmp_path)], sync=True).removed == 1  # file gone: forgotten
    assert other.ask(FESTIVAL_QUESTION).abstained
    assert [s.source for s in other.sources()] == [s.source for s in assistant.sources()]
    assert len(other.sources()) == 1
