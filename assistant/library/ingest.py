"""Ingestion: turn files into clean documents with title, date, source and paragraphs.

A document's ``text`` is what offsets refer to. For ``.txt`` and ``.md`` files it is the
file's own text (newlines normalised), so a citation's ``start:end`` points into the file.
For HTML (and PDF and JSONL, see ``formats``, which also maps suffixes to parsers) it is
the extracted main text, headed by the title. Text is decoded strictly: a wrong guess is an
error, never silently dropped bytes.
"""

from __future__ import annotations

import codecs
import hashlib
import re
import unicodedata
from dataclasses import dataclass

from assistant.dates import date_from_url, html_date, normalize_date
from assistant.schema import Document, Span

TEXT_SUFFIXES = {".txt", ".md", ".markdown"}
HTML_SUFFIXES = {".html", ".htm"}

_HEADER = re.compile(r"^(source|url|link|published|date)\s*:\s*(.*)$", re.IGNORECASE)
_SENTENCE_END = re.compile(r"[.!?:;\"'”’)\]]\s*$")
_HARD_WRAP_MIN = 60


class IngestError(Exception):
    """A file could not be turned into a document; the message says why."""


@dataclass
class LoadResult:
    """One input path and either its document or the reason it was rejected."""

    path: str
    document: Document | None = None
    error: str | None = None
    container: str | None = None  # the JSONL file a line came from


def content_id(title: str, body: str) -> str:
    """Stable document id: hash of the whitespace- and Unicode-normalised content."""
    norm = unicodedata.normalize("NFKC", f"{title}\n{body}")
    norm = " ".join(norm.split()).casefold()
    return hashlib.sha256(norm.encode("utf-8")).hexdigest()[:16]


_BOMS = (
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
# C0 and C1 control characters other than tab, newlines and form feed.
# Symbols that appear inside words only when another charset's letters (Polish ł, ą, ż in
# Windows-1250, say) are read as Windows-1252.
_MISREAD_LETTER = re.compile(r"[^\W\d_][¹²³¼½¾¿¡¥¦ª°º±µ¶§¨¬®¯´¸][^\W\d_]")
_LATIN_CHARSETS = ("cp1252", "cp1250")  # Western, then Central European
_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1f\x7f-\x9f]")


def decode_bytes(data: bytes, declared: str | None = None) -> str:
    """Decode text strictly (never dropping bytes): a byte-order mark, else the declared
    charset, else UTF-8, else UTF-16 without a BOM, else a detected legacy charset."""
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            try:
                return _reject_binary(data.decode(encoding))
            except UnicodeDecodeError:
                msg = f"not valid {encoding.upper()} text despite its byte-order mark"
                raise IngestError(msg) from None
    if declared:
        try:
            return _reject_binary(data.decode(declared))
        except (LookupError, UnicodeDecodeError):
            pass  # a wrong declaration is common; detect instead
    if b"\x00" in data:
        return _reject_binary(_bomless_utf16(data))
    try:
        return _reject_binary(data.decode("utf-8"))
    except UnicodeDecodeError:
        return _reject_binary(_decode_legacy(data))


def _bomless_utf16(data: bytes) -> str:
    """UTF-16 text without a BOM has a NUL in every other byte; anything else is binary."""
    evens, odds = data[0::2], data[1::2]
    for zeros, other, encoding in ((odds, evens, "utf-16-le"), (evens, odds, "utf-16-be")):
        if len(data) % 2 == 0 and zeros.count(0) >= 0.9 * len(zeros) and 0 not in other:
            try:
                return data.decode(encoding)
            except UnicodeDecodeError:
                break
    raise IngestError("binary data (NUL bytes), not a text file")


def _decode_legacy(data: bytes) -> str:
    """Windows-1252 (or -1250) when the text reads as Latin-script, else a detected charset.

    Such text is mostly ASCII letters with a few accented ones, and Windows-1252's printable
    range includes all of Latin-1. Statistical detectors misjudge short samples of it
    (French comes out as Baltic), so they only decide for other scripts.
    """
    for encoding in _LATIN_CHARSETS:
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        if _mostly_ascii_letters(text):
            return text
    from charset_normalizer import from_bytes

    best = from_bytes(data).best()
    if best is None:
        raise IngestError("could not detect the text encoding; save the file as UTF-8")
    return str(best)


