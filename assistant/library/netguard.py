"""No proxy into the server's own network: fetches that refuse private addresses.

A web app that fetches URLs for its visitors (feeds added in the Library tab) would
otherwise let anyone reach the machine's loopback services, the local network or a cloud
metadata endpoint. The check runs on the address a connection actually reached, after DNS
and for every redirect, so neither a host name that resolves to ``127.0.0.1`` nor a
redirect to one gets through. Redirects to other schemes than http(s) are refused always.
"""

from __future__ import annotations

import http.client
import ipaddress
import urllib.request
from urllib.parse import urlparse

ALLOW_SETTING = "ASSISTANT_ALLOW_PRIVATE_URLS"


class BlockedAddress(OSError):
    """A connection reached an address this process must not fetch from."""


class BadRedirect(OSError):
    """A redirect pointed at a scheme other than http(s)."""


def address_problem(ip: str) -> str | None:
    """Why ``ip`` is off limits to a public server ("loopback", "private", ...), or None."""
    addr = ipaddress.ip_address(ip.split("%", 1)[0])
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped:
        addr = addr.ipv4_mapped
    for kind in ("loopback", "link_local", "private", "multicast", "reserved", "unspecified"):
        if getattr(addr, f"is_{kind}"):
            return kind.replace("_", "-")
    return None


def _guarded(create):
    """``socket.create_connection`` that refuses a connection to a private address."""

    def connect(address, *args, **kwargs):
        sock = create(address, *args, **kwargs)
        peer = sock.getpeername()[0]
        problem = address_problem(peer)
        if problem:
            sock.close()
            raise BlockedAddress(
                f"refused: {address[0]} is a {problem} address ({peer}); this server does not "
                f"fetch from its own network (set {ALLOW_SETTING}=true to allow it)"
            )
        return sock

    return connect


class _GuardedHTTP(http.client.HTTPConnection):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._create_connection = _guarded(self._create_connection)


class _GuardedHTTPS(http.client.HTTPSConnection):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._create_connection = _guarded(self._create_connection)


class _GuardedHTTPHandler(urllib.request.HTTPHandler):
    def http_open(self, req):
        return self.do_open(_GuardedHTTP, req)


class _GuardedHTTPSHandler(urllib.request.HTTPSHandler):
    def https_open(self, req):
        return self.do_open(_GuardedHTTPS, req, context=self._context)


class _HttpOnlyRedirects(urllib.request.HTTPRedirectHandler):
    """Follows redirects to http(s) URLs only (urllib alone would follow ftp too)."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        scheme = urlparse(newurl).scheme.lower()
        if scheme not in {"http", "https"}:
            raise BadRedirect(
                f"the server redirected to a {scheme or 'relative'}: URL; only http(s) is fetched"
            )
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def opener(allow_private: bool) -> urllib.request.OpenerDirector:
    """A urllib opener whose redirects stay on http(s); with ``allow_private`` False its
    connections also refuse loopback, private, link-local and reserved addresses."""
    handlers: list = [_HttpOnlyRedirects()]
    if not allow_private:
        handlers += [_GuardedHTTPHandler(), _GuardedHTTPSHandler()]
    return urllib.request.build_opener(*handlers)
