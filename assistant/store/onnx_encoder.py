"""The embedding model run by ONNX Runtime, for processes that only ask questions.

Importing torch, transformers and sentence-transformers costs most of a command's start
(about 5 of the 8 seconds to a first answer on two cores). A question needs one short
encoding, so a process that only answers loads the same model exported to ONNX instead:
the same token ids (the model's own ``tokenizer.json``), the same mean pooling, vectors
equal to sentence-transformers' within 1e-6. The export is made once per model, with
torch, into a cache folder, and checked against sentence-transformers before use.
Indexing (large batches) still runs sentence-transformers, which is faster there.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
import warnings
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)
INPUTS = ("input_ids", "attention_mask", "token_type_ids")
# the export is used only if it matches sentence-transformers this closely
MAX_EXPORT_DIFFERENCE = 1e-4
_PROBES = (
    "Russian President Vladimir Putin said supplying weapons to Ukraine would be a mistake.",
    "Café owners in Montréal protested the new tax.",
    "short",
)


def cache_root() -> Path:
    """Where exported models are kept ($XDG_CACHE_HOME/news-assistant, or ~/.cache/...)."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "news-assistant" / "onnx"


def exportable(model_path: Path) -> bool:
    """Whether the model is a plain transformer with mean pooling and normalisation (what
    this encoder reproduces) and has a fast tokenizer file."""
    try:
        modules = json.loads((model_path / "modules.json").read_text())
        pooling = json.loads((model_path / "1_Pooling" / "config.json").read_text())
    except (OSError, ValueError):
        return False
    kinds = [m["type"].rsplit(".", 1)[-1] for m in modules]
    return (
        kinds == ["Transformer", "Pooling", "Normalize"]
        and pooling.get("pooling_mode_mean_tokens") is True
        and (model_path / "tokenizer.json").exists()
    )


def export_file(model_path: Path) -> Path:
    """The exported model's path for this model folder (by path, size and change time of
    its weights)."""
    weights = next(model_path.glob("*.safetensors"), None) or model_path / "pytorch_model.bin"
    stat = weights.stat()
    key = hashlib.sha256(f"{model_path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}".encode())
    return cache_root() / key.hexdigest()[:16] / "model.onnx"


def export(st_model, target: Path) -> None:
    """Export a sentence-transformers model's transformer to ``target`` (atomically)."""
    import torch

    class LastHidden(torch.nn.Module):
        def __init__(self, bert):
            super().__init__()
            self.bert = bert

        def forward(self, input_ids, attention_mask, token_type_ids):
            out = self.bert(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            )
            return out.last_hidden_state

    probe = st_model.tokenizer(list(_PROBES), padding=True, return_tensors="pt")
    axes = {name: {0: "batch", 1: "tokens"} for name in (*INPUTS, "tokens")}
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, suffix=".onnx.tmp")
    os.close(fd)
    model = LastHidden(st_model[0].auto_model.eval())
    with torch.inference_mode(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the tracer's notes on shapes it fixes
        torch.onnx.export(
            model,
            tuple(probe[name] for name in INPUTS),
            tmp,
            input_names=list(INPUTS),
            output_names=["tokens"],
            dynamic_axes=axes,
            opset_version=17,
            dynamo=False,
        )
    os.replace(tmp, target)


class OnnxEncoder:
    """Token vectors and mean-pooled sentence vectors from an exported model."""

    def __init__(self, model_file: Path, model_path: Path, max_length: int, threads: int = 0):
        import onnxruntime
        from tokenizers import Tokenizer

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads
        # idle threads sleep: on a shared machine spinning ones slowed everything else
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.session = onnxruntime.InferenceSession(
            str(model_file), options, providers=["CPUExecutionProvider"]
        )
        self.tokenizer = Tokenizer.from_file(str(model_path / "tokenizer.json"))
        self.tokenizer.enable_truncation(max_length)  # the model's limit, as for torch
        self.tokenizer.enable_padding()

    def forward(self, texts: list[str]) -> tuple[list, np.ndarray]:
        """Per text: (token vectors, character offsets) of its real tokens; and the
        normalised mean-pooled text vectors."""
        encoded = self.tokenizer.encode_batch(list(texts))
        ids = np.array([e.ids for e in encoded], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encoded], dtype=np.int64)
        feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        vectors = self.session.run(None, feeds)[0]
        keep = mask.astype(bool)
        pooled = (vectors * mask[..., None]).sum(axis=1) / mask.sum(axis=1, keepdims=True)
        pooled /= np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
        tokens = [
            (vectors[i][keep[i]], np.array(encoded[i].offsets, dtype=np.int64)[keep[i]])
            for i in range(len(texts))
        ]
        return tokens, pooled.astype(np.float32)


def load_or_export(st_loader, model_path: Path, max_length: int, threads: int):
    """An ``OnnxEncoder`` for the model (exporting it first if needed, with the
    sentence-transformers model ``st_loader()`` gives), or None when it cannot be made or
    does not match sentence-transformers."""
    target = export_file(model_path)
    fresh = not target.exists()
    try:
        if fresh:
            st_model = st_loader()
            export(st_model, target)
        encoder = OnnxEncoder(target, model_path, max_length, threads)
        if fresh and not _matches(encoder, st_model):
            target.unlink(missing_ok=True)
            return None
        return encoder
    except Exception as exc:  # noqa: BLE001  (no onnx, a failed export: torch still works)
        log.info("ONNX encoder unavailable (%s); using sentence-transformers", exc)
        return None


def _matches(encoder: OnnxEncoder, st_model) -> bool:
    reference = st_model.encode(list(_PROBES), normalize_embeddings=True)
    difference = float(np.abs(encoder.forward(list(_PROBES))[1] - reference).max())
    if difference > MAX_EXPORT_DIFFERENCE:
        log.warning("the ONNX export differs from sentence-transformers by %.2g", difference)
    return difference <= MAX_EXPORT_DIFFERENCE
