"""Near-duplicate pairs among the training weeks' articles, by Jaccard of body shingles.

Prints aggregate counts only (no article text): how many distinct-text article pairs
reach each Jaccard band, and how many of them share a URL. ``--sample`` prints ``--n`` random pairs
of each band for checking by hand in a terminal (titles and openings; nothing is saved).

    PYTHONPATH=. python experiments/dup_threshold.py [--train ../shared/train/realtimeqa-train]
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
from collections import Counter
from pathlib import Path

from assistant.library.duplicates import shingles, signature

BANDS = [0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0001]


def articles(train: Path):
    seen = {}
    for week in sorted(p for p in train.iterdir() if p.is_dir()):
        with gzip.open(week / "articles.jsonl.gz", "rt", encoding="utf-8") as handle:
            for line in handle:
                art = json.loads(line)
                seen.setdefault(art["id"], art)
    return list(seen.values())


def main() -> None:
    from datasketch import MinHashLSH

    parser = argparse.ArgumentParser()
    parser.add_argument("--train", type=Path, default=Path("../shared/train/realtimeqa-train"))
    parser.add_argument("--sample", action="store_true", help="print pairs of every band")
    parser.add_argument("--n", type=int, default=12)
    parser.add_argument("--within", type=float, nargs=2, help="sample only this Jaccard range")
    args = parser.parse_args()
    arts = articles(args.train)
    lsh = MinHashLSH(threshold=0.3, num_perm=128)
    grams, sigs = {}, {}
    for i, art in enumerate(arts):
        sig = signature(art["text"])
        if sig is not None:
            grams[i], sigs[i] = shingles(art["text"]), sig
            lsh.insert(i, sig)
    pairs = set()
    for i, sig in sigs.items():
        pairs.update((min(i, j), max(i, j)) for j in lsh.query(sig) if j != i)
    bands, same_url, found = Counter(), Counter(), []
    for i, j in pairs:
        jac = len(grams[i] & grams[j]) / len(grams[i] | grams[j])
        band = max(b for b in BANDS if b <= jac) if jac >= BANDS[0] else None
        if band is None or arts[i]["text"] == arts[j]["text"]:
            continue
        bands[band] += 1
        same_url[band] += arts[i]["url"] == arts[j]["url"]
        found.append((jac, i, j))
    print(f"{len(arts)} distinct articles, {len(sigs)} long enough to sign")
    for band in BANDS[:-1]:
        print(f"Jaccard >= {band:.1f}: {bands[band]} pairs ({same_url[band]} with the same URL)")
    ranges = [(b, b + 0.1) for b in BANDS[:-1]] if args.sample else []
    for low, high in [tuple(args.within)] if args.within else ranges:
        chosen = [f for f in sorted(found) if low <= f[0] < high]
        for jac, i, j in random.Random(0).sample(chosen, min(args.n, len(chosen))):
            print(f"\n--- {jac:.3f}")
            for k in (i, j):
                print(f"  {arts[k]['title'][:90]} | {arts[k]['url'][:80]}")
                print(f"    {' '.join(arts[k]['text'].split())[:260]}")


if __name__ == "__main__":
    main()
