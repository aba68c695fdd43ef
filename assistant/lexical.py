"""BM25 over chunk texts that is updated by article, not rebuilt.

The index is a sparse term-frequency matrix (chunks x terms) kept column-wise, so a
query reads only its terms' postings; IDF and length normalisation are computed at
query time with the Lucene BM25 formula (the one bm25s uses). Adding or dropping
articles touches only their rows, so the index follows a store of 100k chunks in well
under a second instead of re-reading and re-tokenising every chunk.

It is saved beside the vectors (or, in server mode, in a local cache keyed by the
server URL), tagged with the store revision it reflects. Any process brings its copy
up to date by comparing the articles it holds with the store's committed articles and
fetching only the chunks of the new ones, so every process answers from the same
articles after any of them writes.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import tempfile
from pathlib import Path

import numpy as np
from scipy import sparse

from .config import Settings

K1, B = 1.5, 0.75
INDEX_FILE = "bm25.npz"
FETCH_DOCS = 200  # articles per store read when catching up


def bm25_tokens(texts: list[str]) -> list[list[str]]:
    """Lower-cased, stemmed words without English stop words (stateless)."""
    import bm25s
    import Stemmer

    return bm25s.tokenize(
        texts,
        stopwords="en",
        stemmer=Stemmer.Stemmer("english"),
        return_ids=False,
        show_progress=False,
    )


def lexical_text(title: str, text: str) -> str:
    """What BM25 sees of a chunk: its article's title, then the passage."""
    return f"{title}\n{text}"


def lexical_dir(settings: Settings) -> Path:
    """Where the BM25 index lives: beside the vectors, or a local cache in server mode."""
    if not settings.chroma_url:
        return Path(settings.index_dir) / "lexical"
    key = hashlib.sha256(f"{settings.chroma_url}|{settings.collection}".encode()).hexdigest()[:12]
    return Path(settings.index_dir) / "lexical-cache" / key


class LexicalIndex:
    """An immutable BM25 index; ``updated`` returns a new one."""

    def __init__(
        self,
        terms: list[str],
        chunk_ids: list[str],
        doc_ids: list[str],
        matrix: sparse.csc_array,
        revision: int,
    ):
        self.terms = terms
        self.vocab = {t: i for i, t in enumerate(terms)}
        self.chunk_ids = chunk_ids
        self.doc_ids = doc_ids
        self.docs = frozenset(doc_ids)
        self.matrix = matrix  # chunks x terms, raw term counts
        self.revision = revision
        lengths = np.asarray(matrix.sum(axis=1), dtype=np.float32).ravel()
        mean = float(lengths.mean()) if len(lengths) else 1.0
        self._norm = K1 * (1 - B + B * lengths / max(mean, 1e-9))
        self._df = np.diff(matrix.indptr)

    @classmethod
    def empty(cls, revision: int = 0) -> LexicalIndex:
        return cls([], [], [], sparse.csc_array((0, 0), dtype=np.int32), revision)

    @classmethod
    def build(cls, chunks, revision: int) -> LexicalIndex:
        """Index ``chunks`` (objects with ``chunk_id``, ``text`` and a ``metadata`` dict
        holding ``doc_id`` and ``title``)."""
        return cls.empty(revision).updated(chunks, set(), revision)

    def __len__(self) -> int:
        return len(self.chunk_ids)

    def updated(self, added, removed_docs: set[str], revision: int) -> LexicalIndex:
        """A copy without the chunks of ``removed_docs`` and with the ``added`` chunks."""
        keep = np.fromiter((d not in removed_docs for d in self.doc_ids), bool, len(self))
        terms = list(self.terms)
        vocab = dict(self.vocab)
        new_rows = _count_rows(added, vocab, terms)
        old = sparse.csr_array(self.matrix)[keep]
        old.resize((old.shape[0], len(terms)))
        new_rows.resize((new_rows.shape[0], len(terms)))
        matrix = sparse.vstack([old, new_rows], format="csc", dtype=np.int32)
        kept = np.flatnonzero(keep)
        return LexicalIndex(
            terms,
            [self.chunk_ids[i] for i in kept] + [c.chunk_id for c in added],
            [self.doc_ids[i] for i in kept] + [c.metadata["doc_id"] for c in added],
            matrix,
            revision,
        )

    def with_revision(self, revision: int) -> LexicalIndex:
        return LexicalIndex(self.terms, self.chunk_ids, self.doc_ids, self.matrix, revision)

    def search(self, query: str, n: int) -> list[tuple[str, float]]:
        """Best ``n`` chunk ids with a positive BM25 score, best first."""
        columns = [self.vocab[t] for t in bm25_tokens([query])[0] if t in self.vocab]
        if not columns or not len(self) or n < 1:
            return []
        scores = np.zeros(len(self), dtype=np.float32)
        total = len(self)
        for col in columns:
            start, end = self.matrix.indptr[col], self.matrix.indptr[col + 1]
            rows = self.matrix.indices[start:end]
            tf = self.matrix.data[start:end].astype(np.float32)
            df = self._df[col]
            idf = np.log(1 + (total - df + 0.5) / (df + 0.5))
            scores[rows] += idf * tf / (tf + self._norm[rows])
        return self._top(scores, n)

    def _top(self, scores: np.ndarray, n: int) -> list[tuple[str, float]]:
        n = min(n, len(scores))
        best = np.argpartition(-scores, n - 1)[:n] if n < len(scores) else np.arange(len(scores))
        best = best[np.argsort(-scores[best], kind="stable")]
        return [(self.chunk_ids[i], float(scores[i])) for i in best if scores[i] > 0]

    # --- files --------------------------------------------------------------------
    def save(self, folder: Path) -> None:
        """Write atomically: a reader sees the old file or the new one, never half."""
        folder.mkdir(parents=True, exist_ok=True)
        buffer = io.BytesIO()
        np.savez(
            buffer,
            revision=np.array([self.revision], dtype=np.int64),
            terms=_pack(self.terms),
            chunk_ids=_pack(self.chunk_ids),
            doc_ids=_pack(self.doc_ids),
            shape=np.array(self.matrix.shape, dtype=np.int64),
            indptr=self.matrix.indptr,
            indices=self.matrix.indices,
            data=self.matrix.data,
        )
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".bm25-", suffix=".tmp")
        with os.fdopen(fd, "wb") as handle:
            handle.write(buffer.getbuffer())
        os.chmod(tmp, 0o644)  # mkstemp makes it private; other local processes read it
        os.replace(tmp, folder / INDEX_FILE)

    @classmethod
    def load(cls, folder: Path, revision: int | None = None) -> LexicalIndex | None:
        """The saved index (only if it reflects ``revision``, when given), else None."""
        try:
            with np.load(folder / INDEX_FILE) as saved:
                saved_rev = int(saved["revision"][0])
                if revision is not None and saved_rev != revision:
                    return None
                shape = tuple(int(x) for x in saved["shape"])
                matrix = sparse.csc_array(
                    (saved["data"], saved["indices"], saved["indptr"]), shape=shape
                )
                return cls(
                    _unpack(saved["terms"]),
                    _unpack(saved["chunk_ids"]),
                    _unpack(saved["doc_ids"]),
                    matrix,
                    saved_rev,
                )
        except (OSError, ValueError, KeyError):
            return None


