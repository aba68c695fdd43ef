"""The powered evaluation: blocks of training weeks, each indexed as a real library and
asked through ``Assistant.ask``, with 95 % intervals.

Each block (four consecutive weeks) is one corpus, indexed into Chroma through the
vector cache (so a second run re-encodes nothing) and cached as an index like the dev
evaluation's. Every question is asked on its quiz date. Figures are given on all
questions and on *supported* ones (``weeks.is_supported``), with bootstrap intervals
that resample weeks, not questions: a week's questions share its articles.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import numpy as np

from assistant.config import Settings
from assistant.learn.breakdown import (
    by_year_summaries,
    reliability_markdown,
    reliability_table,
    split_by_year,
    year_table_markdown,
)
from assistant.learn.dataset import quiz_day
from assistant.learn.eval_report import format_losses, format_reasons
from assistant.learn.evaluation import (
    INDEX_MODULES,
    INDEX_SETTINGS,
    EvalQuestion,
    citation_losses,
    decline_reason_counts,
    score_question,
)
from assistant.learn.weeks import Week, is_supported, load_week, support_text
from assistant.library.ingest import LoadResult

HIT_KS = (1, 3, 5, 10, 40)
BOOTSTRAP_ROUNDS = 2000
_COMPLETE = "eval-index.json"
Progress = Callable[[str], None]


@dataclass
class WeekResult:
    """How the assistant did on one training question."""

    id: str
    week: str
    block: str
    question: str
    gold: str
    supported: bool
    abstained: bool
    answer: str
    retrieval_rank: int | None
    citation_hit: bool
    answer_hit: bool
    quotes: int
    quotes_verbatim: int
    latency_ms: float
    declined_because: str = ""
    answer_probability: float | None = None


def week_result(scored, week: str, block: str, supported: bool) -> WeekResult:
    """A question's ``evaluation.QuestionResult`` with its week, block and label."""
    # the week's own label, not the one ``evaluation`` gives over a corpus folder
    shared = {
        f.name: getattr(scored, f.name)
        for f in fields(WeekResult)
        if hasattr(scored, f.name) and f.name != "supported"
    }
    return WeekResult(week=week, block=block, supported=supported, **shared)


def block_key(weeks: list[Week], settings: Settings) -> str:
    """Hash of the block's article files, the indexing settings and the indexing code."""
    import chromadb

    digest = hashlib.sha256()
    for week in weeks:
        digest.update(week.name.encode() + b"\0")
        digest.update(hashlib.sha256((week.folder / "articles.jsonl.gz").read_bytes()).digest())
    for name in INDEX_SETTINGS:
        digest.update(f"{name}={getattr(settings, name)}\0".encode())
    package = Path(__file__).parent.parent
    for module in (*INDEX_MODULES, "store/sentence_vectors.py"):
        digest.update(hashlib.sha256((package / module).read_bytes()).digest())
    digest.update(chromadb.__version__.encode())
    return digest.hexdigest()[:16]


def index_block(weeks: list[Week], settings: Settings, cache_dir: Path, embedder) -> Settings:
    """Settings pointing at an index of the block's articles, built once in ``cache_dir``."""
    from assistant.store.articles import ArticleStore
    from assistant.store.indexer import index_loaded

    folder = Path(cache_dir) / f"block-{block_key(weeks, settings)}"
    indexed = settings.model_copy(update={"index_dir": folder, "chroma_url": None})
    if (folder / _COMPLETE).exists():
        return indexed
    shutil.rmtree(folder, ignore_errors=True)  # an interrupted build: start over
    docs = [d for w in weeks for d in w.documents]
    results = [LoadResult(d.source, document=d) for d in docs]
    report = index_loaded(ArticleStore(indexed, embedder), results)
    if report.errors:
        shutil.rmtree(folder, ignore_errors=True)
        raise RuntimeError(f"indexing the block failed: {report.errors[0]}")
    (folder / _COMPLETE).write_text(json.dumps({"weeks": [w.name for w in weeks]}) + "\n")
    return indexed


