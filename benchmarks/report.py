"""The benchmark table: each figure, its target and whether it holds (pure functions)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Row:
    """One figure of the table."""

    figure: str
    measured: str
    target: str
    ok: bool | None  # None: informational, no target


def _at_most(value: float, limit: float) -> bool:
    return value <= limit


def rows_for(results: dict) -> list[Row]:
    """Table rows from a results dict as written by ``python -m benchmarks``."""
    ix = results["indexing"]
    rows = [
        Row(
            f"indexing {ix['articles']} articles, {ix['chunks']} chunks: pipeline"
            + (" (from an earlier run)" if ix.get("reused") else ""),
            f"{ix['pipeline_chunks_per_s']:.1f} chunks/s",
            "",
            None,
        ),
        Row(
            "  bare SentenceTransformer.encode", f"{ix['bare_chunks_per_s']:.1f} chunks/s", "", None
        ),
        Row(
            "  pipeline / bare encoder",
            f"{ix['pipeline_vs_bare']:.3f}",
            ">= 0.9",
            ix["pipeline_vs_bare"] >= 0.9,
        ),
        Row(
            "re-index unchanged corpus / full index",
            f"{100 * ix['reindex_fraction']:.2f} % ({ix['reindex_s']:.2f} s)",
            "<= 2 %",
            _at_most(ix["reindex_fraction"], 0.02),
        ),
    ]
    for size, s in results["serving"].items():
        rows += _serving_rows(size, s)
    for size, s in results.get("server", {}).items():
        rows += _server_rows(size, s)
    return rows


# Targets by corpus size (chunks): ask p50, ask p95, peak RSS (MB), cold start (s)
TARGETS = {
    10_000: {"p50": 100, "cold": 5.0},
    100_000: {"p50": 150, "p95": 300, "rss": 1536},
}


def _targets(size: int) -> dict:
    return TARGETS.get(min(TARGETS, key=lambda t: abs(t - size)), {}) if size >= 10_000 else {}


def _limit_row(figure: str, measured: str, value: float, limit: float | None, unit: str) -> Row:
    if limit is None:
        return Row(figure, measured, "", None)
    return Row(figure, measured, f"<= {limit:g} {unit}", _at_most(value, limit))


def _serving_rows(size: str, s: dict) -> list[Row]:
    label = f"{int(size) // 1000}k" if int(size) >= 1000 else size
    target = _targets(int(size))
    return [
        _limit_row(
            f"ask p50 at {label} ({s['chunks']} chunks)",
            f"{s['p50_ms']:.0f} ms",
            s["p50_ms"],
            target.get("p50"),
            "ms",
        ),
        Row(f"  CPU time per ask p50 at {label}", f"{s['cpu_p50_ms']:.0f} ms", "", None),
        Row(
            f"  retrieve / answer p50 at {label}",
            f"{s['retrieve_p50_ms']:.0f} ms / {s['answer_p50_ms']:.0f} ms",
            "",
            None,
        ),
        _limit_row(
            f"ask p95 at {label}", f"{s['p95_ms']:.0f} ms", s["p95_ms"], target.get("p95"), "ms"
        ),
        _limit_row(
            f"peak RSS serving {label}",
            f"{s['peak_rss_mb']:.0f} MB",
            s["peak_rss_mb"],
            target.get("rss"),
            "MB",
        ),
        Row(
            f"  add 1 article / next ask / remove at {label}",
            f"{s['add_article_s']:.1f} s / {s['ask_after_update_ms']:.0f} ms / "
            f"{s['remove_article_s']:.1f} s",
            "",
            None,
        ),
        _limit_row(
            f"cold start to first answer at {label}",
            f"{s['cold_start_s']:.1f} s ({s['cold_start_cpu_s']:.1f} s CPU; median of "
            f"{len(s.get('cold_start_runs', [1]))})",
            s["cold_start_s"],
            target.get("cold"),
            "s",
        ),
    ]


# a replica (no local sidecar) answers within this factor of the writer's p50
REPLICA_RATIO = 1.3


def _server_rows(size: str, s: dict) -> list[Row]:
    """The writer and a replica with an empty folder on one Chroma server, side by side."""
    label = f"{int(size) // 1000}k" if int(size) >= 1000 else size
    writer, replica = s["writer"], s["replica"]
    sources = replica["sentence_sources"]
    return [
        Row(
            f"server mode at {label}: ask p50 writer / replica (empty folder)",
            f"{writer['p50_ms']:.0f} ms / {replica['p50_ms']:.0f} ms (first round "
            f"{writer['first_round_p50_ms']:.0f} / {replica['first_round_p50_ms']:.0f} ms)",
            "",
            None,
        ),
        Row(
            f"  replica / writer ask p50 at {label}",
            f"{s['replica_vs_writer_p50']:.2f}",
            f"<= {REPLICA_RATIO:g}",
            s["replica_vs_writer_p50"] <= REPLICA_RATIO,
        ),
        Row(
            f"  replica's sentence vectors at {label} (chunks)",
            f"{sources.get('server', 0)} from the server in {replica['sentence_fetches']} "
            f"requests, {sources.get('encoded', 0)} encoded",
            "",
            None,
        ),
        Row(
            f"  writer's publish of its sidecar at {label}",
            f"{writer['published_chunks']} chunks in {writer['publish_s']:.1f} s",
            "",
            None,
        ),
    ]


def render_table(rows: list[Row], results: dict) -> str:
    """A Markdown table (pastes into docs/performance.md as is) with the machine under it."""
    lines = ["| figure | measured | target | |", "|---|---|---|---|"]
    for row in rows:
        mark = "" if row.ok is None else ("ok" if row.ok else "MISSED")
        lines.append(f"| {row.figure} | {row.measured} | {row.target} | {mark} |")
    m = results["machine"]
    lines += [
        "",
        f"Machine: {m['cpu']}, {m['cores']} cores, torch threads {m['torch_threads']}, "
        f"device {results['device']} (batch {results['batch_size']}), GPU {m['cuda'] or 'none'}, "
        f"load average at start {m['load_average_at_start']}; run took {results['runtime_s']} s"
        + (" (--quick)" if results["quick"] else "")
        + ".",
        "",
        "Encoder options (same texts, best of the rounds):",
    ]
    for o in results["encoder_options"]:
        lines.append(
            f"  threads {o['threads']}, batch {o['batch_size']:>3}: "
            f"{o['chunks_per_s']:.1f} chunks/s, max cosine drift {o['max_cosine_drift']:.1e}"
        )
    lines += ["", "OpenMP wait policy (fresh processes, alternating):"]
    for p in results["thread_policy"]:
        lines.append(
            f"  {p['omp_wait_policy']:>7}: {p['chunks_per_s']:.1f} chunks/s, "
            f"one query {p['query_ms']:.1f} ms"
        )
    lines += ["", f"Larger corpora: {results['vectors_note']}"]
    return "\n".join(lines)
