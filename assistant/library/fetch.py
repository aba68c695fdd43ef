"""Fetch articles from http(s) URLs with a timeout and a size cap.

The body is read in 64 KiB blocks and reading stops at the first block past the cap, so a
huge or endless response never fills memory; a total deadline stops servers that drip bytes.
The connection itself is ``netguard``'s: every hop resolved, vetted and pinned before it
connects.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterable
from dataclasses import dataclass
from email.message import Message
from urllib.parse import urlparse

import httpx

from assistant.library.formats import SUPPORTED_SUFFIXES
from assistant.library.ingest import IngestError
from assistant.library.netguard import BadRedirect, BadURL, BlockedAddress, open_url

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
    304). Without ``allow_private``, hosts that resolve to loopback and private addresses
    are refused before any connection (``netguard``)."""
    check_url(url)
    sent = {"User-Agent": _USER_AGENT, "Accept-Encoding": "identity", **(headers or {})}
    try:
        with open_url(url, sent, timeout_s, allow_private) as response:
            return _take(url, response, max_bytes, timeout_s)
    except (BlockedAddress, BadRedirect, BadURL) as exc:
        raise IngestError(str(exc)) from None
    except httpx.ConnectTimeout:
        raise IngestError(f"could not reach {urlparse(url).netloc}: timed out") from None
    except httpx.TimeoutException:
        raise IngestError(f"no answer within {timeout_s:g} s") from None
    except (httpx.ConnectError, socket.gaierror) as exc:
        raise IngestError(f"could not reach {urlparse(url).netloc}: {_reason(exc)}") from None
    except (httpx.HTTPError, httpx.InvalidURL, OSError) as exc:
        raise IngestError(f"download failed: {exc}") from None


def _take(url: str, response: httpx.Response, max_bytes: int, timeout_s: float) -> Fetched:
    """The body of a final (non-redirect) response, or the error its status means."""
    headers = _message(response.headers)
    if response.status_code == 304:
        return Fetched(b"", "", None, status=304, headers=headers)
    if not 200 <= response.status_code < 300:
        code, reason = response.status_code, response.reason_phrase
        raise IngestError(f"the server answered HTTP {code} {reason}")
    _check_length(headers, max_bytes)
    chunks = response.iter_raw(_BLOCK)
    data = read_capped(chunks, max_bytes, time.monotonic() + timeout_s)
    return Fetched(data, _suffix(url, headers), headers.get_content_charset(), headers=headers)


def _message(headers: httpx.Headers) -> Message:
    """httpx's headers as the ``email.message.Message`` that ``Fetched`` carries."""
    message = Message()
    for name, value in headers.multi_items():
        message[name] = value
    return message


def _check_length(headers: Message, max_bytes: int) -> None:
    length = headers.get("Content-Length")
    if length and length.isdigit() and int(length) > max_bytes:
        raise IngestError(f"the response is {int(length):,} bytes, over the {max_bytes:,}-byte cap")


def read_capped(chunks: Iterable[bytes], max_bytes: int, deadline: float) -> bytes:
    """Join ``chunks`` up to ``max_bytes``; one byte more is an error and stops reading, and
    so does passing ``deadline`` (a ``time.monotonic()`` value)."""
    parts: list[bytes] = []
    total = 0
    for block in chunks:
        parts.append(block)
        total += len(block)
        if total > max_bytes:
            raise IngestError(f"the response is over the {max_bytes:,}-byte cap; stopped reading")
        if time.monotonic() > deadline:
            raise IngestError("the download took too long; stopped reading")
    return b"".join(parts)


def _reason(exc: BaseException) -> str:
    """What went wrong underneath httpx's error: the first OSError among its causes."""
    while not isinstance(exc, OSError) and (exc.__cause__ or exc.__context__):
        exc = exc.__cause__ or exc.__context__
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    return str(getattr(exc, "strerror", None) or exc)


def _suffix(url: str, headers: Message) -> str:
    """How to parse the body: by content type, else by the URL's suffix, else as HTML."""
    content_type = headers.get_content_type() if headers.get("Content-Type") else ""
    if content_type in _TYPES:
        return _TYPES[content_type]
    path = urlparse(url).path.lower()
    return next((s for s in SUPPORTED_SUFFIXES if path.endswith(s)), ".html")
