"""Property test: random add / change / remove / re-index / reopen sequences on a few tiny
files always leave the index equal to a simple reference model: the same articles, each
with the same sources and chunk count, and no orphan chunks.

It uses the real embedding model and real Chroma (each article is only a chunk or two,
so a step costs little), with few examples so the suite stays fast."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from assistant.config import load_settings
from assistant.library.ingest import parse_text
from assistant.service import Assistant
from assistant.store.chunking import chunk_document
from tests.indexstate import index_state

MAX_TOKENS = 32  # small chunks, so some articles have several
NAMES = ["a.txt", "b.txt", "sub/c.md"]
CONTENTS = [
    "Trains late\n\nTrains ran late on Monday because of ice on the line.\n",
    "Boats early\n\nBoats sailed early on Tuesday. The harbour was calm and the sea was flat.\n"
    "\nFishermen said the catch was the best in years, and prices at the market fell.\n",
    "Council vote\n\nThe council voted to close the old bridge. Repairs will start in May.\n"
    "\nDrivers must use the ring road until the autumn, the mayor said on Friday.\n"
    "\nShops near the bridge asked for help with lost trade during the works.\n",
    "",  # an empty file: rejected, and what its path held before stays indexed
]

steps = st.lists(
    st.one_of(
        st.tuples(st.just("write"), st.sampled_from(NAMES), st.integers(0, len(CONTENTS) - 1)),
        st.tuples(st.just("delete"), st.sampled_from(NAMES), st.just(0)),
        st.tuples(st.just("index"), st.sampled_from(["plain", "sync"]), st.just(0)),
        st.tuples(st.just("reopen"), st.just(""), st.just(0)),
    ),
    min_size=1,
    max_size=12,
)


class Reference:
    """What the index should hold: for each recorded source, the article it holds."""

    def __init__(self, count_tokens):
        self.recorded: dict[str, int] = {}
        docs = [parse_text(c, "x.txt") if c.strip() else None for c in CONTENTS]
        self.ids = [d.doc_id if d else None for d in docs]
        self.chunks = [
            len(chunk_document(d, count_tokens, MAX_TOKENS, 1)) if d else 0 for d in docs
        ]

    def index(self, files: dict[str, int], sync: bool) -> None:
        for source, content in files.items():
            if self.ids[content] is not None:
                self.recorded[source] = content
        if sync:
            self.recorded = {s: c for s, c in self.recorded.items() if s in files}

    def expected(self) -> dict[str, tuple[int, frozenset[str]]]:
        by_doc: dict[str, set[str]] = {}
        for source, content in self.recorded.items():
            by_doc.setdefault(self.ids[content], set()).add(source)
        index_of = {doc_id: i for i, doc_id in enumerate(self.ids)}
        return {d: (self.chunks[index_of[d]], frozenset(s)) for d, s in by_doc.items()}


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(steps)
def test_index_always_equals_the_reference_model(embedder, steps):
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "news"
        (folder / "sub").mkdir(parents=True)
        config = load_settings(index_dir=Path(tmp) / "index", max_chunk_tokens=MAX_TOKENS)
        assistant = Assistant(config, embedder=embedder)
        reference = Reference(embedder.count_tokens)
        files: dict[str, int] = {}  # absolute path -> content number, as on disk
        for op, arg, content in [*steps, ("index", "plain", 0)]:
            path = folder / arg if op in {"write", "delete"} else None
            if op == "write":
                path.write_text(CONTENTS[content], encoding="utf-8")
                files[os.path.abspath(path)] = content
            elif op == "delete" and path.exists():
                path.unlink()
                del files[os.path.abspath(path)]
            elif op == "index":
                assistant.index([str(folder)], sync=arg == "sync")
                reference.index(files, sync=arg == "sync")
            elif op == "reopen":
                assistant = Assistant(config, embedder=embedder)
                assistant.store.reopen()  # a fresh client that reads the files on disk
            actual = {d: (n, frozenset(s)) for d, (n, s) in index_state(assistant.store).items()}
            assert actual == reference.expected(), (op, arg, content)
