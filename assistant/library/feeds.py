"""Feeds: registered in the index folder, refreshed with conditional requests, their new and
edited entries indexed through the normal indexer.

A refresh asks each feed with ``If-None-Match``/``If-Modified-Since`` (a 304 costs nothing),
takes the entries it has not indexed yet (by GUID or link, and again when an entry's
content changed), fetches each entry's page and extracts the article, falling back to the
entry's own text when the page is unreachable or yields nothing. A feed that fails gets
its error recorded and backs off; it never stops the others, and nothing it sent changes
the index. The state (``INDEX_DIR/feeds.json``) is written only after the entries are
indexed, so a refresh killed half-way is simply repeated.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from filelock import FileLock
from pydantic import BaseModel, Field

from assistant.library.feed_parse import Entry, ParsedFeed, parse_feed
from assistant.library.fetch import check_url, fetch, is_url, outlet_of
from assistant.library.formats import parse_bytes
from assistant.library.ingest import IngestError, LoadResult, parse_html
from assistant.schema import IndexReport

FEEDS_FILE = "feeds.json"
LOCK_FILE = ".feeds.lock"
MAX_BACKOFF = timedelta(hours=24)
log = logging.getLogger(__name__)


class FeedError(ValueError):
    """A feed command cannot be carried out (unknown feed, bad URL)."""


class FeedState(BaseModel):
    """What is known of one feed between refreshes."""

    url: str
    title: str = ""
    etag: str = ""
    modified: str = ""
    entries: dict[str, list[str]] = Field(default_factory=dict)  # key -> [fingerprint, source]
    status: str = "new"  # new | ok | not modified | error
    error: str = ""
    new_entries: int = 0
    last_checked: str = ""
    failures: int = 0
    next_check: str = ""

    def info(self) -> dict:
        """The feed as ``feeds list --json`` and the refresh report show it."""
        return self.model_dump(
            include={"url", "title", "new_entries", "status", "last_checked", "error", "next_check"}
        )


class FeedsReport(IndexReport):
    """An index report plus what happened to each feed."""

    feeds: list[dict] = Field(default_factory=list)


class Registry:
    """The feeds of one index folder, read and written under a small file lock."""

    def __init__(self, index_dir: Path):
        self.path = Path(index_dir) / FEEDS_FILE
        self.lock = FileLock(str(Path(index_dir) / LOCK_FILE), timeout=30)

    def load(self) -> dict[str, FeedState]:
        try:
            rows = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        return {row["url"]: FeedState(**row) for row in rows}

    def save(self, states: dict[str, FeedState]) -> None:
        """Write atomically: a reader sees the old file or the new one."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        rows = [s.model_dump() for s in states.values()]
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".feeds-", suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(rows, handle, ensure_ascii=False, indent=1)
        os.replace(tmp, self.path)

    def add(self, url: str) -> FeedState:
        """Register a feed (known ones are kept as they are)."""
        with self.lock:
            states = self.load()
            state = states.setdefault(url, FeedState(url=url))
            self.save(states)
        return state

    def remove(self, url: str) -> bool:
        with self.lock:
            states = self.load()
            found = states.pop(url, None) is not None
            self.save(states)
        return found

    def entry_sources(self) -> set[str]:
        """Every source indexed from a feed entry (re-read by refreshes, not by watch's
        re-reading of files and URLs)."""
        return {source for s in self.load().values() for _, source in s.entries.values()}


def check_feed_url(url: str) -> str:
    """The URL trimmed, or ``FeedError`` when it is not an http(s) URL."""
    url = (url or "").strip()
    try:
        check_url(url)
    except IngestError as exc:
        raise FeedError(str(exc)) from None
    return url


# --- one feed ---------------------------------------------------------------------------
@dataclass
class Poll:
    """One feed's answer: the entries to index (with the keys they are recorded under)."""

    state: FeedState
    results: list[LoadResult] = field(default_factory=list)
    keys: dict[str, tuple[str, str]] = field(default_factory=dict)  # source -> (key, print)
    settled: set[str] = field(default_factory=set)  # sources that need no retry
    error: str = ""
    skipped: bool = False


def poll(state: FeedState, settings, allow_private: bool) -> Poll:
    """Ask one feed for what changed; every failure is this feed's error, never raised."""
    result = Poll(state.model_copy(deep=True))
    try:
        headers = {"If-None-Match": state.etag} if state.etag else {}
        if state.modified:
            headers["If-Modified-Since"] = state.modified
        got = fetch(
            state.url, settings.feed_max_bytes, settings.fetch_timeout_s, headers, allow_private
        )
        if got.status == 304:
            result.state.status = "not modified"
            return result
        feed = parse_feed(got.data, got.headers.get("Content-Type", "") if got.headers else "")
        result.state.etag = got.headers.get("ETag", "") if got.headers else ""
        result.state.modified = got.headers.get("Last-Modified", "") if got.headers else ""
        _take_entries(result, feed, settings, allow_private)
        result.state.status = "ok"
    except IngestError as exc:
        result.error = str(exc)
    except Exception as exc:  # a feed must never stop the others
        log.exception("refreshing %s failed", state.url)
        result.error = f"unexpected error: {exc}"
    return result


def _take_entries(result: Poll, feed: ParsedFeed, settings, allow_private: bool) -> None:
    result.state.title = feed.title or result.state.title
    for entry in feed.entries:
        known = result.state.entries.get(entry.key)
        if known and known[0] == entry.fingerprint:
            continue  # indexed as it is now
        loaded = load_entry(
            entry,
            feed.title or outlet_of(result.state.url),
            result.state.url,
            settings,
            allow_private,
        )
        result.results.append(loaded)
        result.keys[loaded.path] = (entry.key, entry.fingerprint)
        if loaded.document is not None or loaded.error.startswith(BAD_LINK):
            result.settled.add(loaded.path)


