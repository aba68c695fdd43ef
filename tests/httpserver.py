"""A local HTTP server on 127.0.0.1 (in a thread) serving the pages the URL tests need."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ARTICLE_HTML = """<!doctype html><html><head><title>Harbour bridge reopens</title>
<meta property="article:published_time" content="2024-05-02">
<script>window.track = function () { return "tracking"; };</script></head><body>
<nav><a href="/">Home</a> | <a href="/world">World</a> | <a href="/sport">Sport</a></nav>
<article><h1>Harbour bridge reopens</h1>
<p>The harbour bridge reopened to traffic on Thursday after eight months of repairs.</p>
<p>Engineers replaced forty steel cables, and the city said tolls would stay unchanged.</p>
</article><footer>Copyright 2024 Harbour Times. All rights reserved.</footer></body></html>
"""
BIG_BYTES = 50 * 1024 * 1024
_BLOCK = b"a" * 65536


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"  # bodies end when the connection closes

    def log_message(self, *args) -> None:  # keep test output clean
        pass

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        route = {
            "/article.html": self._article,
            "/huge": self._huge,
            "/huge-declared": self._huge,
            "/slow": self._slow,
        }.get(self.path)
        if route is None:
            self.send_error(404, "Not Found")
        else:
            route()

    def _article(self) -> None:
        body = ARTICLE_HTML.encode("utf-8")
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _huge(self) -> None:
        """50 MB of text; ``/huge`` sends no length, so only a streaming cap stops it."""
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        if self.path == "/huge-declared":
            self.send_header("Content-Length", str(BIG_BYTES))
        self.end_headers()
        try:
            for _ in range(BIG_BYTES // len(_BLOCK)):
                self.wfile.write(_BLOCK)
                self.server.huge_sent += len(_BLOCK)
        except OSError:
            pass  # the client hung up, as it should

    def _slow(self) -> None:
        time.sleep(3)
        with contextlib.suppress(OSError):  # the client gave up waiting, as it should
            self._article()


@contextmanager
def serve():
    """Yields the server's base URL; ``server.huge_sent`` counts bytes of /huge sent."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    server.huge_sent = 0
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", server
    finally:
        server.shutdown()
        server.server_close()


def closed_port_url() -> str:
    """A URL on a local port nobody listens on (connection refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/article.html"
