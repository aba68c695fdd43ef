"""The file formats: which parser reads which suffix, and the PDF and JSONL parsers.

``PARSERS`` is the registry of single-article formats (plain text and Markdown, HTML and
PDF; the text and HTML parsers live in ``ingest``); a ``.jsonl`` file is a collection of
articles, read by ``parse_jsonl``.

A PDF's document text is its title, a blank line and the text of its pages. Each line of a
``.jsonl`` file is one article ``{"title", "url", "date", "text"}``; a bad line is an error
for that line only.
"""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Callable, Iterator

from assistant.library.ingest import (
    HTML_SUFFIXES,
    TEXT_SUFFIXES,
    IngestError,
    LoadResult,
    build_document,
    decode_bytes,
    parse_html,
    parse_text,
)
from assistant.schema import Document

PDF_SUFFIX = ".pdf"
JSONL_SUFFIX = ".jsonl"
# a parser reads (bytes, source, declared charset) into one document
Parser = Callable[[bytes, str, "str | None"], Document]


def parse_pdf(data: bytes, source: str) -> Document:
    """Extract the text of a PDF; broken, encrypted and image-only PDFs are clear errors."""
    from pypdf import PdfReader

    # pypdf logs every defect it works around; the error below is what the user needs.
    logging.getLogger("pypdf").setLevel(logging.ERROR)
    try:
        reader = PdfReader(io.BytesIO(data))
        _decrypt_or_fail(reader)
        pages = [page.extract_text() or "" for page in reader.pages]
        info = reader.metadata
    except IngestError:
        raise
    except Exception as exc:  # pypdf raises many exception types on damaged files
        raise IngestError(f"broken PDF, cannot be read: {exc}") from None
    body = "\n\n".join(p.strip() for p in pages if p.strip())
    if not body:
        raise IngestError("the PDF has no extractable text (scanned images?)")
    title = _pdf_title(info)
    # The metadata title heads the text unless the first page already starts with it.
    text = f"{title}\n\n{body}\n" if title and not body.startswith(title) else body + "\n"
    doc = parse_text(text, source)
    doc.date = doc.date or _pdf_date(info)
    return doc


def _decrypt_or_fail(reader) -> None:
    """Open PDFs that are encrypted without a password; refuse password-protected ones."""
    if not reader.is_encrypted:
        return
    try:
        opened = reader.decrypt("")
    except Exception:  # e.g. AES without a crypto library: still cannot be opened
        opened = 0
    if not opened:
        raise IngestError("the PDF is encrypted (password protected); decrypt it first")


def _pdf_title(info) -> str:
    title = getattr(info, "title", None) if info else None
    return " ".join(str(title).split()) if title else ""


def _pdf_date(info) -> str:
    try:
        created = info.creation_date if info else None
    except Exception:  # a malformed date field is not worth failing the file
        return ""
    return created.date().isoformat() if created else ""


def parse_jsonl(text: str, source: str) -> Iterator[LoadResult]:
    """One result per non-blank line; each line is recorded as ``SOURCE#L<number>``."""
    any_line = False
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        any_line = True
        line_source = f"{source}#L{number}"
        try:
            doc = jsonl_article(line, line_source)
        except IngestError as exc:
            yield LoadResult(line_source, error=str(exc), container=source)
        else:
            yield LoadResult(line_source, document=doc, container=source)
    if not any_line:
        raise IngestError("empty file: no articles (one JSON object per line expected)")


def jsonl_article(line: str, source: str) -> Document:
    """One ``{"title", "url", "date", "text"}`` object as a document."""
    try:
        obj = json.loads(line)
    except ValueError as exc:
        raise IngestError(f"not valid JSON: {exc}") from None
    if not isinstance(obj, dict):
        raise IngestError('expected a JSON object {"title", "url", "date", "text"}')
    for key in ("title", "url", "date", "text"):
        if not isinstance(obj.get(key, ""), str):
            raise IngestError(f'"{key}" must be a string')
    body = obj.get("text", "").replace("\r\n", "\n").replace("\r", "\n").strip()
    if not body:
        raise IngestError('"text" is missing or empty')
    title = " ".join(obj.get("title", "").split()) or body.split("\n", 1)[0][:200]
    meta = {"url": obj.get("url", "").strip(), "date": obj.get("date", "").strip()}
    text = f"{title}\n\n{body}\n"
    return build_document(text, title, source, len(title) + 2, {k: v for k, v in meta.items() if v})


def _text_parser(markdown: bool) -> Parser:
    return lambda data, source, charset: parse_text(
        decode_bytes(data, charset), source, markdown=markdown
    )


def _html_parser(data: bytes, source: str, charset: str | None) -> Document:
    return parse_html(decode_bytes(data, charset), source)


PARSERS: dict[str, Parser] = {
    ".txt": _text_parser(markdown=False),
    **{suffix: _text_parser(markdown=True) for suffix in TEXT_SUFFIXES - {".txt"}},
    **dict.fromkeys(HTML_SUFFIXES, _html_parser),
    PDF_SUFFIX: lambda data, source, charset: parse_pdf(data, source),
}
SUPPORTED_SUFFIXES = frozenset(PARSERS) | {JSONL_SUFFIX}


def parse_bytes(data: bytes, source: str, suffix: str, charset: str | None = None) -> Document:
    """Parse raw bytes of one article by its suffix (``.jsonl`` is ``parse_jsonl``'s);
    an unknown suffix is read as plain text."""
    parser = PARSERS.get(suffix, PARSERS[".txt"])
    return parser(data, source, charset)