BAD_LINK = "the entry's link is not an http(s) URL"


def load_entry(
    entry: Entry, outlet: str, feed_url: str, settings, allow_private: bool
) -> LoadResult:
    """The entry's article: its page's main text, else the entry's own text."""
    source = entry.link or f"{feed_url}#{entry.key}"
    if entry.link and not is_url(entry.link):
        scheme = entry.link.split(":", 1)[0][:20]
        return LoadResult(source, error=f"{BAD_LINK} ({scheme}:); not fetched")
    page_error = "the entry has no link"
    doc = None
    if entry.link:
        try:
            got = fetch(
                entry.link, settings.max_file_bytes, settings.fetch_timeout_s, None, allow_private
            )
            doc = parse_bytes(got.data, source, got.suffix, got.charset)
        except IngestError as exc:
            page_error = str(exc)
    if doc is None:
        doc = _own_text(entry, source)
    if doc is None:
        return LoadResult(source, error=f"{page_error}, and the entry has no text of its own")
    doc.url = entry.link or doc.url
    doc.date = entry.date or doc.date
    doc.outlet = outlet or doc.outlet
    return LoadResult(source, document=doc)


def _own_text(entry: Entry, source: str):
    if not entry.html.strip():
        return None
    title = entry.title or "Untitled"
    page = f"<html><head><title>{_escape(title)}</title></head><body>{entry.html}</body></html>"
    try:
        return parse_html(page, source)
    except IngestError:
        return None


def _escape(text: str) -> str:
    from html import escape

    return escape(text)


# --- refreshing -------------------------------------------------------------------------
def due(state: FeedState, now: datetime) -> bool:
    """Whether a failing feed's back-off has passed (a healthy feed is always due)."""
    return not state.next_check or datetime.fromisoformat(state.next_check) <= now


def backoff(failures: int, interval: timedelta) -> timedelta:
    """How long a feed that failed ``failures`` times in a row waits: one interval, then
    twice as long after each further failure, at most a day."""
    return min(interval * 2 ** max(failures - 1, 0), MAX_BACKOFF)


def refresh(
    assistant,
    urls: Iterable[str] | None = None,
    allow_private: bool = True,
    interval: timedelta = timedelta(minutes=15),
    respect_backoff: bool = False,
    progress=None,
) -> FeedsReport:
    """Refresh the given feeds (all when None) and index what they brought."""
    registry = Registry(assistant.settings.index_dir)
    states = registry.load()
    wanted = list(urls) if urls is not None else list(states)
    unknown = [u for u in wanted if u not in states]
    if unknown:
        raise FeedError(f"no such feed: {unknown[0]} (add it with `assistant feeds add URL`)")
    now = datetime.now(UTC)
    polls = [
        Poll(states[u].model_copy(deep=True), skipped=True)
        if respect_backoff and not due(states[u], now)
        else poll(states[u], assistant.settings, allow_private)
        for u in wanted
    ]
    loaded = [r for p in polls for r in p.results]
    report = assistant.index_loaded(loaded, progress) if loaded else IndexReport()
    with registry.lock:
        current = registry.load()
        for p in polls:
            if p.state.url in current:  # not removed meanwhile
                current[p.state.url] = _settle(p, now, interval)
        registry.save(current)
    feed_errors = [{"path": p.state.url, "error": p.error} for p in polls if p.error]
    return FeedsReport(
        **{**report.model_dump(), "errors": feed_errors + report.model_dump()["errors"]},
        feeds=[current.get(p.state.url, p.state).info() for p in polls],
    )


def _settle(p: Poll, now: datetime, interval: timedelta) -> FeedState:
    """The feed's state after a refresh: entries that were indexed (or can never be)
    are recorded; errors count towards the back-off."""
    state = p.state
    if p.skipped:
        state.status = "backing off"
        return state
    state.last_checked = now.isoformat(timespec="seconds")
    if p.error:
        state.status, state.error, state.new_entries = "error", p.error, 0
        state.failures += 1
        state.next_check = (now + backoff(state.failures, interval)).isoformat(timespec="seconds")
        return state
    for source in p.settled:
        key, fingerprint = p.keys[source]
        state.entries[key] = [fingerprint, source]
    if set(p.keys) - p.settled:  # entries to retry: the next request must not get a 304
        state.etag = state.modified = ""
    state.new_entries = sum(1 for r in p.results if r.document is not None)
    state.error, state.failures, state.next_check = "", 0, ""
    return state


def add_feed(assistant, url: str, allow_private: bool = True) -> FeedsReport:
    """Register a feed and refresh it at once. A new feed whose first refresh failed (not
    a feed, unreachable, ...) is not kept: its error is reported and nothing changes."""
    url = check_feed_url(url)
    registry = Registry(assistant.settings.index_dir)
    known = url in registry.load()
    registry.add(url)
    report = refresh(assistant, [url], allow_private)
    if not known and report.feeds[0]["status"] == "error":
        registry.remove(url)
        report.feeds[0]["status"] = "not added"
    return report


def list_feeds(index_dir: Path) -> list[dict]:
    """Every registered feed with its status and last check."""
    return [s.info() for s in Registry(index_dir).load().values()]


def remove_feed(index_dir: Path, url: str) -> None:
    """Forget a feed (the articles it brought stay indexed)."""
    if not Registry(index_dir).remove(url.strip()):
        raise FeedError(f"no such feed: {url}")
