"""Syndicated copies: an article whose text nearly equals an indexed one is another source
of that article, not a second article.

The same wire story reaches many sites with other chrome (a dateline, a "Sign up" line, a
changed headline). Articles are compared by the Jaccard similarity of their bodies' word
3-shingles, estimated with MinHash and looked up with LSH (``datasketch``); the headline is
left out, since syndicating sites rewrite it. The threshold was measured on the training
weeks' articles (README, "Syndicated copies").

Signatures are kept in ``INDEX_DIR/minhash.npz``, a cache of the store: on every index run
the articles it lacks are read and signed, and those no longer indexed are dropped, so a run
killed before the cache was saved costs only a re-read.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import tempfile
from pathlib import Path

import numpy as np

from assistant.schema import Document
from assistant.terms import fold

NUM_PERM = 128
SHINGLE_WORDS = 3
MIN_SHINGLES = 20  # briefs of a sentence or two: too little text to call anything a copy
CACHE_FILE = "minhash.npz"
# datasketch's hashing scheme; saved signatures are read back with it (datasketch 2 refuses
# hash values without one, and a cache that never loads re-signs every article each run)
SCHEME = "affine32"
_WORD = re.compile(r"\w+")


def shingles(body: str) -> set[bytes]:
    """The body's word 3-grams, case- and accent-folded (the unit of comparison)."""
    words = _WORD.findall(fold(body))
    grams = zip(*(words[i:] for i in range(SHINGLE_WORDS)), strict=False)
    return {" ".join(g).encode() for g in grams}


def signature(body: str):
    """The MinHash of a body's shingles, or None when it is too short to compare."""
    from datasketch import MinHash

    grams = shingles(body)
    if len(grams) < MIN_SHINGLES:
        return None
    minhash = MinHash(num_perm=NUM_PERM, scheme=SCHEME)
    minhash.update_batch(list(grams))
    return minhash


def body_of(doc: Document) -> str:
    return doc.text[doc.body_start :]


class CopyFinder:
    """Indexed articles' signatures, looked up by LSH at one Jaccard threshold."""

    def __init__(self, threshold: float):
        from datasketch import MinHashLSH

        self.threshold = threshold
        self.lsh = MinHashLSH(threshold=threshold, num_perm=NUM_PERM)
        self.signatures: dict[str, object] = {}

    def add(self, doc_id: str, minhash) -> None:
        """Remember an article (one too short to sign as None: it is never a match)."""
        if doc_id in self.signatures:
            return
        self.signatures[doc_id] = minhash
        if minhash is not None:
            self.lsh.insert(doc_id, minhash)

    def drop(self, doc_id: str) -> None:
        if self.signatures.pop(doc_id, None) is not None:
            self.lsh.remove(doc_id)

    def find(self, minhash, exclude: set[str] = frozenset()) -> str | None:
        """The most similar remembered article at or above the threshold (not one of
        ``exclude``), or None."""
        if minhash is None:
            return None
        scored = [
            (self.signatures[d].jaccard(minhash), d)
            for d in self.lsh.query(minhash)
            if d not in exclude
        ]
        scored = [(s, d) for s, d in scored if s >= self.threshold]
        return max(scored)[1] if scored else None

    # --- the cache file -------------------------------------------------------------
    def sync(self, store, folder: Path) -> None:
        """Load the cached signatures, sign the indexed articles it lacks, forget those no
        longer indexed, and save when anything changed."""
        cached = _load(folder / CACHE_FILE)
        committed = store.committed_ids()
        for doc_id in committed & cached.keys():
            self.add(doc_id, cached[doc_id])
        missing = sorted(committed - cached.keys())
        for doc_id in missing:
            doc = store.get_document(doc_id)
            self.add(doc_id, signature(body_of(doc)) if doc else None)
        if missing or cached.keys() - committed:
            self.save(folder)

    def save(self, folder: Path) -> None:
        """Write atomically (a reader sees the old file or the new one)."""
        ids = sorted(self.signatures)
        blank = np.zeros(NUM_PERM, dtype=np.uint64)  # a body too short to sign
        rows = [blank if self.signatures[i] is None else self.signatures[i].hashvalues for i in ids]
        matrix = np.array(rows, dtype=np.uint64)
        buffer = io.BytesIO()
        np.savez(
            buffer,
            ids=np.array(ids, dtype=str),
            hashes=matrix.reshape(len(ids), NUM_PERM),
            scheme=np.array([SCHEME]),
        )
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".minhash-", suffix=".tmp")
        with os.fdopen(fd, "wb") as handle:
            handle.write(buffer.getbuffer())
        os.replace(tmp, folder / CACHE_FILE)


def distinct_documents(docs: list[Document], threshold: float) -> list[Document]:
    """``docs`` without the near-copies of earlier ones, as an index run over them in this
    order keeps them (a copy becomes another source of the first; 0: keep all)."""
    if threshold <= 0:
        return list(docs)
    finder, kept = CopyFinder(threshold), []
    for doc in docs:
        minhash = signature(body_of(doc))
        if finder.find(minhash) is None:
            finder.add(doc.doc_id, minhash)
            kept.append(doc)
    return kept


def _load(path: Path) -> dict[str, object]:
    from datasketch import MinHash

    with contextlib.suppress(OSError, ValueError, KeyError), np.load(path) as saved:
        ids, hashes = saved["ids"], saved["hashes"]
        if str(saved["scheme"][0]) != SCHEME:
            return {}  # signed another way: signed again
        return {
            str(i): MinHash(num_perm=NUM_PERM, hashvalues=h, scheme=SCHEME) if h.any() else None
            for i, h in zip(ids, hashes, strict=True)
        }
    return {}
