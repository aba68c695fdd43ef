"""Syndicated copies: an article whose text nearly equals an indexed one is another source
of that article, not a second article.

The same wire story reaches many sites with other chrome (a dateline, a "Sign up" line, a
changed headline). Articles are compared by the Jaccard similarity of their bodies' word
3-shingles; the headline is left out, since syndicating sites rewrite it. A body is a copy
when that Jaccard, computed exactly from both shingle sets, is at or above the threshold
(``>=``; measured on the training weeks' articles: docs/library.md, "Syndicated copies").
MinHash LSH (``datasketch``) only proposes candidates, with bands chosen so that a pair at
the threshold is missed about once in 20,000 (``experiments/dup_recall.py``): LSH tuned
to the threshold itself, then the MinHash estimate, kept only 47-65% of the copies at
0.80-0.85.

Signatures are kept in ``INDEX_DIR/minhash.npz``, a cache of the store: on every index run
the articles it lacks are read and signed, and those no longer indexed are dropped, so a run
killed before the cache was saved costs only a re-read. Shingles are not cached: the exact
check reads a candidate's body through a lookup (the store), and candidates are rare (0.23
per article on the training weeks), so the cache stays one signature per article.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from assistant.schema import Document
from assistant.terms import fold

NUM_PERM = 128
SHINGLE_WORDS = 3
MIN_SHINGLES = 20  # briefs of a sentence or two: too little text to call anything a copy
# the share of copies at exactly the threshold that LSH may fail to propose; bands are
# chosen for it (at 0.8: 25 bands of 5 rows, missing 5e-5 there, 3e-7 at 0.85)
LSH_MISS = 1e-4
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


@dataclass(frozen=True)
class Fingerprint:
    """A body's shingles and their MinHash (None when too short to compare)."""

    grams: frozenset[bytes]
    minhash: object | None


def fingerprint(body: str) -> Fingerprint:
    """What a body is compared by; an empty or too short body gets no MinHash, so it is
    never a copy nor copied (an article of its own)."""
    from datasketch import MinHash

    grams = frozenset(shingles(body))
    if len(grams) < MIN_SHINGLES:
        return Fingerprint(grams, None)
    minhash = MinHash(num_perm=NUM_PERM, scheme=SCHEME)
    minhash.update_batch(list(grams))
    return Fingerprint(grams, minhash)


def signature(body: str):
    """The MinHash of a body's shingles, or None when it is too short to compare."""
    return fingerprint(body).minhash


def jaccard(a: frozenset[bytes] | set[bytes], b: frozenset[bytes] | set[bytes]) -> float:
    """The exact Jaccard similarity of two shingle sets (0 when both are empty)."""
    union = len(a | b)
    return len(a & b) / union if union else 0.0


def lsh_bands(threshold: float) -> tuple[int, int]:
    """LSH (bands, rows): the most rows per band (fewest candidates to check) for which a
    pair at ``threshold`` is missed at most ``LSH_MISS`` of the time; one row per band
    when none reaches it (a threshold near 0)."""
    for rows in range(NUM_PERM, 0, -1):
        bands = NUM_PERM // rows
        if (1 - threshold**rows) ** bands <= LSH_MISS:
            return bands, rows
    return NUM_PERM, 1


def body_of(doc: Document) -> str:
    return doc.text[doc.body_start :]


class CopyFinder:
    """Indexed articles' signatures, looked up by LSH; a candidate is a copy when the exact
    Jaccard of the shingles is at or above ``threshold``. ``body`` gives a remembered
    article's body by id (None when it cannot: that candidate is not merged, since a wrong
    merge loses an article's own text and a missed one only leaves a near-duplicate)."""

    def __init__(self, threshold: float, body: Callable[[str], str | None]):
        from datasketch import MinHashLSH

        self.threshold = threshold
        self.body = body
        self.lsh = MinHashLSH(num_perm=NUM_PERM, params=lsh_bands(threshold))
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

    def find(self, probe: Fingerprint, exclude: set[str] = frozenset()) -> str | None:
        """The remembered article (not one of ``exclude``) whose body's exact Jaccard with
        ``probe`` is highest and at or above the threshold, or None."""
        if probe.minhash is None:
            return None
        scored = []
        for doc_id in self.lsh.query(probe.minhash):
            body = None if doc_id in exclude else self.body(doc_id)
            if body is not None:
                scored.append((jaccard(probe.grams, shingles(body)), doc_id))
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
    bodies: dict[str, str] = {}
    finder, kept = CopyFinder(threshold, bodies.get), []
    for doc in docs:
        probe = fingerprint(body_of(doc))
        if finder.find(probe) is None:
            finder.add(doc.doc_id, probe.minhash)
            bodies.setdefault(doc.doc_id, body_of(doc))
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
