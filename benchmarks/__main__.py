"""``make bench``: every performance figure of the assistant next to its target.

    python -m benchmarks [--eval-dir DIR] [--quick] [--sizes 1000,10000,100000]
        [--skip-server]

Each corpus is also served by a real ``chroma run`` and asked by a writer and by a replica
with an empty local folder (``benchmarks.server``). Writes
``bench-results/bench-<time>.json`` and ``bench-results/latest.json`` and prints a table.
Larger corpora are cached in ``bench-results/`` (see ``benchmarks.corpus`` for how they are
made), so a second run skips building them.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

from . import corpus, measure
from .report import render_table, rows_for
from .server import server_figures

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
ROOT = Path(__file__).resolve().parent.parent
QUICK_ARTICLES = 40
COLD_START_RUNS = 3  # the median is reported


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--eval-dir", type=Path, default=ROOT.parent / "shared/eval/realtimeqa-dev")
    parser.add_argument("--out", type=Path, default=ROOT / "bench-results")
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_ARTICLES} articles, 1k+10k")
    parser.add_argument("--sizes", help="comma-separated corpus sizes in chunks")
    parser.add_argument("--articles", type=int, help="index only the first N articles")
    parser.add_argument(
        "--skip-indexing", action="store_true", help="reuse the last run's base index and figures"
    )
    parser.add_argument("--rounds", type=int, default=2, help="passes over the questions")
    parser.add_argument(
        "--skip-server", action="store_true", help="no writer/replica run on a Chroma server"
    )
    args = parser.parse_args(argv)
    # resolved: `make bench` passes ../shared/..., and the ingester refuses '..' in paths
    args.eval_dir = args.eval_dir.resolve()
    files = sorted((args.eval_dir / "articles").glob("*.md"))
    args.files = files[: args.articles or (QUICK_ARTICLES if args.quick else None)]
    if not args.files or not (args.eval_dir / "questions.jsonl").is_file():
        parser.error(f"no articles/*.md and questions.jsonl in {args.eval_dir}")
    default = "1000,10000" if args.quick else "1000,10000,100000"
    args.sizes = [int(s) for s in (args.sizes or default).split(",")]
    return args


def machine() -> dict:
    """What the figures were measured on."""
    import torch

    cpu = platform.processor() or platform.machine()
    try:
        models = [
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ]
        cpu = models[0] if models else cpu
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
        "python": platform.python_version(),
    }


def run_indexing(args, settings_for, embedder) -> tuple[dict, list[dict], Path]:
    """Encoder options, then the indexing benchmark into a fresh base index."""
    files = args.files
    s = settings_for(args.out)
    texts = measure.chunk_texts(files, embedder, s.max_chunk_tokens, s.chunk_overlap_sentences)
    sample = texts[:: max(1, len(texts) // (64 if args.quick else 128))]
    print(f"encoder options on {len(sample)} chunks ...", file=sys.stderr)
    options = measure.encoder_options(embedder, sample, rounds=1 if args.quick else 2)
    policies = thread_policies(args.out, sample[:32], rounds=1 if args.quick else 2)
    base_dir = _base_dir(args)
    shutil.rmtree(base_dir, ignore_errors=True)
    print(f"indexing {len(files)} articles ({len(texts)} chunks) ...", file=sys.stderr)
    from assistant.service import Assistant

    result = measure.indexing(
        lambda: Assistant(settings_for(base_dir), embedder=embedder), files, texts
    )
    options = {"batch_and_threads": options, "thread_policy": policies}
    (base_dir / "indexing.json").write_text(json.dumps({"indexing": result, **options}))
    return result, options, base_dir


def reuse_indexing(args) -> tuple[dict, dict, Path]:
    """The base index and indexing figures of an earlier run (``--skip-indexing``)."""
    base_dir = _base_dir(args)
    try:
        saved = json.loads((base_dir / "indexing.json").read_text())
    except OSError:
        message = f"no earlier indexing run in {base_dir}; run without --skip-indexing"
        raise SystemExit(message) from None
    saved["indexing"]["reused"] = True
    return saved.pop("indexing"), saved, base_dir


def _base_dir(args) -> Path:
    return args.out / "work" / f"index-base-{'quick' if args.quick else 'full'}"


def thread_policies(out: Path, texts: list[str], rounds: int) -> list[dict]:
    """Batch throughput and single-query time with OpenMP threads spinning (ACTIVE)
    or sleeping (PASSIVE) when idle, each in fresh processes, alternating."""
    path = out / "work" / "policy-texts.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(texts))
    runs = []
    for _ in range(rounds):
        for policy in ("ACTIVE", "PASSIVE"):
            env = {**_child_env(), "OMP_WAIT_POLICY": policy}
            proc = subprocess.run(
                [sys.executable, "-m", "benchmarks.encode_probe", str(path)],
                capture_output=True, text=True, env=env, cwd=ROOT, check=True,
            )  # fmt: skip
            runs.append(json.loads(proc.stdout.strip().splitlines()[-1]))
    return runs


def _child_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ASSISTANT_")}
    env["PYTHONPATH"] = str(ROOT)
    return env


def build_corpora(args, settings_for, embedder, base_dir: Path) -> dict[int, Path]:
    """The cached corpus of each size (built now if missing)."""
    from assistant.library.duplicates import CopyFinder
    from assistant.store.articles import ArticleStore
    from assistant.store.indexer import rebuild_lexical_if_changed

    base = corpus.read_base(ArticleStore(settings_for(base_dir), embedder))
    folders = {}
    for size in args.sizes:
        folder = corpus.corpus_dir(args.out / "corpora", base, size)
        if not corpus.is_complete(folder):
            corpus.discard(folder)
            print(f"building the {size}-chunk corpus in {folder} ...", file=sys.stderr)
            settings = settings_for(folder)
            store = ArticleStore(settings, embedder)
            start = time.perf_counter()
            chunks = corpus.build_corpus(
                store, base, size, settings.max_chunk_tokens, settings.chunk_overlap_sentences
            )
            rebuild_lexical_if_changed(store)
            corpus.mark_complete(
                folder, {"chunks": chunks, "build_s": round(time.perf_counter() - start, 1)}
            )
        # signed as the indexer signs what it adds, or the first added article would pay
        # for signing the whole corpus (a minute at 100k) and read as the add time
        settings = settings_for(folder)
        CopyFinder(settings.duplicate_threshold).sync(ArticleStore(settings, embedder), folder)
        folders[size] = folder
    return folders


def serve_figures(folder: Path, questions: Path, rounds: int) -> dict:
    """Latency and peak RSS from a probe process, cold start from the real CLI."""
    env = _child_env()
    probe = subprocess.run(
        [sys.executable, "-m", "benchmarks.probe", "--index-dir", str(folder)]
        + ["--questions", str(questions), "--rounds", str(rounds)]
        + ["--update-article", str(ROOT / "benchmarks/data/update-article.txt")],
        capture_output=True, text=True, env=env, cwd=ROOT, check=True,
    )  # fmt: skip
    figures = json.loads(probe.stdout.strip().splitlines()[-1])
    question = json.loads(questions.read_text().splitlines()[0])["question"]
    command = [sys.executable, "-m", "assistant", "ask", question, "--index-dir", str(folder)]
    runs = [_cold_start(command + ["--json"], env) for _ in range(COLD_START_RUNS)]
    seconds, cpu_s, _ = sorted(runs)[len(runs) // 2]  # the median run
    return {
        **figures,
        "cold_start_s": round(seconds, 2),
        "cold_start_cpu_s": round(cpu_s, 2),
        "cold_start_runs": [
            {"s": round(s, 2), "cpu_s": round(c, 2), "load_1m": ld} for s, c, ld in runs
        ],
    }


def _cold_start(command: list[str], env: dict) -> tuple[float, float, float]:
    """(seconds, CPU seconds, 1-minute load average before) of one CLI process that
    starts, answers and exits; one run alone reads whatever else the machine is doing."""
    load = round(os.getloadavg()[0], 2)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    seconds, cli = measure.timed(
        lambda: subprocess.run(
            command, capture_output=True, text=True, env=env, cwd=ROOT, check=True
        )
    )
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu_s = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    json.loads(cli.stdout)  # a real answer came back
    return seconds, cpu_s, load


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    from assistant.config import load_settings
    from assistant.store.embeddings import SentenceEmbedder

    started = time.time()
    info = machine()

    def settings_for(index_dir: Path):
        return load_settings(index_dir=index_dir, chroma_url="")

    embedder = SentenceEmbedder(device="auto")
    if args.skip_indexing:
        indexing, options, base_dir = reuse_indexing(args)
    else:
        indexing, options, base_dir = run_indexing(args, settings_for, embedder)
    folders = build_corpora(args, settings_for, embedder, base_dir)
    serving, server = {}, {}
    questions = args.eval_dir / "questions.jsonl"
    for size, folder in folders.items():
        print(f"asking {args.rounds} x the questions at {size} chunks ...", file=sys.stderr)
        serving[size] = serve_figures(folder, questions, args.rounds)
        if not args.skip_server:
            print(f"server mode: writer and replica at {size} chunks ...", file=sys.stderr)
            work = args.out / "work"
            server[size] = server_figures(folder, work, questions, args.rounds, _child_env())
    results = {
        "machine": info,
        "quick": args.quick,
        "device": embedder.device,
        "batch_size": embedder.batch_size,
        "indexing": indexing,
        "encoder_options": options["batch_and_threads"],
        "thread_policy": options["thread_policy"],
        "serving": {str(k): v for k, v in serving.items()},
        "server": {str(k): v for k, v in server.items()},
        "vectors_note": corpus.__doc__.strip().split("\n\n")[1].replace("\n", " "),
        "runtime_s": round(time.time() - started, 1),
    }
    stamp = time.strftime("%Y%m%d-%H%M%S")
    for name in (f"bench-{stamp}.json", "latest.json"):
        (args.out / name).write_text(json.dumps(results, indent=2))
    print(render_table(rows_for(results), results))


if __name__ == "__main__":
    main()