def ask_block(weeks: list[Week], settings: Settings, embedder) -> list[WeekResult]:
    """Every question of the block asked on its quiz date, scored."""
    from assistant.learn.evaluation import QuoteFidelity
    from assistant.service import Assistant

    assistant = Assistant(settings, embedder=embedder)
    fidelity = QuoteFidelity(assistant.store)
    texts = [support_text(d.text) for w in weeks for d in w.documents]
    name = f"{weeks[0].name}+{len(weeks)}w"
    results = []
    for week in weeks:
        for q in week.questions:
            start = time.perf_counter()
            answer = assistant.ask(q.question, as_of=quiz_day(q))
            latency = (time.perf_counter() - start) * 1e3
            passages, _ = assistant.retriever.search(q.question, max(HIT_KS), quiz_day(q))
            scored = score_question(
                EvalQuestion(q.id, q.question, q.answer),
                answer,
                [p.page_content for p in passages],
                latency,
                fidelity,
            )
            supported = q.in_corpus and is_supported(q.question, q.answer, texts)
            results.append(week_result(scored, week.name, name, supported))
    return results


# --- figures with intervals ---------------------------------------------------------------


def _metric_values(results: list[WeekResult]) -> dict[str, float | None]:
    """Point values of every figure over ``results``."""

    def share(flags):
        flags = list(flags)
        return float(np.mean(flags)) if flags else None

    sup = [r for r in results if r.supported]
    unsup = [r for r in results if not r.supported]
    values = {}
    for label, group in (("all", results), ("supported", sup)):
        for k in HIT_KS:
            ranks = [r.retrieval_rank for r in group]
            values[f"{label}.hit@{k}"] = share(r is not None and r <= k for r in ranks)
        values[f"{label}.citation_hit"] = share(r.citation_hit for r in group)
        values[f"{label}.answer_hit"] = share(r.answer_hit for r in group)
    values["unsupported.declined"] = share(r.abstained for r in unsup)
    values["supported.wrongly_declined"] = share(r.abstained for r in sup)
    quotes = sum(r.quotes for r in results)
    values["quote_fidelity"] = sum(r.quotes_verbatim for r in results) / quotes if quotes else None
    return values


def summarise_weeks(
    results: list[WeekResult], passages: int, rounds: int = BOOTSTRAP_ROUNDS
) -> dict:
    """Every figure with a 95 % interval from resampling weeks with replacement
    (``passages``: how many the answerer reads, for the citation losses), pooled and per
    year of the weeks, with the answer probability's reliability table."""
    summary = _figures(results, passages, rounds)
    summary["by_year"] = by_year_summaries(results, lambda g: _figures(g, passages, rounds))
    summary["reliability"] = {"pooled": reliability_table(results)} | {
        year: reliability_table(group) for year, group in split_by_year(results).items()
    }
    return summary


def _figures(results: list[WeekResult], passages: int, rounds: int) -> dict:
    point = _metric_values(results)
    draws = _bootstrap(results, rounds)
    latencies = [r.latency_ms for r in results]
    return {
        "questions": len(results),
        "supported": sum(r.supported for r in results),
        "weeks": sorted({r.week for r in results}),
        "supported_declined_because": decline_reason_counts(r for r in results if r.supported),
        "unsupported_declined_because": decline_reason_counts(
            r for r in results if not r.supported
        ),
        "supported_citation_losses": citation_losses(results, passages),
        "metrics": {name: _interval(value, draws[name]) for name, value in point.items()},
        "latency_ms": {
            "p50": round(float(np.percentile(latencies, 50)), 1) if latencies else None,
            "p95": round(float(np.percentile(latencies, 95)), 1) if latencies else None,
        },
    }


def _bootstrap(results: list[WeekResult], rounds: int) -> dict[str, list[float]]:
    """Every figure over ``rounds`` resamples of the weeks, with replacement."""
    by_week: dict[str, list[WeekResult]] = {}
    for r in results:
        by_week.setdefault(r.week, []).append(r)
    weeks = sorted(by_week)
    rng = np.random.default_rng(7)
    draws: dict[str, list[float]] = {name: [] for name in _metric_values(results)}
    for _ in range(rounds):
        sample = [r for w in rng.choice(weeks, size=len(weeks)) for r in by_week[w]]
        for name, value in _metric_values(sample).items():
            if value is not None:
                draws[name].append(value)
    return draws


def _interval(value: float | None, draws: list[float]) -> dict:
    return {
        "value": None if value is None else round(value, 4),
        "low": round(float(np.percentile(draws, 2.5)), 4) if draws else None,
        "high": round(float(np.percentile(draws, 97.5)), 4) if draws else None,
    }


