"""Documents to a searchable index: sentence-aware ``chunking``, ``embeddings`` (with the
ONNX encoder), the Chroma ``articles`` store, ``lexical`` BM25, per-sentence vectors
(``sentence_vectors``: a sidecar folder, and a collection on the server in server mode),
the incremental ``indexer`` and ``rebuild``.
"""
