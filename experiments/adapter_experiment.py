"""The sentence-level query adapter experiment (docs/quality.md, "What was tried", fourth round):
a linear map of MiniLM's question vector, fitted so that the question lands nearest its
answer sentences' in-context vectors among the sentences read, measured as extra features
of the sentence ranker. Not part of the product: it was not kept.

The adapter (``q + q W``, W from zero, or a diagonal scaling) is trained with a softmax
over each supported question's candidate sentences (temperature 0.05, Adam, 30 epochs,
an L2 penalty on W) on the blocks outside each fold and applied to the fold, so its
cosine, gap to the best and rank are out of fold; the sentence ranker is then refitted by
the same folds (``experiment_base.measure``). Needs the vector cache of
``make train`` and torch (installed with sentence-transformers).

    PYTHONPATH=.:experiments python experiments/adapter_experiment.py [--blocks 5]
"""

from __future__ import annotations

import numpy as np
from experiment_base import compare_columns

DIM = 384
SETTINGS = (("diagonal", 1e-3), ("full", 1e-2), ("full", 1e-3), ("full", 1e-4), ("full", 0.0))


def sentence_vectors(s) -> np.ndarray:
    """The in-context vector of each candidate sentence of a set (zeros where none)."""
    rows = []
    for cand in s.cands:
        stored = cand.hit.sentence_vectors
        inside = stored is not None and 0 <= cand.index < len(stored)
        rows.append(np.asarray(stored[cand.index], np.float32) if inside else np.zeros(DIM))
    return np.asarray(rows, dtype=np.float32).reshape(len(s.cands), DIM)


def _adapt(torch, q, weights, kind: str):
    moved = q * (1 + weights) if kind == "diagonal" else q + q @ weights
    return moved / moved.norm()


def fit_adapter(items, kind: str, penalty: float, epochs: int = 30, seed: int = 0):
    """The adapter's weights from (question, sentences, labels) triples."""
    import torch

    torch.manual_seed(seed)
    shape = (DIM,) if kind == "diagonal" else (DIM, DIM)
    weights = torch.zeros(shape, requires_grad=True)
    optimiser = torch.optim.Adam([weights], lr=1e-2 if kind == "diagonal" else 1e-3)
    data = [(torch.tensor(q), torch.tensor(s), torch.tensor(y)) for q, s, y in items]
    for _ in range(epochs):
        order = torch.randperm(len(data))
        for at in range(0, len(data), 32):
            loss = 0.0
            for j in order[at : at + 32]:
                q, s, y = data[j]
                z = (s @ _adapt(torch, q, weights, kind)) / 0.05
                loss = loss - (torch.logsumexp(z[y], 0) - torch.logsumexp(z, 0))
            loss = loss / 32 + penalty * (weights**2).sum()
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
    return weights.detach()


def adapted_columns(sets, folds, kind: str, penalty: float) -> list[np.ndarray]:
    """Per set, out of fold: the adapted cosine of each sentence, its gap and its rank."""
    import torch

    vectors = [sentence_vectors(s) for s in sets]
    questions = [np.asarray(s.example.context.vector, np.float32) for s in sets]
    blocks = [s.example.block for s in sets]
    out: list[np.ndarray] = [np.zeros((0, 3), np.float32)] * len(sets)
    for fold in folds:
        usable = [
            (questions[i], vectors[i], sets[i].labels)
            for i, b in enumerate(blocks)
            if b not in fold and sets[i].example.supported and sets[i].labels.any()
        ]
        weights = fit_adapter(usable, kind, penalty)
        for i in (i for i, b in enumerate(blocks) if b in fold and len(vectors[i])):
            q = _adapt(torch, torch.tensor(questions[i]), weights, kind).numpy()
            cos = vectors[i] @ q
            rank = np.argsort(np.argsort(-cos)).astype(np.float32)
            out[i] = np.stack([cos, cos.max() - cos, rank], axis=1)
    return out


def _top_by_cosine(sets, columns) -> float:
    usable = [(s, c) for s, c in zip(sets, columns, strict=True) if s.example.supported]
    return float(np.mean([s.labels[int(np.argmax(c[:, 0]))] for s, c in usable if len(c)]))


def variants(sets, folds):
    """MiniLM's cosine alone for the record, then each adapter setting's columns."""
    plain = [(sentence_vectors(s) @ np.asarray(s.example.context.vector))[:, None] for s in sets]
    print(f"MiniLM cosine alone puts the answer first: {_top_by_cosine(sets, plain):.3f}")
    for kind, penalty in SETTINGS:
        extra = adapted_columns(sets, folds, kind, penalty)
        print(f"{kind} adapter, penalty {penalty}: alone {_top_by_cosine(sets, extra):.3f}")
        yield f"+ {kind} {penalty}", extra, [0, 1, 2]


if __name__ == "__main__":
    compare_columns(variants)
