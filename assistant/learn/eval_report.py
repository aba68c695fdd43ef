"""Evaluation outputs: a JSON file, a short Markdown report and a PNG plot of hit@k."""

from __future__ import annotations

import json
from pathlib import Path

from assistant.learn.evaluation import HIT_KS, EvalRun, QuestionResult, result_dicts


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}"


def format_reasons(counts: dict[str, int]) -> str:
    """Decline reasons with their counts ("low_probability 12, names_missing 1")."""
    return ", ".join(f"{reason} {n}" for reason, n in counts.items())


LOSS_LABELS = {
    "cited": "cited right",
    "declined": "declined",
    "not_retrieved": "answer not in the passages read",
    "not_quoted": "read but not quoted",
}


def format_losses(counts: dict[str, int]) -> str:
    """Where supported questions' citations went ("cited right 130, declined 12, ...")."""
    return format_reasons({LOSS_LABELS.get(kind, kind): n for kind, n in counts.items()})


def _supported_rows(sup: dict | None) -> list[tuple[str, str]]:
    if not sup or not sup["questions"]:
        return []
    hits = " / ".join(_pct(sup["hit_at"][str(k)]) for k in HIT_KS)
    return [
        (f"supported ({sup['questions']}): hit@{'/'.join(map(str, HIT_KS))}", hits),
        (
            f"supported ({sup['questions']}): citation / answer hit",
            f"{_pct(sup['citation_hit'])} / {_pct(sup['answer_hit'])}",
        ),
        ("supported: wrongly declined", _pct(sup["wrongly_declined"])),
        (
            f"answerable unsupported ({sup['unsupported']}): declined",
            _pct(sup["unsupported_declined"]),
        ),
        ("supported: where citations go", format_losses(sup.get("citation_losses") or {}) or "-"),
    ]


def metric_rows(summary: dict) -> list[tuple[str, str]]:
    """(metric, value) pairs in the order the reports show them."""
    rows = [(f"retrieval hit@{k}", _pct(summary["hit_at"][str(k)])) for k in HIT_KS]
    rows += [
        ("citation hit", _pct(summary["citation_hit"])),
        ("answer hit", _pct(summary["answer_hit"])),
        ("unanswerable declined", _pct(summary["unanswerable_declined"])),
        ("answerable wrongly declined", _pct(summary["answerable_declined"])),
        ("  because", format_reasons(summary.get("answerable_declined_because") or {}) or "-"),
        *_supported_rows(summary.get("supported")),
        ("quote fidelity", _pct(summary["quote_fidelity"])),
        ("latency p50 / p95 (ms)", "{p50:.0f} / {p95:.0f}".format(**summary["latency_ms"])),
    ]
    return rows


def format_summary(summary: dict) -> str:
    """Plain-text metrics for the terminal."""
    width = max(len(name) for name, _ in metric_rows(summary))
    lines = [
        f"{summary['questions']} questions ({summary['answerable']} answerable, "
        f"{summary['unanswerable']} unanswerable)"
    ]
    lines += [f"  {name:<{width}}  {value}" for name, value in metric_rows(summary)]
    return "\n".join(lines)


def _miss_line(r: QuestionResult) -> str:
    rank = r.retrieval_rank if r.retrieval_rank is not None else "-"
    answer = " ".join(r.answer.split())
    if r.abstained and r.declined_because:
        answer = f"({r.declined_because}) {answer}"
    answer = answer if len(answer) <= 160 else answer[:157] + "..."
    return f"| {r.id} | {r.question} | {r.gold} | {rank} | {answer} |".replace("\n", " ")


def markdown_report(run: EvalRun) -> str:
    """A short report: settings line, metrics table, then the questions it got wrong."""
    s, info = run.summary, run.summary.get("run", {})
    lines = [
        "# Evaluation report",
        "",
        f"Questions: `{info.get('questions_file', '')}`; corpus: `{info.get('corpus', '')}` "
        f"({info.get('articles', '?')} articles, {info.get('chunks', '?')} chunks; index "
        f"{'reused' if info.get('index_reused') else 'built'}).",
        "",
        "| metric | value |",
        "|---|---|",
        *(f"| {name} | {value} |" for name, value in metric_rows(s)),
    ]
    misses = [r for r in run.results if not r.unanswerable and not r.answer_hit]
    wrong = [r for r in run.results if r.unanswerable and not r.abstained]
    if misses:
        lines += ["", "## Answerable questions whose answer misses the gold text", ""]
        lines += ["| id | question | gold | first hit rank | answer |", "|---|---|---|---|---|"]
        lines += [_miss_line(r) for r in misses]
    if wrong:
        lines += ["", "## Unanswerable questions that were answered", ""]
        lines += ["| id | question | gold | first hit rank | answer |", "|---|---|---|---|---|"]
        lines += [_miss_line(r) for r in wrong]
    return "\n".join(lines) + "\n"


def plot_hits(summary: dict, path: Path) -> None:
    """Hit@k of retrieval as a line, with citation and answer hit as reference lines."""
    import matplotlib

    matplotlib.use("Agg")  # no display: write files only
    import matplotlib.pyplot as plt

    ks = list(HIT_KS)
    hits = [summary["hit_at"][str(k)] or 0.0 for k in ks]
    fig, ax = plt.subplots(figsize=(5, 3.5), dpi=120)
    ax.plot(ks, hits, marker="o", label="retrieval hit@k")
    for name, style in (("citation_hit", "--"), ("answer_hit", ":")):
        if summary[name] is not None:
            ax.axhline(summary[name], linestyle=style, color="grey", label=name.replace("_", " "))
    ax.set(xlabel="k (passages)", ylabel="share of answerable questions", ylim=(0, 1.02))
    ax.set_xticks(ks)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def write_outputs(run: EvalRun, out_dir: Path, name: str) -> dict[str, str]:
    """Write ``NAME.json``, ``NAME.md`` and ``NAME-hits.png`` into ``out_dir``."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {
        "json": out_dir / f"{name}.json",
        "markdown": out_dir / f"{name}.md",
        "plot": out_dir / f"{name}-hits.png",
    }
    payload = {"summary": run.summary, "results": result_dicts(run.results)}
    paths["json"].write_text(json.dumps(payload, indent=2, ensure_ascii=False) + "\n")
    paths["markdown"].write_text(markdown_report(run))
    plot_hits(run.summary, paths["plot"])
    run.outputs = {k: str(v) for k, v in paths.items()}
    return run.outputs
