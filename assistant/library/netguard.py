"""No proxy into the server's own network: fetches that refuse private addresses.

A web app that fetches URLs for its visitors (feeds added in the Library tab) would
otherwise let anyone reach the machine's loopback services, the local network or a cloud
metadata endpoint. So every hop of a fetch, the URL and each redirect alike, goes through
the same steps before any byte leaves the machine:

1. only http(s) URLs are taken;
2. the host is resolved once, with ``socket.getaddrinfo``, IP literals too: ``2130706433``,
   ``0177.0.0.1`` and ``127.1`` are judged by the address the resolver makes of them, not
   by how the string looks;
3. every address it resolves to is vetted (``address_problem``); one off-limits answer
   refuses the hop;
4. the connection goes to one vetted address, pinned: httpx is given the IP, not the name,
   so nothing resolves the name again between the check and the connect (a DNS answer that
   changes in between, "DNS rebinding", cannot slip in), while the Host header and TLS (SNI
   and the certificate check) keep the original host name.

The check comes before the connection on purpose. A guard that connects first and looks at
the peer afterwards has already knocked on the port, and its two answers ("connection
refused" from a closed port, "refused: loopback" from an open one) tell a visitor which of
the server's local ports are open. Here a refused URL opens no connection, and its message
depends only on what the name resolves to.

Redirects are followed by hand, at most ``MAX_REDIRECTS``, each vetted and pinned as above;
a redirect to a scheme other than http(s) is refused always. ``allow_private`` (the
``ASSISTANT_ALLOW_PRIVATE_URLS`` setting) skips step 3 only.
"""

from __future__ import annotations

import functools
import ipaddress
import socket
import ssl
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from http.cookiejar import CookieJar, DefaultCookiePolicy
from urllib.parse import urljoin, urlsplit

import httpx

ALLOW_SETTING = "ASSISTANT_ALLOW_PRIVATE_URLS"
MAX_REDIRECTS = 5
NOT_HTTP_REDIRECT = "the server redirected to a URL that is not http(s); not followed"
_REDIRECTS = {301, 302, 303, 307, 308}
_DEFAULT_PORTS = {"http": 80, "https": 443}

Vet = Callable[[str, list[str]], None]
"""Judges a host and every address it resolves to; raises ``BlockedAddress`` to refuse."""


class BlockedAddress(OSError):
    """A URL's host resolves to an address this process must not fetch from."""


class BadRedirect(OSError):
    """A redirect to a non-http(s) or broken URL, or one redirect too many."""


class BadURL(ValueError):
    """Not an absolute http(s) URL with a host."""


def address_problem(ip: str) -> str | None:
    """Why ``ip`` is off limits to a public server ("loopback", "private", ...), or None."""
    addr = ipaddress.ip_address(ip.split("%", 1)[0])
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped:
        addr = addr.ipv4_mapped
    for kind in ("loopback", "link_local", "private", "multicast", "reserved", "unspecified"):
        if getattr(addr, f"is_{kind}"):
            return kind.replace("_", "-")
    return None


def refuse_private(host: str, ips: list[str]) -> None:
    """The public server's vet: refuses ``host`` when any address it resolves to is off
    limits. The message names only the host and the address, never anything a connection
    would have learnt."""
    for ip in ips:
        problem = address_problem(ip)
        if problem:
            raise BlockedAddress(
                f"refused: {host} resolves to a {problem} address ({ip}); this server does not "
                f"fetch from its own network (set {ALLOW_SETTING}=true to allow it)"
            )


def allow_any(host: str, ips: list[str]) -> None:
    """The vet with ``allow_private``: every address may be fetched."""


