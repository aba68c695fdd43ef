"""The powered evaluation split by year, and the abstention model's reliability table.

News from a year the models never saw reads differently (new names, new stories), so a
pooled figure can hide a year that falls behind: every figure is also given per year of
the weeks asked. The reliability table says whether the abstention model's probability
means what it says: of the answers given at probability p, about p should cite the gold
answer. A year whose observed rates fall below its predictions is where the threshold,
chosen on training blocks, declines too few; above them, too many.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

#: Bin edges of the reliability table (the last bin includes 1.0).
RELIABILITY_EDGES = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)


def year_of(week: str) -> str:
    """The year of a week folder's name (``2024-03-29`` → ``2024``)."""
    return week[:4]


def split_by_year(results: Iterable) -> dict[str, list]:
    """The results grouped by the year of their week, years in order."""
    by_year: dict[str, list] = {}
    for r in results:
        by_year.setdefault(year_of(r.week), []).append(r)
    return dict(sorted(by_year.items()))


def by_year_summaries(results: list, summarise: Callable[[list], dict]) -> dict[str, dict]:
    """``summarise`` applied to each year's results, when the results span several years
    (with one year the pooled summary already is that year's)."""
    years = split_by_year(results)
    return {year: summarise(group) for year, group in years.items()} if len(years) > 1 else {}


def _bin_index(probability: float) -> int:
    for i, high in enumerate(RELIABILITY_EDGES[1:]):
        if probability < high:
            return i
    return len(RELIABILITY_EDGES) - 2


def reliability_table(results: Iterable) -> dict:
    """Answered questions binned by their answer probability: per bin the count, the mean
    probability and the observed citation-hit and answer-hit rates, with the expected
    calibration error (count-weighted gap between mean probability and citation hit).

    Only answered questions have an observed outcome; declined ones are left out, so for
    the whole range run the evaluation with ``ASSISTANT_MIN_ANSWER_PROBABILITY=0``."""
    bins: list[list] = [[] for _ in RELIABILITY_EDGES[1:]]
    for r in results:
        if not r.abstained and r.answer_probability is not None:
            bins[_bin_index(r.answer_probability)].append(r)
    rows = [_reliability_row(i, group) for i, group in enumerate(bins) if group]
    answered = sum(row["count"] for row in rows)
    gap = sum(row["count"] * abs(row["predicted"] - row["citation_hit"]) for row in rows)
    return {
        "answered": answered,
        "ece": round(gap / answered, 4) if answered else None,
        "bins": rows,
    }


def _reliability_row(i: int, group: list) -> dict:
    n = len(group)
    return {
        "low": RELIABILITY_EDGES[i],
        "high": RELIABILITY_EDGES[i + 1],
        "count": n,
        "predicted": round(sum(r.answer_probability for r in group) / n, 4),
        "citation_hit": round(sum(r.citation_hit for r in group) / n, 4),
        "answer_hit": round(sum(r.answer_hit for r in group) / n, 4),
    }


def reliability_markdown(tables: dict[str, dict]) -> list[str]:
    """Markdown lines: one reliability table per label (pooled, then each year)."""
    lines = []
    for label, table in tables.items():
        if not table["answered"]:
            continue
        lines += [
            "",
            f"Reliability of the answer probability, {label} "
            f"({table['answered']} answered, expected calibration error {table['ece']:.3f}):",
            "",
            "| probability | answered | mean probability | citation hit | answer hit |",
            "|---|---|---|---|---|",
        ]
        lines += [
            f"| {b['low']:.1f}–{b['high']:.1f} | {b['count']} | {b['predicted']:.2f} "
            f"| {b['citation_hit']:.2f} | {b['answer_hit']:.2f} |"
            for b in table["bins"]
        ]
    return lines


def year_table_markdown(summary: dict, rows: list[tuple[str, str]], cell) -> list[str]:
    """Markdown lines: every figure pooled and per year, as ``cell(metrics, name)`` writes
    it (``rows``: pairs of a row label and a metric name)."""
    years = summary.get("by_year") or {}
    if not years:
        return []
    head = " | ".join(f"{y} ({s['supported']} of {s['questions']})" for y, s in years.items())
    lines = [
        "",
        "By year of the weeks asked:",
        "",
        f"| figure | pooled | {head} |",
        "|---|---|" + "---|" * len(years),
    ]
    for label, name in rows:
        cells = [cell(summary["metrics"], name)] + [
            cell(s["metrics"], name) for s in years.values()
        ]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return lines