def _mostly_ascii_letters(text: str) -> bool:
    if _MISREAD_LETTER.search(text):
        return False
    letters = sum(1 for c in text if c.isalpha())
    accented = sum(1 for c in text if c.isalpha() and ord(c) > 127)
    return accented <= 0.3 * letters


def _reject_binary(text: str) -> str:
    if len(_CONTROL.findall(text)) > 2 + len(text) // 100:
        raise IngestError("binary data (control characters), not a text file")
    return text


def split_paragraphs(text: str, start: int = 0) -> list[Span]:
    """Paragraph spans of ``text[start:]``: blocks split at blank lines, and at line
    breaks that end a sentence or a short heading (hard-wrapped prose stays joined)."""
    spans: list[Span] = []
    open_start: int | None = None
    open_end = 0
    prev_line = ""
    pos = start
    for line in text[start:].splitlines(keepends=True):
        stripped = line.strip()
        line_start, line_end = pos + len(line) - len(line.lstrip()), pos + len(line.rstrip())
        pos += len(line)
        joins = len(prev_line) >= _HARD_WRAP_MIN and not _SENTENCE_END.search(prev_line)
        if open_start is not None and (not stripped or not joins):
            spans.append(Span(open_start, open_end))
            open_start = None
        prev_line = stripped
        if stripped:
            open_start = line_start if open_start is None else open_start
            open_end = line_end
    if open_start is not None:
        spans.append(Span(open_start, open_end))
    return spans


