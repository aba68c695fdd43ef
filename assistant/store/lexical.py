"""BM25 over chunk texts that is updated by article, not rebuilt.

The index is a sparse term-frequency matrix (chunks x terms) kept column-wise, so a
query reads only its terms' postings; IDF and length normalisation are computed at
query time with the Lucene BM25 formula (the one bm25s uses). Adding or dropping
articles touches only their rows, so the index follows a store of 100k chunks in well
under a second instead of re-reading and re-tokenising every chunk.

It is saved beside the vectors (or, in server mode, in a local cache keyed by the
server URL), tagged with the store revision it reflects and the chunk collection it was
read from. Any process brings its copy up to date by comparing the articles it holds
with the store's committed articles and fetching only the chunks of the new ones, so
every process answers from the same articles after any of them writes. (Article ids are
content hashes, so an article's chunks never change under the same id; only a rebuild,
which makes a new chunk collection, does that, and then the index is read afresh.)
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import tempfile
from functools import cached_property
from pathlib import Path

import numpy as np
from scipy import sparse

from assistant.config import Settings
from assistant.locks import lexical_save_lock
from assistant.terms import fold, stemmer

K1, B = 1.5, 0.75
INDEX_FILE = "bm25.npz"
FETCH_DOCS = 200  # articles per store read when catching up
SNAPSHOT_TRIES = 3
WRITER_SAVE_WAIT_S = 60.0
# how texts become terms; a saved index made another way is read afresh
TOKENIZER = "bm25s-en-stem-folded-1"


def bm25_tokens(texts: list[str]) -> list[list[str]]:
    """Case- and accent-folded, stemmed words without English stop words (stateless)."""
    import bm25s

    return bm25s.tokenize(
        [fold(t) for t in texts],
        stopwords="en",
        stemmer=stemmer(),
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
        generation: str = "",
    ):
        self.terms = terms
        self.vocab = {t: i for i, t in enumerate(terms)}
        self.chunk_ids = chunk_ids
        self.doc_ids = doc_ids
        self.docs = frozenset(doc_ids)
        self.matrix = matrix  # chunks x terms, raw term counts
        self.revision = revision
        self.generation = generation  # id of the chunk collection it was read from
        lengths = np.asarray(matrix.sum(axis=1), dtype=np.float32).ravel()
        mean = float(lengths.mean()) if len(lengths) else 1.0
        self._norm = K1 * (1 - B + B * lengths / max(mean, 1e-9))
        self._df = np.diff(matrix.indptr)

    @classmethod
    def empty(cls, revision: int = 0, generation: str = "") -> LexicalIndex:
        matrix = sparse.csc_array((0, 0), dtype=np.int32)
        return cls([], [], [], matrix, revision, generation)

    @classmethod
    def build(cls, chunks, revision: int, generation: str = "") -> LexicalIndex:
        """Index ``chunks`` (objects with ``chunk_id``, ``text`` and a ``metadata`` dict
        holding ``doc_id`` and ``title``)."""
        return cls.empty(revision, generation).updated(chunks, set(), revision)

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
            self.generation,
        )

    def with_revision(self, revision: int) -> LexicalIndex:
        return LexicalIndex(
            self.terms, self.chunk_ids, self.doc_ids, self.matrix, revision, self.generation
        )

    def search(
        self, query: str, n: int, only_docs: frozenset[str] | None = None
    ) -> list[tuple[str, float]]:
        """Best ``n`` chunk ids with a positive BM25 score, best first; with ``only_docs``,
        only chunks of those articles (a date range)."""
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
        if only_docs is not None:
            scores[[d not in only_docs for d in self.doc_ids]] = 0.0
        return self._top(scores, n)

    def term_weights(self, query: str) -> dict[str, float]:
        """The query's BM25 terms with their inverse document frequency here (a term no
        chunk holds gets the highest)."""
        total = len(self)
        weights = {}
        for term in bm25_tokens([query])[0]:
            col = self.vocab.get(term)
            df = int(self._df[col]) if col is not None else 0
            weights[term] = float(np.log(1 + (total - df + 0.5) / (df + 0.5)))
        return weights

    def terms_held(self, terms: list[str], chunk_ids: list[str]) -> list[frozenset[str] | None]:
        """Per chunk: which of ``terms`` (BM25 terms, as ``term_weights`` gives them) its
        indexed text holds, read from the index instead of tokenizing the text again (None
        for a chunk this index does not hold)."""
        rows = np.array([self._rows.get(c, -1) for c in chunk_ids], dtype=np.int64)
        held: list[set[str]] = [set() for _ in chunk_ids]
        for term in terms:
            col = self.vocab.get(term)
            if col is None:
                continue
            postings = self.matrix.indices[self.matrix.indptr[col] : self.matrix.indptr[col + 1]]
            for i in np.flatnonzero(np.isin(rows, postings)):
                held[i].add(term)
        return [frozenset(h) if r >= 0 else None for h, r in zip(held, rows, strict=True)]

    @cached_property
    def _rows(self) -> dict[str, int]:
        return {chunk_id: i for i, chunk_id in enumerate(self.chunk_ids)}

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
            generation=_pack([self.generation]),
            tokenizer=_pack([TOKENIZER]),
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
                if _unpack(saved["tokenizer"]) != [TOKENIZER]:
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
                    "".join(_unpack(saved["generation"])),
                )
        except (OSError, ValueError, KeyError):
            return None


def saved_revision(folder: Path) -> int | None:
    """The store revision the index saved in ``folder`` reflects, if there is one (made
    with this ``TOKENIZER``: one made otherwise counts as none)."""
    try:
        with np.load(folder / INDEX_FILE) as saved:
            if _unpack(saved["tokenizer"]) != [TOKENIZER]:
                return None
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


def current_lexical(store, current: LexicalIndex | None = None) -> LexicalIndex:
    """The BM25 index of the store's committed articles, at the revision read first.

    ``current`` or the saved copy when one already reflects that revision; otherwise the
    newest of them (from the same chunk collection) caught up with the articles added or
    removed since. Nothing is saved."""
    revision, generation = store.revision(), str(store.chunks.id)
    if current is not None and (current.revision, current.generation) == (revision, generation):
        return current
    folder = lexical_dir(store.settings)
    if saved_revision(folder) == revision:
        saved = LexicalIndex.load(folder, revision)
        if saved is not None and saved.generation == generation:
            return saved
    base = current if current is not None and current.generation == generation else None
    if base is None:
        saved = LexicalIndex.load(folder)
        base = saved if saved is not None and saved.generation == generation else None
    if base is None:
        base = LexicalIndex.empty(0, generation)
    return catch_up(base, store, revision)


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


def consistent_lexical(store, current: LexicalIndex | None = None) -> LexicalIndex:
    """``current_lexical`` read as one snapshot: retried (a few times) while a writer
    moves the revision under us, so its articles are exactly those of its revision."""
    for _ in range(SNAPSHOT_TRIES):
        lexical = current_lexical(store, current)
        if store.revision() == lexical.revision:
            break
        current = lexical
    return lexical


def save_lexical(store, lexical: LexicalIndex, wait_s: float) -> None:
    """Save ``lexical`` if it still matches the store and differs from the saved copy;
    one saver at a time. A cache of the store: a failed save costs a catch-up later."""
    folder = lexical_dir(store.settings)
    with lexical_save_lock(Path(store.settings.index_dir), wait_s) as locked:
        if not locked or store.revision() != lexical.revision:
            return
        if saved_revision(folder) == lexical.revision:
            return
        for leftover in folder.glob(".bm25-*.tmp"):  # from a killed save
            leftover.unlink(missing_ok=True)
        with contextlib.suppress(OSError):
            lexical.save(folder)


def update_lexical(store) -> LexicalIndex | None:
    """Writers: bring the saved BM25 index up to the store (waiting for a reader's save).
    Returns None when the saved copy is already current (nothing is read)."""
    if saved_revision(lexical_dir(store.settings)) == store.revision():
        return None
    lexical = consistent_lexical(store)
    save_lexical(store, lexical, wait_s=WRITER_SAVE_WAIT_S)
    return lexical


def rebuild_lexical(store) -> LexicalIndex:
    """Read every chunk afresh (after ``reindex --rebuild``) and save."""
    lexical = catch_up(LexicalIndex.empty(0, str(store.chunks.id)), store, store.revision())
    save_lexical(store, lexical, wait_s=WRITER_SAVE_WAIT_S)
    return lexical
