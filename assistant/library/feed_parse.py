"""Feeds as lists of entries: RSS 0.9x/1.0/2.0 and Atom through ``feedparser``, JSON Feed by
hand (feedparser 6.0, the current release, does not read it; the format is a small JSON
object). A body that is no feed, or broken XML, is a clear error.
"""

from __future__ import annotations

import hashlib
import io
import json
import xml.sax
from dataclasses import dataclass
from datetime import date

from assistant.dates import normalize_date
from assistant.library.ingest import IngestError

JSON_FEED_VERSION = "https://jsonfeed.org/version/"


@dataclass
class Entry:
    """One feed entry: where its article is, its own text, and what identifies it."""

    key: str  # the GUID / id, else the link, else a hash of title and text
    link: str
    title: str
    html: str  # the entry's own content (full content, else its summary)
    date: str  # ISO YYYY-MM-DD, "" when the entry has none
    fingerprint: str  # changes when the entry is edited


@dataclass
class ParsedFeed:
    title: str
    entries: list[Entry]


def parse_feed(data: bytes, content_type: str = "") -> ParsedFeed:
    """The entries of a feed body, or ``IngestError`` saying why it is not a usable feed."""
    head = data.lstrip()[:1]
    if head in {b"{", b"["} or "json" in content_type:
        return parse_json_feed(data)
    import feedparser

    # A stream, never a string: feedparser would fetch a string that looks like a URL.
    parsed = feedparser.parse(io.BytesIO(data), response_headers={"content-type": content_type})
    if not parsed.get("version"):
        raise IngestError(_not_a_feed(data))
    problem = parsed.get("bozo_exception")
    if isinstance(problem, xml.sax.SAXParseException) and not _tolerable(problem):
        where = f"line {problem.getLineNumber()}, column {problem.getColumnNumber()}"
        raise IngestError(f"broken XML in the feed ({where}: {problem.getMessage()})")
    title = " ".join(parsed.feed.get("title", "").split())
    return ParsedFeed(title, [_entry(e) for e in parsed.entries])


def _tolerable(problem: xml.sax.SAXParseException) -> bool:
    # HTML entities such as &nbsp; undeclared in XML are common in real feeds, and
    # feedparser's lenient parser reads them correctly; other XML errors lose entries.
    return "undefined entity" in problem.getMessage()


def _not_a_feed(data: bytes) -> str:
    if b"<html" in data[:4096].lower() or b"<!doctype html" in data[:4096].lower():
        return "not a feed: the URL serves an HTML page, not RSS, Atom or JSON Feed"
    return "not a feed: no RSS, Atom or JSON Feed found"


def _entry(raw) -> Entry:
    link = (raw.get("link") or "").strip()
    content = raw.get("content") or []
    html = content[0].get("value", "") if content else raw.get("summary", "")
    when = raw.get("published_parsed") or raw.get("updated_parsed")
    iso = date(*when[:3]).isoformat() if when else ""
    title = " ".join((raw.get("title") or "").split())
    return _make_entry(raw.get("id") or "", link, title, html, iso, raw.get("updated", ""))


def _make_entry(key: str, link: str, title: str, html: str, iso: str, updated: str) -> Entry:
    stamp = json.dumps([title, link, updated, html], ensure_ascii=False).encode()
    fingerprint = hashlib.sha256(stamp).hexdigest()[:16]
    key = (
        key.strip()
        or link
        or "entry-" + hashlib.sha256(f"{title}\n{html}".encode()).hexdigest()[:12]
    )
    return Entry(key, link, title, html, normalize_date(iso), fingerprint)


def parse_json_feed(data: bytes) -> ParsedFeed:
    """A JSON Feed (version 1 or 1.1) as entries."""
    try:
        obj = json.loads(data.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise IngestError(f"not a feed: not valid JSON ({exc})") from None
    version = obj.get("version", "") if isinstance(obj, dict) else ""
    if not isinstance(version, str) or not version.startswith(JSON_FEED_VERSION):
        raise IngestError(
            f'not a feed: JSON without a JSON Feed "version" ({JSON_FEED_VERSION}1.1)'
        )
    items = obj.get("items")
    if not isinstance(items, list):
        raise IngestError('not a feed: a JSON Feed needs an "items" list')
    entries = [_json_entry(item) for item in items if isinstance(item, dict)]
    return ParsedFeed(" ".join(str(obj.get("title", "")).split()), entries)


def _json_entry(item: dict) -> Entry:
    def text(key: str) -> str:
        value = item.get(key)
        return value if isinstance(value, str) else ""

    html = text("content_html") or _paragraphs(text("content_text")) or text("summary")
    iso = text("date_published") or text("date_modified")
    link = (text("url") or text("external_url")).strip()
    title = " ".join(text("title").split())
    return _make_entry(str(item.get("id", "")), link, title, html, iso, text("date_modified"))


def _paragraphs(plain: str) -> str:
    """Plain text as HTML paragraphs (so one extractor reads every entry's own text)."""
    from html import escape

    return "".join(f"<p>{escape(p.strip())}</p>" for p in plain.split("\n\n") if p.strip())
