"""What an index holds, in a form tests can compare: records, chunk counts, orphans."""

from __future__ import annotations

import json


def index_state(store) -> dict[str, tuple[int, tuple[str, ...]]]:
    """doc id -> (chunks stored, sources); asserts each record's count matches its chunks
    and that no chunk lacks a record."""
    records = store.doc_records()
    counts = store.chunk_counts()
    orphans = set(counts) - set(records)
    assert not orphans, f"chunks without an article record: {orphans}"
    state = {}
    for doc_id, meta in records.items():
        assert counts.get(doc_id, 0) == meta["chunks"], (doc_id, counts.get(doc_id), meta)
        state[doc_id] = (meta["chunks"], tuple(json.loads(meta["sources"])))
    return state
