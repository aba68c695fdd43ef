"""Sentence vectors of indexed chunks: kept beside the index and, in server mode, on the
server too.

Indexing gets one vector per quotable sentence of a chunk from the chunk's own forward
pass (``SentenceEmbedder.encode_passages``); the answerer ranks sentences by them, so a
question costs no sentence encoding. Each place they are kept is a ``SentenceVectors``
backend, read by chunk id, written by the index run that writes the chunks and told of the
articles removed:

* ``SentenceVectorStore``, the *sidecar*: a folder per chunk collection (a ``reindex
  --rebuild`` makes a new collection and so a new folder), memory-mapped, written as
  *parts*: ``part-<id>.npy`` (float16 rows) and then ``part-<id>.json`` (chunk id -> first
  row and row count). The JSON file is written last and atomically, so a reader only ever
  sees complete parts; a later part wins over an earlier one for the same chunk. Chunks of
  removed articles leave rows behind until the parts are compacted.
* ``ChromaSentenceVectors``: a Chroma collection per chunk collection, one record per
  chunk, for processes that share a Chroma server but not the writer's folder (a
  replica on another machine or folder). What it fetches stays in a bounded in-memory
  cache of the process.

``SentenceLayers`` reads them in order (the sidecar first: the writer's own, and fastest)
and writes to all. A chunk that none of them holds (an index written before they were
kept) is encoded when it is first needed.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import tempfile
import threading
from collections import Counter, OrderedDict
from collections.abc import Iterable
from pathlib import Path
from typing import Protocol

import numpy as np
from chromadb.errors import NotFoundError

from assistant.store.chunking import doc_of_chunk, embedding_spans, embedding_text

FOLDER = "sentence-vectors"
# chunks as their text and Chroma metadata, by chunk id
ChunkTexts = dict[str, tuple[str, dict]]
# above this many parts a writer merges them into one (fewer files to open and map)
MAX_PARTS = 64
# sentences a process keeps of what it fetched from the server: about 38 MB (float16), the
# candidates of some 150 questions (80 chunks of about 4 sentences each)
CACHE_ROWS = 50_000
# the sentence collection is only ever read by chunk id, never searched by similarity, so
# its HNSW graph (which Chroma always builds) is made as cheap as it goes
SENTENCE_HNSW = {"hnsw": {"space": "cosine", "ef_construction": 8, "max_neighbors": 4}}
# chunk records per upsert: each is some 8 KB of base64, and the server refuses requests of
# tens of MB (413), which its own batch limit (5,461 records) would reach
WRITE_RECORDS = 500


class SentenceVectors(Protocol):
    """A place sentence vectors are kept (``name`` says which, in ``SentenceLayers.served``)."""

    name: str

    def get(
        self, chunk_ids: Iterable[str], counts: dict[str, int] | None = None
    ) -> dict[str, np.ndarray]: ...

    def add(self, vectors: dict[str, np.ndarray]) -> None: ...

    def remove_documents(self, doc_ids: Iterable[str]) -> None: ...


def vectors_folder(index_dir: Path, generation: str) -> Path:
    """Where the sentence vectors of one chunk collection live."""
    return Path(index_dir) / FOLDER / generation


class SentenceVectorStore:
    """Read and append the sentence vectors of one chunk collection in a local folder."""

    name = "sidecar"

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
        chunk whose row count differs from ``counts[chunk_id]`` counts as missing. A miss
        looks for parts written since (by this or another local process) once."""
        chunk_ids = list(chunk_ids)
        found = self._get(chunk_ids, counts)
        if len(found) < len(chunk_ids):
            self.refresh()
            found.update(self._get([c for c in chunk_ids if c not in found], counts))
        return found

    def _get(self, chunk_ids: list[str], counts: dict[str, int] | None) -> dict[str, np.ndarray]:
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

    def remove_documents(self, doc_ids: Iterable[str]) -> None:
        """Nothing to do: rows of removed chunks stay until the parts are compacted (only
        the chunks of indexed articles are ever looked up)."""

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


def sentence_collection_name(collection: str, generation: str) -> str:
    """The Chroma collection holding the sentence vectors of one chunk collection."""
    return f"{collection}-sentences-{generation}"


class RecentVectors:
    """The sentence vectors of recently looked-up chunks, at most ``max_rows`` sentences
    (least recently used first out); shared by the threads of one process."""

    def __init__(self, max_rows: int = CACHE_ROWS):
        self.max_rows = max_rows
        self._items: OrderedDict[str, np.ndarray] = OrderedDict()
        self._rows = 0
        self._lock = threading.Lock()

    def get(self, chunk_ids: Iterable[str]) -> dict[str, np.ndarray]:
        with self._lock:
            found = {c: self._items[c] for c in chunk_ids if c in self._items}
            for chunk_id in found:
                self._items.move_to_end(chunk_id)
        return found

    def put(self, vectors: dict[str, np.ndarray]) -> None:
        with self._lock:
            for chunk_id, array in vectors.items():
                old = self._items.pop(chunk_id, None)
                self._rows += len(array) - (0 if old is None else len(old))
                self._items[chunk_id] = array
            while self._rows > self.max_rows and self._items:
                self._rows -= len(self._items.popitem(last=False)[1])


