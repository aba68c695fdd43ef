"""Documents to a searchable index: sentence-aware ``chunking``, ``embeddings`` (with the
ONNX encoder), the Chroma ``articles`` store, ``lexical`` BM25, per-sentence vectors,
the incremental ``indexer`` and ``rebuild``.
"""