def parse_text(text: str, source: str, markdown: bool = False) -> Document:
    """Parse a plain-text or Markdown article: title line, header lines, paragraphs.
    A text of one paragraph is a news brief (see ``parse_brief``)."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if not text.strip():
        raise IngestError("empty file: no text to index")
    if len(split_paragraphs(text)) == 1 and not (markdown or text.lstrip().startswith("#")):
        return parse_brief(text, source)
    lines = text.split("\n")
    idx, offset = _skip_blank(lines, 0, 0)
    title = lines[idx].strip()
    if markdown or title.startswith("#"):
        title = title.lstrip("#").strip()
    offset += len(lines[idx]) + 1
    meta, offset = _read_headers(lines, idx + 1, offset)
    body_start = min(offset, len(text))
    return build_document(text, title, source, body_start, meta)


_FIRST_SENTENCE = re.compile(r"(.+?[.!?])(?=\s+[\"“‘(]?[A-Z0-9]|\s*$)", re.DOTALL)
_TITLE_MAX = 150


def parse_brief(text: str, source: str) -> Document:
    """One paragraph is the whole article: its title is the first sentence when that is
    short enough to read as a headline, else the file name."""
    [paragraph] = split_paragraphs(text)
    body = text[paragraph.start : paragraph.end]
    match = _FIRST_SENTENCE.match(body)
    first = " ".join((match[1] if match else body).split()).rstrip(".")
    if len(first) > _TITLE_MAX:
        stem = re.split(r"[\\/]", source)[-1].rsplit(".", 1)[0]
        first = " ".join(re.sub(r"[_-]+", " ", stem).split()) or first[:_TITLE_MAX]
    return Document(
        doc_id=content_id(first, body),
        title=first[:300],
        text=text,
        source=source,
        paragraphs=[paragraph],
        body_start=paragraph.start,
    )


def _skip_blank(lines: list[str], idx: int, offset: int) -> tuple[int, int]:
    while idx < len(lines) and not lines[idx].strip():
        offset += len(lines[idx]) + 1
        idx += 1
    return idx, offset


def _read_headers(lines: list[str], idx: int, offset: int) -> tuple[dict[str, str], int]:
    """Read ``Source:``/``Published:`` lines right after the title."""
    meta: dict[str, str] = {}
    while idx < len(lines):
        blank_idx, blank_off = _skip_blank(lines, idx, offset)
        if blank_idx >= len(lines):
            break
        match = _HEADER.match(lines[blank_idx].strip())
        if not match or len(lines[blank_idx]) > 300:
            break
        key = "url" if match.group(1).lower() in {"source", "url", "link"} else "date"
        meta[key] = match.group(2).strip()
        idx, offset = blank_idx + 1, blank_off + len(lines[blank_idx]) + 1
    return meta, offset


def build_document(text: str, title: str, source: str, body_start: int, meta: dict) -> Document:
    """A document from its full text, with paragraphs found from ``body_start``."""
    paragraphs = split_paragraphs(text, body_start)
    if not paragraphs:
        raise IngestError("no article text after the title")
    body = text[paragraphs[0].start :]
    url = meta.get("url", "")
    return Document(
        doc_id=content_id(title, body),
        title=title[:300],
        text=text,
        source=source,
        date=normalize_date(meta.get("date")) or date_from_url(url),
        url=url,
        paragraphs=paragraphs,
        body_start=paragraphs[0].start,
        outlet=meta.get("outlet", ""),
    )


def parse_html(html: str, source: str) -> Document:
    """Extract the main text of an HTML page, with its title, date and canonical URL."""
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(html, "html.parser")
    title = _html_title(soup)
    meta = {
        "date": _html_meta(
            soup, "article:published_time", "date", "pubdate", "publish-date", "dc.date"
        ),
        "url": _html_canonical(soup),
        "outlet": _html_meta(soup, "og:site_name", "application-name", with_time=False),
    }
    if not normalize_date(meta["date"]):
        meta["date"] = html_date(html, meta["url"])
    body = _html_main_text(html, soup)
    if not body.strip():
        raise IngestError("no readable text in the HTML (only markup or scripts)")
    title = title or body.strip().split("\n", 1)[0][:200]
    text = f"{title}\n\n{body.strip()}\n"
    return build_document(text, title, source, len(title) + 2, {k: v for k, v in meta.items() if v})


def _html_title(soup) -> str:
    for attrs in ({"property": "og:title"}, {"name": "twitter:title"}):
        tag = soup.find("meta", attrs=attrs)
        if tag and tag.get("content", "").strip():
            return tag["content"].strip()
    if soup.title and soup.title.get_text(strip=True):
        return soup.title.get_text(strip=True)
    h1 = soup.find("h1")
    return h1.get_text(" ", strip=True) if h1 else ""


def _html_meta(soup, *names: str, with_time: bool = True) -> str:
    for name in names:
        tag = soup.find("meta", attrs={"property": name}) or soup.find("meta", attrs={"name": name})
        if tag and tag.get("content", "").strip():
            return tag["content"].strip()
    if not with_time:
        return ""
    time_tag = soup.find("time", attrs={"datetime": True})
    return time_tag["datetime"].strip() if time_tag else ""


def _html_canonical(soup) -> str:
    link = soup.find("link", attrs={"rel": "canonical"})
    if link and link.get("href"):
        return link["href"].strip()
    tag = soup.find("meta", attrs={"property": "og:url"})
    return tag["content"].strip() if tag and tag.get("content") else ""


def _html_main_text(html: str, soup) -> str:
    """Main text via trafilatura (drops navigation and boilerplate), else block elements."""
    try:
        import trafilatura

        extracted = trafilatura.extract(
            html, include_comments=False, include_tables=False, favor_recall=True
        )
    except Exception:  # trafilatura is a best-effort extractor; fall back below
        extracted = None
    if extracted and extracted.strip():
        return "\n\n".join(p.strip() for p in extracted.split("\n") if p.strip())
    for tag in soup(["script", "style", "nav", "header", "footer", "aside", "form", "noscript"]):
        tag.decompose()
    blocks = soup.find_all(["p", "h2", "h3", "h4", "li", "blockquote", "pre"])
    texts = [b.get_text(" ", strip=True) for b in blocks]
    return "\n\n".join(t for t in texts if t)
