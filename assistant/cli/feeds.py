"""Command line for feeds and scheduled refresh: ``assistant feeds add|list|remove|refresh``
and ``assistant watch`` (thin over ``feeds`` and ``watch``)."""

from __future__ import annotations

import json
import threading
from typing import Annotated

import typer

from assistant.cli.common import AsJson, ChromaUrl, IndexDir, fail, format_report, open_assistant
from assistant.config import load_settings
from assistant.library.feeds import (
    FeedError,
    FeedsReport,
    add_feed,
    list_feeds,
    refresh,
    remove_feed,
)
from assistant.locks import IndexBusyError

feeds_app = typer.Typer(no_args_is_help=True, help="Follow RSS, Atom and JSON feeds.")
FeedUrl = Annotated[str, typer.Argument(help="The feed's http(s) URL.")]


def format_feeds(feeds: list[dict]) -> str:
    """One line per feed: status, last check, title and URL, and its error if any."""
    if not feeds:
        return "No feeds yet. Add one with `assistant feeds add URL`."
    lines = []
    for f in feeds:
        new = f" ({f['new_entries']} new)" if f["new_entries"] else ""
        lines.append(
            f"{f['status']:<12} {f['last_checked'] or 'never':<25} {f['title'] or '—'}  "
            f"<{f['url']}>{new}"
        )
        if f["error"]:
            lines.append(f"    error: {f['error']}")
    return "\n".join(lines)


def _finish(report: FeedsReport, as_json: bool) -> None:
    """Print the report; exit status 1 when a feed or an entry failed."""
    if as_json:
        typer.echo(json.dumps(report.model_dump()))
    else:
        typer.echo(format_report(report) + "\n" + format_feeds(report.feeds))
    if report.errors:
        raise typer.Exit(code=1)


def _run(action, as_json: bool) -> None:
    try:
        report = action()
    except (FeedError, IndexBusyError) as exc:
        raise fail(str(exc)) from exc
    _finish(report, as_json)


@feeds_app.command("add")
def feeds_add(
    url: FeedUrl, index_dir: IndexDir = None, chroma_url: ChromaUrl = None, as_json: AsJson = False
) -> None:
    """Register a feed and index its entries now."""
    assistant = open_assistant(index_dir=index_dir, chroma_url=chroma_url)
    _run(lambda: add_feed(assistant, url), as_json)


@feeds_app.command("refresh")
def feeds_refresh(
    url: Annotated[str | None, typer.Argument(help="One feed; all when left out.")] = None,
    index_dir: IndexDir = None,
    chroma_url: ChromaUrl = None,
    as_json: AsJson = False,
) -> None:
    """Fetch new and edited entries of every feed (or one)."""
    assistant = open_assistant(index_dir=index_dir, chroma_url=chroma_url)
    _run(lambda: refresh(assistant, [url] if url else None), as_json)


@feeds_app.command("list")
def feeds_list(index_dir: IndexDir = None, as_json: AsJson = False) -> None:
    """The registered feeds with their status and last check."""
    feeds = list_feeds(load_settings(index_dir=index_dir).index_dir)
    typer.echo(json.dumps(feeds) if as_json else format_feeds(feeds))


@feeds_app.command("remove")
def feeds_remove(url: FeedUrl, index_dir: IndexDir = None, as_json: AsJson = False) -> None:
    """Stop following a feed; the articles it brought stay indexed."""
    try:
        remove_feed(load_settings(index_dir=index_dir).index_dir, url)
    except FeedError as exc:
        raise fail(str(exc)) from exc
    typer.echo(json.dumps({"removed": url}) if as_json else f"removed the feed {url}")


def watch(
    every: Annotated[str, typer.Option("--every", help="Interval: 30s, 15m, 2h.")] = "15m",
    cycles: Annotated[
        int | None, typer.Option("--cycles", help="Stop after this many cycles.", min=1)
    ] = None,
    index_dir: IndexDir = None,
    chroma_url: ChromaUrl = None,
    as_json: AsJson = False,
) -> None:
    """Refresh every feed and re-read recorded files and URLs on an interval (Ctrl-C stops)."""
    from assistant.library.watch import parse_every
    from assistant.library.watch import watch as run_watch

    try:
        every_s = parse_every(every)
    except ValueError as exc:
        raise fail(str(exc)) from exc
    assistant = open_assistant(index_dir=index_dir, chroma_url=chroma_url)

    def show(number: int, report: FeedsReport | None, error: str) -> None:
        if as_json:
            body = report.model_dump() if report else {}
            typer.echo(json.dumps({"cycle": number, "error": error, **body}))
        else:
            text = error or format_report(report) + "\n" + format_feeds(report.feeds)
            typer.echo(f"cycle {number}: {text}")

    try:
        run_watch(assistant, every_s, threading.Event(), cycles, show)
    except KeyboardInterrupt:
        typer.echo("stopped", err=True)


def register(app: typer.Typer) -> None:
    """Add the feeds commands and ``watch`` to the main app."""
    app.add_typer(feeds_app, name="feeds")
    app.command()(watch)
