"""Hardening for the web app: login, request guards and response headers.

``ASSISTANT_AUTH`` is either ``user:password`` (several separated by commas) or the path of a
file with one ``user:password`` per line (``#`` comments allowed). Passwords are compared in
constant time and never logged.

``RequestGuard`` is a small ASGI middleware in front of Gradio. It refuses what this app
never needs: Gradio's remote-URL proxy on the file route, request bodies over a cap, the
upload route in read-only mode, and event payloads naming a file that was not uploaded
through the upload route (Gradio refuses those too, later; this is a second, simpler
line). It also adds headers that keep the page from loading images or frames from other
hosts, even if some markup slipped through the escaping.
"""

from __future__ import annotations

import hmac
import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import unquote

from assistant.config import SettingsError

LOOPBACK = {"127.0.0.1", "localhost", "::1"}
CONTENT_SECURITY_POLICY = (
    "img-src 'self' data: blob:; media-src 'self' data: blob:; object-src 'none'; "
    "frame-src 'self'; frame-ancestors 'self'; base-uri 'self'; form-action 'self'"
)
SECURITY_HEADERS = [
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
]
NON_UPLOAD_BODY_CAP = 4 * 1024 * 1024  # chat history and questions; uploads use their own cap


def parse_users(value: str) -> dict[str, str]:
    """Users from ``user:password[,user:password]`` or from a file of such lines."""
    path = Path(value).expanduser()
    if path.is_file():
        lines = path.read_text(encoding="utf-8").splitlines()
        entries = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    elif ":" in value:
        entries = [e.strip() for e in value.split(",") if e.strip()]
    else:
        raise SettingsError("ASSISTANT_AUTH must be user:password or a readable users file")
    users: dict[str, str] = {}
    for number, entry in enumerate(entries, start=1):
        user, sep, password = entry.partition(":")
        if not sep or not user.strip() or not password:
            raise SettingsError(f"ASSISTANT_AUTH entry {number} is not user:password")
        users[user.strip()] = password
    if not users:
        raise SettingsError("ASSISTANT_AUTH names no users")
    return users


def make_auth(users: dict[str, str]) -> Callable[[str, str], bool]:
    """A Gradio auth callback checking ``users`` in constant time."""

    def check(username: str, password: str) -> bool:
        expected = users.get(username or "")
        given = (password or "").encode()
        if expected is None:
            hmac.compare_digest(given, given)  # same work whether or not the user exists
            return False
        return hmac.compare_digest(given, expected.encode())

    return check


def deployment_warnings(host: str, has_auth: bool, read_only: bool) -> list[str]:
    """What an operator should hear about before exposing the app."""
    if host in LOOPBACK or has_auth:
        return []
    warning = f"serving on {host} without a login (set ASSISTANT_AUTH=user:password)"
    if not read_only:
        warning += "; anyone who can reach it can add and remove articles (or use --read-only)"
    return [warning]


def _is_remote_file_request(path: str) -> bool:
    """``/gradio_api/file=http://...``: Gradio would fetch that URL for the caller."""
    lowered = unquote(unquote(path)).lower()
    marker = lowered.find("/file=")
    if marker < 0:
        return False
    target = lowered[marker + len("/file=") :].lstrip()
    return target.startswith(("http:", "https:", "//", "\\\\", "ftp:", "file:"))


class RequestGuard:
    """ASGI middleware: refuse unneeded routes, oversize bodies and file payloads from
    outside ``upload_dir``; add safety headers to every response."""

    def __init__(
        self,
        app,
        upload_dir: str | Path,
        read_only: bool = False,
        body_cap: int = NON_UPLOAD_BODY_CAP,
    ):
        self.app = app
        self.upload_dir = os.path.realpath(upload_dir)
        self.read_only = read_only
        self.body_cap = body_cap

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        is_upload = path.lower().rstrip("/").endswith("/upload")
        if _is_remote_file_request(path):
            await _refuse(send, 403, "remote files are not served")
            return
        if is_upload and self.read_only:
            await _refuse(send, 403, "this library is read-only")
            return
        if is_upload:
            await self.app(scope, receive, _with_headers(send))
            return
        if _declared_length(scope) > self.body_cap:
            await _refuse(send, 413, "request too large")
            return
        if scope.get("method") != "POST":
            await self.app(scope, _capped(receive, self.body_cap), _with_headers(send))
            return
        body = await _read_body(receive, self.body_cap)
        if body is None:
            await _refuse(send, 413, "request too large")
            return
        if not self._files_were_uploaded(body):
            await _refuse(send, 403, "files must be sent through the upload route")
            return
        await self.app(scope, _replay(body, receive), _with_headers(send))

    def _files_were_uploaded(self, body: bytes) -> bool:
        """Every ``{"path": ...}`` in a JSON body lies inside the upload folder."""
        if b'"path"' not in body:
            return True
        try:
            payload = json.loads(body)
        except ValueError:
            return True  # not JSON: Gradio rejects it on its own
        for value in _file_paths(payload):
            if not isinstance(value, str):
                return False
            real = os.path.realpath(value)
            if os.path.commonpath([real, self.upload_dir]) != self.upload_dir:
                return False
        return True


def _file_paths(payload) -> Iterator:
    """The ``path`` values of every file object inside a JSON payload."""
    if isinstance(payload, dict):
        if "path" in payload:
            yield payload["path"]
        for value in payload.values():
            yield from _file_paths(value)
    elif isinstance(payload, list):
        for value in payload:
            yield from _file_paths(value)


async def _read_body(receive, cap: int) -> bytes | None:
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > cap:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _replay(body: bytes, receive):
    sent = False

    async def wrapped():
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return wrapped


class BodyTooLarge(Exception):
    """A streamed request body went over the cap (no Content-Length was declared)."""


def _capped(receive, cap: int):
    seen = 0

    async def wrapped():
        nonlocal seen
        message = await receive()
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if seen > cap:
                raise BodyTooLarge(f"request body over {cap} bytes")
        return message

    return wrapped


def _declared_length(scope) -> int:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return 1 << 62
    return 0


def _with_headers(send):
    async def wrapped(message):
        if message["type"] == "http.response.start":
            existing = {name.lower() for name, _ in message.get("headers", [])}
            extra = [(n, v) for n, v in SECURITY_HEADERS if n not in existing]
            message = {**message, "headers": [*message.get("headers", []), *extra]}
        await send(message)

    return wrapped


async def _refuse(send, status: int, reason: str) -> None:
    body = json.dumps({"detail": reason}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                *SECURITY_HEADERS,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
