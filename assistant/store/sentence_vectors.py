"""Sentence vectors of indexed chunks, kept beside the index and memory-mapped.

Indexing gets one vector per quotable sentence of a chunk from the chunk's own forward
pass (``SentenceEmbedder.encode_passages``); the answerer ranks sentences by them, so a
question costs no sentence encoding. They live in a folder per chunk collection (a
``reindex --rebuild`` makes a new collection and so a new folder), written as *parts*:
``part-<id>.npy`` (float16 rows) and then ``part-<id>.json`` (chunk id -> first row and
row count). The JSON file is written last and atomically, so a reader only ever sees
complete parts; a later part wins over an earlier one for the same chunk. Chunks of
removed articles leave rows behind until the parts are compacted.

Another machine writing to a shared Chroma server does not write this folder: a chunk
missing here is encoded when it is first needed (``missing`` tells the caller which).
"""

from __future__ import annotations

import json
import os
import secrets
import tempfile
import threading
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from assistant.store.chunking import embedding_spans, embedding_text

FOLDER = "sentence-vectors"
# chunks as their text and Chroma metadata, by chunk id
ChunkTexts = dict[str, tuple[str, dict]]
# above this many parts a writer merges them into one (fewer files to open and map)
MAX_PARTS = 64


def vectors_folder(index_dir: Path, generation: str) -> Path:
    """Where the sentence vectors of one chunk collection live."""
    return Path(index_dir) / FOLDER / generation


class SentenceVectorStore:
    """Read and append the sentence vectors of one chunk collection."""

    def __init__(self, folder: Path):
        self.folder = Path(folder)
        self._rows: dict[str, tuple[str, int, int]] = {}  # chunk id -> (part, row, count)
        self._arrays: dict[str, np.ndarray] = {}
        self._parts: set[str] = set()
        self._lock = threading.Lock()

    # --- reading ------------------------------------------------------------------------
    def refresh(self) -> None:
        """Pick up parts written since the last look (by this or another process)."""
        with self._lock:
            names = sorted(p.stem for p in self.folder.glob("part-*.json"))
            for name in (n for n in names if n not in self._parts):
                try:
                    index = json.loads((self.folder / f"{name}.json").read_text())
                    array = np.load(self.folder / f"{name}.npy", mmap_mode="r")
                except (OSError, ValueError):
                    continue  # removed by a compaction meanwhile: its rows are elsewhere
                self._arrays[name] = array
                self._parts.add(name)
                for chunk_id, (row, count) in index["chunks"].items():
                    self._add_row(chunk_id, name, row, count, index["order"])

    def _add_row(self, chunk_id: str, part: str, row: int, count: int, order: int) -> None:
        known = self._rows.get(chunk_id)
        if known is None or self._order(known[0]) <= order:
            self._rows[chunk_id] = (part, row, count)

    def _order(self, part: str) -> int:
        return int(part.split("-")[1])

    def get(self, chunk_ids: Iterable[str], counts: dict[str, int] | None = None):
        """Vectors (float32, one row per sentence) of the chunks found, by chunk id; a
        chunk whose row count differs from ``counts[chunk_id]`` counts as missing."""
        found: dict[str, np.ndarray] = {}
        for chunk_id in chunk_ids:
            entry = self._rows.get(chunk_id)
            if entry is None:
                continue
            part, row, count = entry
            if counts is not None and counts.get(chunk_id, count) != count:
                continue
            found[chunk_id] = np.asarray(self._arrays[part][row : row + count], np.float32)
        return found

    def __len__(self) -> int:
        return len(self._rows)

    # --- writing (under the index's writer lock) ----------------------------------------
    def add(self, vectors: dict[str, np.ndarray]) -> None:
        """Write the sentence vectors of some chunks as one new part."""
        if not vectors:
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        self.refresh()
        order = 1 + max((self._order(p) for p in self._parts), default=0)
        self._write_part(order, vectors)
        self.refresh()
        if len(self._parts) > MAX_PARTS:
            self.compact()

    def _write_part(self, order: int, vectors: dict[str, np.ndarray]) -> None:
        name = f"part-{order:08d}-{secrets.token_hex(4)}"
        rows, index, at = [], {}, 0
        for chunk_id, array in vectors.items():
            rows.append(np.asarray(array, np.float16).reshape(len(array), -1))
            index[chunk_id] = (at, len(array))
            at += len(array)
        _atomic_write(self.folder / f"{name}.npy", lambda f: np.save(f, np.vstack(rows)))
        payload = json.dumps({"order": order, "chunks": index}).encode()
        _atomic_write(self.folder / f"{name}.json", lambda f: f.write(payload))

    def compact(self, keep: set[str] | None = None) -> None:
        """Merge every part into one (only the chunks in ``keep``, when given)."""
        self.refresh()
        old = sorted(self._parts)
        live = {c for c in self._rows if keep is None or c in keep}
        merged = self.get(live)
        order = 1 + max((self._order(p) for p in old), default=0)
        if merged:
            self._write_part(order, merged)
        for name in old:
            (self.folder / f"{name}.json").unlink(missing_ok=True)
            (self.folder / f"{name}.npy").unlink(missing_ok=True)
        with self._lock:
            self._rows, self._arrays, self._parts = {}, {}, set()
        self.refresh()


def _atomic_write(path: Path, write) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".part-", suffix=".tmp")
    with os.fdopen(fd, "wb") as handle:
        write(handle)
    os.chmod(tmp, 0o644)  # other local processes read it
    os.replace(tmp, path)


def encode_sentences(embedder, chunks: ChunkTexts) -> dict[str, np.ndarray]:
    """In-context sentence vectors of chunks given as chunk id -> (text, metadata), from
    one forward pass each (for chunks the sidecar lacks)."""
    if not chunks:
        return {}
    texts, spans = [], []
    for text, meta in chunks.values():
        title = meta.get("title", "")
        texts.append(embedding_text(title, text))
        spans.append(embedding_spans(title, int(meta["start"]), json.loads(meta["sentences"])))
    encoded = embedder.encode_passages(texts, spans)
    return dict(zip(chunks, encoded.sentences, strict=True))