class ChromaSentenceVectors:
    """Sentence vectors in a Chroma collection: one record per chunk, its id the chunk id,
    its vectors packed in its metadata (``vectors``: the float16 rows as base64, with
    ``sentences``, their number, and ``doc_id``) and a constant embedding, as nothing
    searches this collection by similarity.

    One record per chunk, not one row (and embedding) per sentence: a question's 75
    candidate chunks came back in 5 to 8 ms so, against 55 to 80 ms for their 600 sentence
    rows (a local ``chroma run`` holding 10k chunks, 2 busy cores), and indexing wrote 10k
    chunks in 4.6 s against 23 s. A chunk's vectors never change under its id within one
    chunk collection, so what is fetched is cached (``RecentVectors``) and never re-read;
    ``fetches`` counts the requests to the server.
    """

    name = "server"

    def __init__(self, collection, batch_size: int, cache: RecentVectors | None = None):
        self.collection = collection
        self.batch_size = max(1, min(batch_size, WRITE_RECORDS))
        self.cache = cache if cache is not None else RecentVectors()
        self.fetches = 0

    def get(self, chunk_ids: Iterable[str], counts: dict[str, int] | None = None):
        """Vectors (float32) of the chunks found, by chunk id: from the cache, the rest
        in one request; a chunk whose row count differs from ``counts`` counts as missing."""
        chunk_ids = list(dict.fromkeys(chunk_ids))
        found = self.cache.get(chunk_ids)
        wanted = [c for c in chunk_ids if c not in found]
        if wanted:
            fetched = self._fetch(wanted)
            self.cache.put(fetched)
            found.update(fetched)
        return {c: np.asarray(v, np.float32) for c, v in _complete(found, counts).items()}

    def _fetch(self, chunk_ids: list[str]) -> dict[str, np.ndarray]:
        self.fetches += 1
        try:
            got = self.collection.get(ids=chunk_ids, include=["metadatas"])
        except NotFoundError:
            return {}  # dropped by a rebuild since this process bound it: encode meanwhile
        return {c: _unpack(m) for c, m in zip(got["ids"], got["metadatas"], strict=True)}

    def add(self, vectors: dict[str, np.ndarray]) -> None:
        """Upsert the records of some chunks, in float16 as the sidecar keeps them, so
        every process ranks sentences with the very same numbers."""
        records = [(c, np.asarray(a, "<f2")) for c, a in vectors.items() if len(a)]
        for i in range(0, len(records), self.batch_size):
            part = records[i : i + self.batch_size]
            self.collection.upsert(
                ids=[c for c, _ in part],
                embeddings=[[1.0]] * len(part),
                metadatas=[_packed(c, a) for c, a in part],
            )

    def remove_documents(self, doc_ids: Iterable[str]) -> None:
        """Delete the records of these articles' chunks."""
        doc_ids = list(doc_ids)
        if doc_ids:
            self.collection.delete(where={"doc_id": {"$in": doc_ids}})

    def count(self) -> int:
        return self.collection.count()


def _complete(vectors: dict[str, np.ndarray], counts: dict[str, int] | None):
    if counts is None:
        return vectors
    return {c: v for c, v in vectors.items() if counts.get(c, len(v)) == len(v)}


def _packed(chunk_id: str, rows: np.ndarray) -> dict:
    encoded = base64.b64encode(np.ascontiguousarray(rows).tobytes()).decode("ascii")
    return {"doc_id": doc_of_chunk(chunk_id), "sentences": len(rows), "vectors": encoded}


def _unpack(meta: dict) -> np.ndarray:
    rows = np.frombuffer(base64.b64decode(meta["vectors"]), dtype="<f2")
    return rows.reshape(int(meta["sentences"]), -1)


class SentenceLayers:
    """Backends read in order, each for the chunks the ones before it lack, and written
    alike; ``served`` counts the chunks each one gave (by its ``name``)."""

    def __init__(self, layers: list[SentenceVectors], served: Counter | None = None):
        self.layers = layers
        self.served = served if served is not None else Counter()

    def get(self, chunk_ids: Iterable[str], counts: dict[str, int] | None = None):
        chunk_ids = list(chunk_ids)
        found: dict[str, np.ndarray] = {}
        for layer in self.layers:
            wanted = [c for c in chunk_ids if c not in found]
            if not wanted:
                break
            got = layer.get(wanted, counts)
            self.served[layer.name] += len(got)
            found.update(got)
        return found

    def add(self, vectors: dict[str, np.ndarray]) -> None:
        if vectors:
            for layer in self.layers:
                layer.add(vectors)

    def remove_documents(self, doc_ids: Iterable[str]) -> None:
        doc_ids = list(doc_ids)
        for layer in self.layers:
            layer.remove_documents(doc_ids)


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
