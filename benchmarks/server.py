"""Server mode for the benchmark: a writer and a replica against one ``chroma run``.

The corpus folder (an embedded index) is copied and served by a real ``chroma run``, as
the README's "Scale out" section moves an index to a server. The writer opens it with the
copy as its local folder (its sidecar of sentence vectors is there) and first publishes
the sentence vectors to the server, as its first index run would; the replica opens it
with an empty folder, so its sentence vectors come from the server. Both live in one probe
process and take turns on each question (which of them goes first alternates), so a busy
machine slows both alike; each has its own store, Chroma client and fetch cache.

    python -m benchmarks.server --served DIR --replica-dir DIR --chroma-url URL
        --questions FILE [--rounds 2]
"""

from __future__ import annotations

import argparse
import json
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

from .probe import percentile


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def chroma_cli() -> str:
    """The ``chroma`` command installed with chromadb (beside this Python, else on PATH)."""
    beside_python = Path(sys.executable).with_name("chroma")
    found = str(beside_python) if beside_python.exists() else shutil.which("chroma")
    if not found:
        raise RuntimeError("the `chroma` CLI (installed with chromadb) is missing")
    return found


@contextmanager
def chroma_server(folder: Path, timeout: float = 120):
    """A ``chroma run`` serving ``folder`` on a free port: its URL, until the end (the
    server's output goes to ``FOLDER-server.log`` beside it)."""
    port, log = _free_port(), folder.parent / f"{folder.name}-server.log"
    with log.open("wb") as out:
        command = [chroma_cli(), "run", "--path", str(folder), "--port", str(port)]
        proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://localhost:{port}"
    try:
        _wait_for(url, proc, log, timeout)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


def _wait_for(url: str, proc: subprocess.Popen, log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = log.read_text(errors="replace")[-2000:]
            raise RuntimeError(f"chroma run exited with {proc.returncode}:\n{tail}")
        try:
            with urllib.request.urlopen(f"{url}/api/v2/heartbeat", timeout=2):
                return
        except OSError:
            time.sleep(0.3)
    raise RuntimeError(f"chroma run did not answer within {timeout} s")


def server_figures(folder: Path, work: Path, questions: Path, rounds: int, env: dict) -> dict:
    """Ask latency of the writer and of a replica with an empty folder, side by side."""
    served = work / f"server-{folder.name}"
    shutil.rmtree(served, ignore_errors=True)
    shutil.copytree(folder, served)
    try:
        with chroma_server(served) as url, tempfile.TemporaryDirectory(dir=work) as empty:
            proc = subprocess.run(
                [sys.executable, "-m", "benchmarks.server", "--served", str(served)]
                + ["--replica-dir", empty, "--chroma-url", url]
                + ["--questions", str(questions), "--rounds", str(rounds)],
                capture_output=True, text=True, env=env, cwd=Path(__file__).parent.parent,
                check=True,
            )  # fmt: skip
    finally:
        shutil.rmtree(served, ignore_errors=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def publish(assistant) -> dict:
    """Copy the writer's sidecar of sentence vectors to the server, under its lock."""
    from assistant.locks import writer_lock

    start = time.perf_counter()
    with writer_lock(Path(assistant.settings.index_dir)):
        chunks = assistant.store.publish_sentence_vectors()
    return {"published_chunks": chunks, "publish_s": round(time.perf_counter() - start, 2)}


def take_turns(sides: dict, questions: list[str], rounds: int) -> dict[str, list[float]]:
    """Milliseconds per ask of each side, the two asking each question in turn."""
    times: dict[str, list[float]] = {name: [] for name in sides}
    order = list(sides)
    for _ in range(rounds):
        for question in questions:
            order.reverse()  # who goes first alternates
            for name in order:
                start = time.perf_counter()
                sides[name].ask(question)
                times[name].append((time.perf_counter() - start) * 1e3)
    return times


def side_figures(assistant, times: list[float], per_round: int) -> dict:
    """One side's latency, and where its answered chunks' sentence vectors came from."""
    layers = assistant.store.sentences.layers
    return {
        "asks": len(times),
        "p50_ms": round(percentile(times, 50), 1),
        "p95_ms": round(percentile(times, 95), 1),
        "first_round_p50_ms": round(percentile(times[:per_round], 50), 1),
        "sentence_sources": dict(assistant.store.sentence_sources),
        "sentence_fetches": sum(getattr(layer, "fetches", 0) for layer in layers),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    for flag in ("--served", "--replica-dir", "--chroma-url", "--questions"):
        parser.add_argument(flag, required=True)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()

    from assistant.config import load_settings
    from assistant.service import Assistant

    lines = Path(args.questions).read_text(encoding="utf-8").splitlines()
    questions = [json.loads(line)["question"] for line in lines if line.strip()]
    writer = Assistant(load_settings(index_dir=args.served, chroma_url=args.chroma_url))
    published = publish(writer)
    settings = load_settings(index_dir=args.replica_dir, chroma_url=args.chroma_url)
    replica = Assistant(settings, embedder=writer.embedder)
    for assistant in (writer, replica):  # warm-up: first asks load models and indexes
        assistant.ask(questions[-1])
    times = take_turns({"writer": writer, "replica": replica}, questions, args.rounds)
    figures = {
        "writer": {**side_figures(writer, times["writer"], len(questions)), **published},
        "replica": side_figures(replica, times["replica"], len(questions)),
    }
    ratio = figures["replica"]["p50_ms"] / figures["writer"]["p50_ms"]
    print(json.dumps({**figures, "replica_vs_writer_p50": round(ratio, 3)}))


if __name__ == "__main__":
    main()
