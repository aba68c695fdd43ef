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
        label = f"{int(size) // 1000}k" if int(size) >= 1000 else size
        big = int(size) >= 100_000
        rows += [
            Row(
                f"ask p50 at {label} ({s['chunks']} chunks)",
                f"{s['p50_ms']:.0f} ms",
                "<= 150 ms" if big else "",
                _at_most(s["p50_ms"], 150) if big else None,
            ),
            Row(
                f"ask p95 at {label}",
                f"{s['p95_ms']:.0f} ms",
                "<= 500 ms" if big else "",
                _at_most(s["p95_ms"], 500) if big else None,
            ),
            Row(
                f"peak RSS serving {label}",
                f"{s['peak_rss_mb']:.0f} MB",
                "<= 2048 MB" if big else "",
                _at_most(s["peak_rss_mb"], 2048) if big else None,
            ),
            Row(
                f"  add 1 article / next ask / remove at {label}",
                f"{s['add_article_s']:.1f} s / {s['ask_after_update_ms']:.0f} ms / "
                f"{s['remove_article_s']:.1f} s",
                "",
                None,
            ),
            Row(
                f"cold start to first answer at {label}",
                f"{s['cold_start_s']:.1f} s",
                "<= 10 s",
                _at_most(s["cold_start_s"], 10),
            ),
        ]
    return rows


def render_table(rows: list[Row], results: dict) -> str:
    """A Markdown table (pastes into the README as is) with the machine under it."""
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
