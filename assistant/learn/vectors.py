"""An on-disk cache of vectors keyed by model and text, so an experiment or evaluation
re-encodes only the chunks (and questions) it has not seen.

Encoding is the cost of any large evaluation (all-MiniLM-L6-v2 reads about 35 chunks a
second on two cores), and the training weeks repeat many articles. ``CachingEmbedder``
wraps an embedder with the same interface, so the real indexing pipeline runs over the
cache unchanged. Vectors are kept as float16 in one SQLite file.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from langchain_core.embeddings import Embeddings

from assistant.store.embeddings import PassageVectors, Spans


class VectorCache:
    """Vectors by key in one SQLite file (float16 blobs)."""

    def __init__(self, path: Path):
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(path), check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS vectors (key TEXT PRIMARY KEY, rows INTEGER, data BLOB)"
        )
        self._lock = threading.Lock()

    def get(self, keys: Sequence[str]) -> dict[str, np.ndarray]:
        """The cached (rows, dim) float32 arrays of those ``keys`` that are cached."""
        found: dict[str, np.ndarray] = {}
        unique = list(dict.fromkeys(keys))
        with self._lock:
            for at in range(0, len(unique), 500):
                part = unique[at : at + 500]
                marks = ",".join("?" * len(part))
                query = f"SELECT key, rows, data FROM vectors WHERE key IN ({marks})"
                for key, rows, data in self._db.execute(query, part):
                    found[key] = np.frombuffer(data, np.float16).reshape(rows, -1)
        return {k: v.astype(np.float32) for k, v in found.items()}

    def put(self, items: dict[str, np.ndarray]) -> None:
        rows = [(k, int(v.shape[0]), v.astype(np.float16).tobytes()) for k, v in items.items()]
        with self._lock:
            self._db.executemany("INSERT OR REPLACE INTO vectors VALUES (?, ?, ?)", rows)
            self._db.commit()

    def __len__(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM vectors").fetchone()[0])


def text_key(model: str, kind: str, text: str, spans: Spans = ()) -> str:
    """The cache key of one text (and its sentence spans) for one model."""
    payload = f"{model}\0{kind}\0{text}\0{json.dumps([list(s) for s in spans])}"
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


class CachingEmbedder(Embeddings):
    """An embedder whose encodings go through a ``VectorCache`` (same interface)."""

    def __init__(self, embedder, cache: VectorCache):
        self.inner = embedder
        self.cache = cache
        self.model_name = embedder.model_name
        self.dimension = embedder.dimension
        self.max_seq_length = embedder.max_seq_length
        self.device = embedder.device
        self.misses = 0

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        return self.inner.count_tokens(texts)

    def encode(self, texts: Sequence[str]) -> list[list[float]]:
        keys = [text_key(self.model_name, "text", t) for t in texts]
        found = self.cache.get(keys)
        todo = [i for i, k in enumerate(keys) if k not in found]
        if todo:
            self.misses += len(todo)
            fresh = np.asarray(self.inner.encode([texts[i] for i in todo]), np.float32)
            new = {keys[i]: _as_stored(fresh[j : j + 1]) for j, i in enumerate(todo)}
            self.cache.put(new)
            found.update(new)
        return [found[k][0].tolist() for k in keys]

    def encode_passages(self, texts: Sequence[str], spans: Sequence[Spans]) -> PassageVectors:
        pairs = zip(texts, spans, strict=True)
        keys = [text_key(self.model_name, "passage", t, s) for t, s in pairs]
        found = self.cache.get(keys)
        todo = [i for i, k in enumerate(keys) if k not in found]
        if todo:
            self.misses += len(todo)
            fresh = self.inner.encode_passages([texts[i] for i in todo], [spans[i] for i in todo])
            new = {
                keys[i]: _as_stored(np.vstack([fresh.passages[j : j + 1], fresh.sentences[j]]))
                for j, i in enumerate(todo)
            }
            self.cache.put(new)
            found.update(new)
        stacked = [found[k] for k in keys]
        return PassageVectors(
            np.vstack([v[:1] for v in stacked]) if stacked else np.zeros((0, self.dimension)),
            [v[1:] for v in stacked],
        )

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.encode(texts)

    def embed_query(self, text: str) -> list[float]:
        return self.encode([text])[0]


def _as_stored(vectors: np.ndarray) -> np.ndarray:
    """Vectors as the cache gives them back (float16 precision): a first run, which
    encodes, then sees exactly what every later run reads, so runs are reproducible."""
    return np.asarray(vectors, np.float16)
