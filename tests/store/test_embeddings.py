"""The embedder's engines: ONNX Runtime for short encodings agrees with
sentence-transformers, and a torch-only embedder never builds an ONNX session."""

import numpy as np

from assistant.store.embeddings import SentenceEmbedder

TEXTS = ["What did Putin say about South Korea?", "The bridge closes for six weeks."]


def test_short_encodings_run_on_onnx_and_match_torch(embedder):
    assert embedder.engine == "onnx"
    onnx = np.array(embedder.encode(TEXTS))
    torch = embedder.model.encode(TEXTS, normalize_embeddings=True)
    assert np.abs(onnx - torch).max() < 1e-4


def test_torch_only_embedder_never_loads_onnx(embedder):
    torch_only = SentenceEmbedder(embedder.model_name, device="cpu", encoder="torch")
    assert torch_only.engine == "torch"
    vectors = np.array(torch_only.encode(TEXTS))
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
