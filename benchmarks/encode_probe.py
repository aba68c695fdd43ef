"""Encoder speed in a fresh process, for settings that must be fixed at start-up
(the OpenMP wait policy). Prints one JSON object.

    OMP_WAIT_POLICY=ACTIVE python -m benchmarks.encode_probe TEXTS.json
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path


def main() -> None:
    from assistant.store.embeddings import SentenceEmbedder

    texts = json.loads(Path(sys.argv[1]).read_text(encoding="utf-8"))
    embedder = SentenceEmbedder(device="cpu")
    embedder.encode(texts[:4])
    start = time.perf_counter()
    embedder.encode(texts)
    batch_s = time.perf_counter() - start
    queries = [t.split("\n", 1)[0][:120] for t in texts[:20]]
    start = time.perf_counter()
    for query in queries:
        embedder.embed_query(query)
    query_ms = (time.perf_counter() - start) * 1e3 / len(queries)
    print(
        json.dumps(
            {
                "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY", ""),
                "chunks_per_s": round(len(texts) / batch_s, 2),
                "query_ms": round(query_ms, 1),
            }
        )
    )


if __name__ == "__main__":
    main()
