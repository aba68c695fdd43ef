"""LSH recall near the copy threshold, and what a lower candidate threshold costs.

Part 1 (recall): real article openings of 30 to 800 words from the training weeks, each
paired with a copy edited (words substituted, inserted, deleted, dateline words put in
front) until its exact word 3-shingle Jaccard lies in [0.80, 0.85]. For each LSH threshold,
the share of pairs LSH offers as candidates (``datasketch`` MinHashLSH, 128 permutations),
and the share the old rule kept (LSH at 0.8, then the MinHash estimate >= 0.8).

Part 2 (cost): LSH candidates per article over all the training weeks' articles, the exact
checks (body fetches) an index run makes per new article at each candidate threshold.

Prints aggregates only (no article text).

    PYTHONPATH=. python experiments/dup_recall.py [--train ../shared/train/realtimeqa-train]
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import re
from pathlib import Path

from assistant.library import duplicates
from assistant.library.duplicates import NUM_PERM, signature
from assistant.terms import fold

LENGTHS = [30, 45, 100, 200, 400, 800]
CANDIDATE_THRESHOLDS = [0.8, 0.7, 0.6, 0.5, 0.4]
PAIRS = 1000  # per length


def bodies(train: Path) -> list[str]:
    """Every distinct article text of the training weeks."""
    seen = {}
    for week in sorted(p for p in train.iterdir() if p.is_dir()):
        with gzip.open(week / "articles.jsonl.gz", "rt", encoding="utf-8") as handle:
            for line in handle:
                art = json.loads(line)
                seen.setdefault(art["id"], art["text"])
    return list(seen.values())


def grams(words: list[str]) -> set[tuple[str, ...]]:
    return set(zip(words, words[1:], words[2:], strict=False))


def jaccard(a: list[str], b: list[str]) -> float:
    """The product's exact Jaccard (``duplicates.jaccard``) of two word lists' 3-grams."""
    return duplicates.jaccard(grams(a), grams(b))


def edit(words: list[str], rng: random.Random) -> list[str]:
    """One random edit: a word substituted, inserted or deleted, or a dateline word put in
    front (the chrome syndicating sites add)."""
    out, at, word = list(words), rng.randrange(len(words)), rng.choice(words)
    op = rng.choice(("sub", "ins", "del", "front"))
    if op == "sub":
        out[at] = word + "x"  # a word the text may lack: the substitution really changes it
    elif op == "ins":
        out.insert(at, word + "y")
    elif op == "del" and len(out) > 4:
        del out[at]
    else:
        out.insert(0, rng.choice(("washington", "ap", "reuters", "london", "new", "york")))
    return out


def copy_within(words, rng, low, high) -> list[str] | None:
    """A copy of ``words`` edited until its exact Jaccard with them lies in [low, high]."""
    for _ in range(50):
        copy = list(words)
        while jaccard(words, copy) > high:
            copy = edit(copy, rng)
        if jaccard(words, copy) >= low:
            return copy
    return None


def pairs_of(texts: list[str], length: int, rng: random.Random):
    """PAIRS (original, copy) word lists of ``length`` words with Jaccard in [0.80, 0.85]."""
    # words as duplicates.shingles reads them, so joined with spaces they shingle the same
    split = [re.findall(r"\w+", fold(t)) for t in texts]
    long_enough = [w for w in split if len(w) >= length]
    out = []
    while len(out) < PAIRS:
        words = rng.choice(long_enough)[:length]
        copy = copy_within(words, rng, 0.80, 0.85)
        if copy is not None:
            out.append((words, copy))
    return out


def recall(pairs, threshold: float) -> tuple[float, float]:
    """The share of pairs LSH at ``threshold`` offers as candidates, and the share the old
    rule (those candidates with an estimated Jaccard >= 0.8) kept."""
    from datasketch import MinHashLSH

    lsh = MinHashLSH(threshold=threshold, num_perm=NUM_PERM)
    signed = [(signature(" ".join(a)), signature(" ".join(b))) for a, b in pairs]
    for i, (sa, _) in enumerate(signed):
        lsh.insert(i, sa)
    found = [i in lsh.query(sb) for i, (_, sb) in enumerate(signed)]
    kept = [f and sa.jaccard(sb) >= 0.8 for f, (sa, sb) in zip(found, signed, strict=True)]
    return sum(found) / len(pairs), sum(kept) / len(pairs)


def candidates_per_article(texts: list[str]) -> None:
    """Part 2: how many other articles LSH offers per article at each threshold."""
    from datasketch import MinHashLSH

    sigs = [s for s in map(signature, texts) if s is not None]
    print(f"\n{len(texts)} distinct articles, {len(sigs)} long enough to sign")
    for threshold in CANDIDATE_THRESHOLDS:
        lsh = MinHashLSH(threshold=threshold, num_perm=NUM_PERM)
        for i, sig in enumerate(sigs):
            lsh.insert(i, sig)
        found = sum(len(lsh.query(sig)) - 1 for sig in sigs)
        print(f"LSH {threshold}: {found / len(sigs):.4f} candidates per article")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--train", type=Path, default=Path("../shared/train/realtimeqa-train"))
    args = parser.parse_args()
    texts = bodies(args.train)
    rng = random.Random(0)
    print("words | " + " | ".join(f"LSH {t}" for t in CANDIDATE_THRESHOLDS) + " | old rule")
    for length in LENGTHS:
        pairs = pairs_of(texts, length, rng)
        shares = [recall(pairs, t) for t in CANDIDATE_THRESHOLDS]
        cells = " | ".join(f"{found:.4f}" for found, _ in shares)
        print(f"{length} | {cells} | {shares[0][1]:.4f}")
    candidates_per_article(texts)


if __name__ == "__main__":
    main()
