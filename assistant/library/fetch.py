"""Fetch articles from http(s) URLs with a timeout and a size cap.

The body is read in small blocks and reading stops one byte past the cap, so a huge or
endless response never fills memory; a total deadline stops servers that drip bytes.
"""

from __future__ import annotations

import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from email.message import Message
from typing import BinaryIO
from urllib.parse import urlparse

from assistant.library.formats import SUPPORTED_SUFFIXES
from assistant.library.ingest import IngestError
from assistant.library.netguard import BadRedirect, BlockedAddress, opener

_BLOCK = 64 * 1024
_USER_AGENT = "news-assistant/0.1 (+offline article indexer)"
_TYPES = {
    "text/html": ".html",
    "application/xhtml+xml": ".html",
    "application/pdf": ".pdf",
    "text/plain": ".txt",
    "text/markdown": ".md",
    "application/jsonl": ".jsonl",
    "application/x-ndjson": ".jsonl",
}


@dataclass
class Fetched:
    """A downloaded body, with the suffix that says how to parse it (``status`` 304 and no
    body when a conditional request found it unchanged)."""

    data: bytes
    suffix: str
    charset: str | None
    status: int = 200
    headers: Message | None = None


def outlet_of(url: str) -> str:
    """The host of a URL without ``www.``: the outlet when the page names none."""
    host = urlparse(url or "").hostname or ""
    return host.removeprefix("www.")


def is_url(text: str) -> bool:
    return text.lower().startswith(("http://", "https://"))


def check_url(url: str) -> None:
    """Only absolute http(s) URLs with a host are fetched (never ``file://``)."""
    try:
        parsed = urlparse(url)
        host = parsed.hostname
    except ValueError:
        raise IngestError("not a valid http(s) URL") from None
    scheme = parsed.scheme.lower()
    if scheme and scheme not in {"http", "https"}:
        raise IngestError(f"not a valid http(s) URL: {scheme}: URLs are not fetched")
    if scheme not in {"http", "https"} or not host:
        raise IngestError("not a valid http(s) URL")


def fetch(
    url: str,
    max_bytes: int,
    timeout_s: float,
    headers: dict[str, str] | None = None,
    allow_private: bool = True,
) -> Fetched:
    """Download ``url``; HTTP errors, timeouts and oversize bodies are clear errors.
    ``headers`` are sent too (``If-None-Match`` ...; a 304 answer comes back as status
    304). Without ``allow_private``, loopback and private addresses are refused
    (``netguard``)."""
    check_url(url)
    request = urllib.request.Request(url, headers={"User-Agent": _USER_AGENT, **(headers or {})})
    try:
        with opener(allow_private).open(request, timeout=timeout_s) as response:
            _check_length(response.headers, max_bytes)
            data = read_capped(response, max_bytes, time.monotonic() + timeout_s)
            headers = response.headers
    except urllib.error.HTTPError as exc:
        if exc.code == 304:
            return Fetched(b"", "", None, status=304, headers=exc.headers)
        raise IngestError(_http_error(exc)) from None
    except urllib.error.URLError as exc:
        if isinstance(exc.reason, BlockedAddress | BadRedirect):
            raise IngestError(str(exc.reason)) from None
        raise IngestError(f"could not reach {urlparse(url).netloc}: {_reason(exc)}") from None
    except (BlockedAddress, BadRedirect) as exc:
        raise IngestError(str(exc)) from None
    except TimeoutError:
        raise IngestError(f"no answer within {timeout_s:g} s") from None
    except OSError as exc:
        raise IngestError(f"download failed: {exc}") from None
    return Fetched(data, _suffix(url, headers), headers.get_content_charset(), headers=headers)


def _http_error(exc: urllib.error.HTTPError) -> str:
    if 300 <= exc.code < 400 and "not allowed" in str(exc.reason):  # file:// and the like
        return "the server redirected to a URL that is not http(s); not followed"
    if 300 <= exc.code < 400:  # urllib gives up after 10 redirects or a repeated one
        return f"too many redirects (HTTP {exc.code}: a redirect loop?); stopped following"
    return f"the server answered HTTP {exc.code} {exc.reason}"


def _check_length(headers: Message, max_bytes: int) -> None:
    length = headers.get("Content-Length")
    if length and length.isdigit() and int(length) > max_bytes:
        raise IngestError(f"the response is {int(length):,} bytes, over the {max_bytes:,}-byte cap")


def read_capped(stream: BinaryIO, max_bytes: int, deadline: float) -> bytes:
    """Read at most ``max_bytes + 1`` bytes; more than ``max_bytes`` is an error."""
    parts: list[bytes] = []
    total = 0
    while True:
        block = stream.read(min(_BLOCK, max_bytes + 1 - total))
        if not block:
            return b"".join(parts)
        parts.append(block)
        total += len(block)
        if total > max_bytes:
            raise IngestError(f"the response is over the {max_bytes:,}-byte cap; stopped reading")
        if time.monotonic() > deadline:
            raise IngestError("the download took too long; stopped reading")


def _reason(exc: urllib.error.URLError) -> str:
    reason = exc.reason
    if isinstance(reason, ConnectionRefusedError):
        return "connection refused"
    if isinstance(reason, TimeoutError):
        return "timed out"
    return str(getattr(reason, "strerror", None) or reason)


def _suffix(url: str, headers: Message) -> str:
    """How to parse the body: by content type, else by the URL's suffix, else as HTML."""
    content_type = headers.get_content_type() if headers.get("Content-Type") else ""
    if content_type in _TYPES:
        return _TYPES[content_type]
    path = urlparse(url).path.lower()
    return next((s for s in SUPPORTED_SUFFIXES if path.endswith(s)), ".html")
