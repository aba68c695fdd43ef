"""What the command groups share: the common options, opening the assistant, failing
with a message, and the plain-text formatting of answers, reports and sources."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from assistant.config import load_settings
from assistant.library.inputs import printable
from assistant.schema import Answer, IndexReport, SourceInfo

IndexDir = Annotated[
    Path | None, typer.Option("--index-dir", help="Index folder (ASSISTANT_INDEX_DIR).")
]
ChromaUrl = Annotated[
    str | None, typer.Option("--chroma-url", help="Chroma server, http://host:port.")
]
AsJson = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]


def fail(message: str) -> typer.Exit:
    """An exit with status 2 after printing ``message`` as an error."""
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    return typer.Exit(code=2)


def open_assistant(**overrides):
    """The assistant for these settings overrides; bad settings exit with their message."""
    from assistant.service import Assistant

    try:
        return Assistant(load_settings(**overrides))
    except (ValueError, RuntimeError) as exc:  # bad settings, unknown answerer, missing model
        raise fail(str(exc)) from exc


def format_answer(answer: Answer) -> str:
    """Plain-text answer followed by its numbered sources."""
    lines = [answer.answer]
    if answer.note:
        lines += ["", f"Note: {answer.note}"]
    cites = answer.citations or answer.related
    if cites:
        lines += ["", "Sources:" if answer.citations else "Related passages (not an answer):"]
    for c in cites:
        dated = ", ".join(filter(None, [c.outlet, c.date]))
        lines.append(
            f"[{c.marker}] {c.title} — {c.source}, paragraph {c.paragraph}"
            + (f" ({dated})" if dated else "")
        )
        lines.append(f"    “{c.quote}”")
    return "\n".join(lines)


def format_report(report: IndexReport) -> str:
    """One line of counts, then one line per rejected file."""
    head = (
        f"added {report.added}, updated {report.updated}, unchanged {report.unchanged}, "
        f"removed {report.removed}, chunks written {report.chunks}, errors {len(report.errors)}"
    )
    return "\n".join([head, *(f"  {printable(e.path)}: {e.error}" for e in report.errors)])


def format_sources(sources: list[SourceInfo]) -> str:
    """One line per indexed article, or how to add the first."""
    if not sources:
        return "The index is empty. Add articles with `assistant index PATH`."
    return "\n".join(f"{s.doc_id}  {s.chunks:>4} chunks  {s.title}  ({s.source})" for s in sources)