def evaluate_blocks(
    train_dir: Path,
    blocks: list[list[str]],
    settings: Settings,
    cache_dir: Path,
    embedder,
    progress: Progress = print,
    max_articles: int | None = None,
) -> tuple[dict, list[WeekResult]]:
    """Index and ask every block (only its weeks' first ``max_articles`` articles, for a
    quick sample); the summary with intervals and every result."""
    results: list[WeekResult] = []
    for names in blocks:
        start = time.perf_counter()
        weeks = [load_week(Path(train_dir) / n, max_articles) for n in names]
        indexed = index_block(weeks, settings, cache_dir, embedder)
        block_results = ask_block(weeks, indexed, embedder)
        results += block_results
        progress(
            f"{names[0]}+{len(names)}w: {len(block_results)} questions "
            f"({time.perf_counter() - start:.0f} s)"
        )
    summary = summarise_weeks(results, settings.k)
    summary["blocks"] = [f"{b[0]}+{len(b)}w" for b in blocks]
    return summary, results


def write_week_reports(summary: dict, results: list[WeekResult], out_dir: Path, name: str):
    """``NAME.json`` (summary and every result) and ``NAME.md`` (the figures table)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    payload = {"summary": summary, "results": [asdict(r) for r in results]}
    (out_dir / f"{name}.json").write_text(json.dumps(payload, indent=1) + "\n")
    (out_dir / f"{name}.md").write_text(markdown_table(summary))
    return {"json": str(out_dir / f"{name}.json"), "markdown": str(out_dir / f"{name}.md")}


def _cell(metrics: dict, name: str) -> str:
    v = metrics.get(name, {})
    if v.get("value") is None:
        return "n/a"
    return f"{v['value']:.2f} [{v['low']:.2f}, {v['high']:.2f}]"


#: The rows of the per-year table: every figure, supported questions first.
YEAR_ROWS = [(f"hit@{k}, supported", f"supported.hit@{k}") for k in HIT_KS] + [
    ("citation hit, supported", "supported.citation_hit"),
    ("answer hit, supported", "supported.answer_hit"),
    ("wrongly declined, supported", "supported.wrongly_declined"),
    ("citation hit, all", "all.citation_hit"),
    ("answer hit, all", "all.answer_hit"),
    ("unsupported declined", "unsupported.declined"),
    ("quote fidelity", "quote_fidelity"),
]


def markdown_table(summary: dict) -> str:
    """The figures as a Markdown table: value and 95 % interval, supported beside all;
    then the same per year and the reliability tables."""
    m = summary["metrics"]

    def cell(name: str) -> str:
        return _cell(m, name)

    rows = [f"retrieval hit@{k}" for k in HIT_KS] + ["citation hit", "answer hit"]
    keys = [f"hit@{k}" for k in HIT_KS] + ["citation_hit", "answer_hit"]
    lines = [
        f"{summary['questions']} questions ({summary['supported']} supported), "
        f"{len(summary['weeks'])} weeks: {', '.join(summary.get('blocks', []))}",
        "",
        "| figure | supported | all |",
        "|---|---|---|",
    ]
    lines += [
        f"| {r} | {cell('supported.' + k)} | {cell('all.' + k)} |"
        for r, k in zip(rows, keys, strict=True)
    ]
    lines += [
        f"| unsupported declined | | {cell('unsupported.declined')} |",
        f"| supported wrongly declined | {cell('supported.wrongly_declined')} | |",
        f"| quote fidelity | | {cell('quote_fidelity')} |",
        "| latency p50 / p95 (ms) | | {p50} / {p95} |".format(**summary["latency_ms"]),
    ]
    for label in ("supported", "unsupported"):
        if counts := summary.get(f"{label}_declined_because"):
            lines += ["", f"Declined {label} questions, by reason: {format_reasons(counts)}."]
    if losses := summary.get("supported_citation_losses"):
        lines += ["", f"Supported questions, where their citations go: {format_losses(losses)}."]
    lines += year_table_markdown(summary, YEAR_ROWS, _cell)
    lines += reliability_markdown(summary.get("reliability", {}))
    return "\n".join(lines) + "\n"