def resolve(host: str, port: int) -> list[str]:
    """Every IPv4 and IPv6 address ``host`` stands for, in the resolver's order (IP literals
    in any form the C library reads, ``127.1`` included); ``socket.gaierror`` if none."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    families = (socket.AF_INET, socket.AF_INET6)
    ips = list(dict.fromkeys(str(info[4][0]) for info in infos if info[0] in families))
    if not ips:
        raise socket.gaierror(socket.EAI_NONAME, "no IPv4 or IPv6 address")
    return ips


@dataclass(frozen=True)
class Pinned:
    """A vetted URL bound to one address: the request connects to ``ip``, while the Host
    header and TLS (SNI, certificate check) use ``host``."""

    url: str
    scheme: str
    host: str
    port: int
    path: str  # with the query
    host_header: str
    ip: str

    def request_url(self) -> str:
        """The URL with the pinned IP in place of the host name."""
        ip = f"[{self.ip}]" if ":" in self.ip else self.ip
        return f"{self.scheme}://{ip}:{self.port}{self.path}"


def pin(url: str, vet: Vet) -> Pinned:
    """Parse ``url`` (http/https only, else ``BadURL``), resolve its host, ``vet`` every
    address and pin the first one. Opens no connection."""
    scheme, host, port, path, host_header = _split(url)
    ips = resolve(host, port)
    vet(host, ips)
    return Pinned(url, scheme, host, port, path, host_header, ips[0])


def _split(url: str) -> tuple[str, str, int, str, str]:
    """Scheme, ASCII host, port, path with query, and Host header of an http(s) URL."""
    try:
        parts = urlsplit(url)
        scheme, port = parts.scheme.lower(), parts.port
        host = (parts.hostname or "").encode("idna").decode("ascii")
    except (ValueError, UnicodeError):
        raise BadURL("not a valid http(s) URL") from None
    if scheme not in _DEFAULT_PORTS or not host:
        raise BadURL("not a valid http(s) URL")
    port = _DEFAULT_PORTS[scheme] if port is None else port
    named = f"[{host}]" if ":" in host else host
    host_header = named if port == _DEFAULT_PORTS[scheme] else f"{named}:{port}"
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return scheme, host, port, path, host_header


def next_hop(current: str, location: str, vet: Vet) -> Pinned:
    """Where a redirect from ``current`` to ``location`` leads, vetted and pinned exactly
    like the first URL; ``BadRedirect`` unless it is an http(s) URL."""
    target = urljoin(current, location)
    try:
        if urlsplit(target).scheme.lower() not in _DEFAULT_PORTS:
            raise BadRedirect(NOT_HTTP_REDIRECT)
        return pin(target, vet)
    except ValueError:  # BadURL too
        raise BadRedirect("the server redirected to an invalid URL; not followed") from None


def send(client: httpx.Client, pinned: Pinned, headers: Mapping[str, str]) -> httpx.Response:
    """GET ``pinned`` over ``client``: connected to its IP, naming its host; the body is
    left to stream. Redirects are not followed."""
    request = client.build_request(
        "GET",
        pinned.request_url(),
        headers={**headers, "Host": pinned.host_header},
        extensions={"sni_hostname": pinned.host},
    )
    return client.send(request, stream=True, follow_redirects=False)


@contextmanager
def open_url(
    url: str,
    headers: Mapping[str, str],
    timeout_s: float,
    allow_private: bool = False,
    *,
    vet: Vet | None = None,
    verify: ssl.SSLContext | None = None,
) -> Iterator[httpx.Response]:
    """GET ``url``, following up to ``MAX_REDIRECTS`` redirects, every hop vetted (unless
    ``allow_private``) and pinned before it connects; yields the last response with its body
    unread (``iter_raw``). ``vet`` replaces the address check, ``verify`` the system's
    certificate store (both for tests). Raises ``BadURL``, ``BlockedAddress``,
    ``BadRedirect``, ``socket.gaierror`` or httpx's errors."""
    vet = vet or (allow_any if allow_private else refuse_private)
    with _client(timeout_s, verify) as client:
        response = _follow(client, url, headers, vet)
        try:
            yield response
        finally:
            response.close()


def _follow(client: httpx.Client, url: str, headers: Mapping[str, str], vet: Vet):
    pinned = pin(url, vet)
    for hop in range(MAX_REDIRECTS + 1):
        response = send(client, pinned, headers)
        location = response.headers.get("Location")
        if response.status_code not in _REDIRECTS or not location:
            return response
        response.close()
        if hop == MAX_REDIRECTS:
            break
        pinned = next_hop(pinned.url, location, vet)
    code = response.status_code
    raise BadRedirect(f"too many redirects (HTTP {code}: a redirect loop?); stopped following")


def _client(timeout_s: float, verify: ssl.SSLContext | None) -> httpx.Client:
    """No proxy from the environment (it would connect elsewhere than the pinned address), no
    cookies carried from one hop to the next, the system's certificates (as urllib had)."""
    return httpx.Client(
        timeout=timeout_s,
        follow_redirects=False,
        trust_env=False,
        verify=verify or _system_tls(),
        cookies=CookieJar(DefaultCookiePolicy(allowed_domains=[])),
    )


@functools.cache
def _system_tls() -> ssl.SSLContext:
    return ssl.create_default_context()