def saved_revision(folder: Path) -> int | None:
    """The store revision the index saved in ``folder`` reflects, if there is one."""
    try:
        with np.load(folder / INDEX_FILE) as saved:
            return int(saved["revision"][0])
    except (OSError, ValueError, KeyError):
        return None


def _count_rows(chunks, vocab: dict[str, int], terms: list[str]) -> sparse.csr_array:
    """Term counts of ``chunks`` as sparse rows; new terms are added to ``vocab``."""
    tokens = bm25_tokens([lexical_text(c.metadata.get("title", ""), c.text) for c in chunks])
    rows, cols = [], []
    for row, words in enumerate(tokens):
        for word in words:
            col = vocab.get(word)
            if col is None:
                col = vocab[word] = len(terms)
                terms.append(word)
            cols.append(col)
        rows.append(np.full(len(words), row, dtype=np.int32))
    row_index = np.concatenate(rows) if rows else np.zeros(0, dtype=np.int32)
    ones = np.ones(len(cols), dtype=np.int32)
    coords = (row_index, np.asarray(cols, dtype=np.int32))
    coo = sparse.coo_array((ones, coords), shape=(len(tokens), len(terms)))
    return coo.tocsr()  # duplicates are summed: raw term counts


def _pack(strings: list[str]) -> np.ndarray:
    return np.frombuffer("\n".join(strings).encode("utf-8"), dtype=np.uint8)


def _unpack(array: np.ndarray) -> list[str]:
    text = array.tobytes().decode("utf-8")
    return text.split("\n") if text else []


def refresh_lexical(
    store, settings: Settings, revision: int | None = None, save: bool = True, current=None
) -> LexicalIndex:
    """The BM25 index for the store's committed articles at ``revision``.

    Uses ``current`` or the saved copy when it already reflects that revision;
    otherwise brings the newest of them up to date with only the articles added or
    removed since, and saves the result."""
    revision = store.revision() if revision is None else revision
    if current is not None and current.revision == revision:
        return current
    folder = lexical_dir(settings)
    if saved_revision(folder) == revision:
        saved = LexicalIndex.load(folder, revision)
        if saved is not None:
            return saved
    base = current or LexicalIndex.load(folder) or LexicalIndex.empty()
    index = catch_up(base, store, revision)
    if save:
        # Only a cache of the store: if saving fails, the next process catches up again.
        with contextlib.suppress(OSError):
            index.save(folder)
    return index


def catch_up(index: LexicalIndex, store, revision: int) -> LexicalIndex:
    """``index`` with the store's committed articles: new ones added, gone ones dropped."""
    committed = store.committed_ids()
    added = sorted(committed - index.docs)
    removed = set(index.docs - committed)
    if not added and not removed:
        return index.with_revision(revision)
    chunks = []
    for i in range(0, len(added), FETCH_DOCS):
        chunks += store.chunks_of(added[i : i + FETCH_DOCS])
    return index.updated(chunks, removed, revision)
