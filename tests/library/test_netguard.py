"""The private-address guard against real sockets: a refused URL opens no connection at all
(a listener on the port counts zero), answers the same whether or not the port is open,
and a redirect is vetted like the first URL; with ``allow_private`` the pinned connection
still names the host (Host header, TLS SNI and certificate check)."""

from __future__ import annotations

import contextlib
import ipaddress
import re
import selectors
import shutil
import socket
import ssl
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from assistant.library import netguard
from assistant.library.fetch import fetch
from assistant.library.ingest import IngestError
from tests.feedserver import serve_site
from tests.httpserver import closed_port_url

CAP = 1024 * 1024
ALLOW = "(set ASSISTANT_ALLOW_PRIVATE_URLS=true to allow it)"


class Listener:
    """Listening sockets on 127.0.0.1 and, where the machine has IPv6 loopback, on ::1 (one
    port for both), that accept and count every connection."""

    def __init__(self) -> None:
        self.sockets = [socket.create_server(("127.0.0.1", 0))]
        self.port = self.sockets[0].getsockname()[1]
        with contextlib.suppress(OSError):
            v6 = socket.create_server(("::1", self.port), family=socket.AF_INET6)
            self.sockets.append(v6)
        self.ipv6 = len(self.sockets) == 2
        self.peers: list[tuple] = []
        self._probes: set[tuple] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        with selectors.DefaultSelector() as selector:
            for sock in self.sockets:
                selector.register(sock, selectors.EVENT_READ)
            while not self._stop.is_set():
                for key, _ in selector.select(timeout=0.05):
                    conn, peer = key.fileobj.accept()
                    self.peers.append(peer[:2])
                    conn.close()

    def connections(self) -> int:
        """Connections accepted so far. A probe per socket drains its backlog first: it is
        accepted after anything that connected before it, so nothing pending is missed."""
        for sock in self.sockets:
            with socket.socket(sock.family) as probe:
                probe.connect(sock.getsockname()[:2])
                me = probe.getsockname()[:2]
                self._probes.add(me)
                deadline = time.monotonic() + 5
                while me not in self.peers and time.monotonic() < deadline:
                    time.sleep(0.01)
        return len([peer for peer in self.peers if peer not in self._probes])

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        for sock in self.sockets:
            sock.close()


@pytest.fixture
def listener():
    running = Listener()
    yield running
    running.close()


@pytest.fixture
def site():
    with serve_site() as running:
        yield running


def _is_loopback(text: str) -> bool:
    try:
        return ipaddress.ip_address(text).is_loopback
    except ValueError:
        return False


def _hosts_file_names() -> list[str]:
    """Names /etc/hosts gives a loopback address (the machine's own name, often)."""
    try:
        lines = Path("/etc/hosts").read_text().splitlines()
    except OSError:
        return []
    names = set()
    for line in lines:
        fields = line.split("#", 1)[0].split()
        if len(fields) >= 2 and _is_loopback(fields[0]):
            names.update(fields[1:])
    return sorted(names - {"localhost"})


LOOPBACK_HOSTS = [
    "127.0.0.1",
    "localhost",
    "0.0.0.0",
    "[::1]",
    "2130706433",  # 127.0.0.1 as one number: ipaddress cannot read it, the resolver can
    "0177.0.0.1",  # octal
    "127.1",
    "[::ffff:127.0.0.1]",
    "LOCALHOST.",
    "localhost.localdomain",
    "ip6-localhost",
    *_hosts_file_names(),
]


def _resolvable(host: str, listener: Listener) -> None:
    """Skips a host this machine cannot resolve, or one on IPv6 with no ::1 to listen on."""
    name = host.strip("[]")
    try:
        ips = netguard.resolve(name, listener.port)
    except socket.gaierror:
        pytest.skip(f"{name} does not resolve here")
    if not listener.ipv6 and any(":" in ip and "." not in ip for ip in ips):
        pytest.skip("no IPv6 loopback to listen on")


@pytest.mark.parametrize("host", LOOPBACK_HOSTS)
def test_a_refused_url_opens_no_connection(listener, host):
    _resolvable(host, listener)
    with pytest.raises(IngestError) as caught:
        fetch(f"http://{host}:{listener.port}/", CAP, timeout_s=5, allow_private=False)
    assert listener.connections() == 0
    message = str(caught.value)
    assert re.match(r"refused: \S+ resolves to a (loopback|private) address \(", message)
    assert message.endswith(ALLOW)


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "2130706433"])
def test_closed_and_open_ports_get_the_same_answer(listener, host):
    """No port oracle: the refusal cannot tell a listening port from a closed one."""
    _resolvable(host, listener)
    closed_port = closed_port_url().split(":")[2].split("/")[0]
    answers = []
    for port in (listener.port, closed_port):
        with pytest.raises(IngestError) as caught:
            fetch(f"http://{host}:{port}/feed.xml", CAP, timeout_s=5, allow_private=False)
        answers.append(str(caught.value))
    assert listener.connections() == 0
    assert answers[0] == answers[1]


@pytest.mark.parametrize(
    ("host", "ip", "kind"),
    [
        ("10.0.0.1", "10.0.0.1", "private"),
        ("192.168.1.1", "192.168.1.1", "private"),
        ("169.254.169.254", "169.254.169.254", "link-local"),  # cloud metadata
        ("[fd00::1]", "fd00::1", "private"),
    ],
)
def test_private_networks_are_refused_without_trying_them(host, ip, kind, monkeypatch):
    """Nothing listens there to count connections, so a spy on ``socket.connect`` (which
    still connects) counts the attempts."""
    attempts: list = []
    real = socket.socket.connect

    def connect(sock, address):
        attempts.append(address)
        return real(sock, address)

    monkeypatch.setattr(socket.socket, "connect", connect)
    started = time.monotonic()
    with pytest.raises(IngestError) as caught:
        fetch(f"http://{host}/latest/meta-data/", CAP, timeout_s=10, allow_private=False)
    assert attempts == []
    assert time.monotonic() - started < 1  # no connection attempt, so no timeout to wait out
    assert str(caught.value) == (
        f"refused: {ip} resolves to a {kind} address ({ip}); this server does not fetch "
        f"from its own network {ALLOW}"
    )


def public_first_hop():
    """A vet that lets the first hop through, as if the site were a public host (none is
    reachable offline), and judges every later hop as the public server does."""
    hosts: list[str] = []

    def vet(host: str, ips: list[str]) -> None:
        hosts.append(host)
        if len(hosts) > 1:
            netguard.refuse_private(host, ips)

    return vet


@pytest.mark.parametrize(
    "target", ["127.0.0.1", "localhost", "2130706433", "[::ffff:127.0.0.1]", "[::1]"]
)
def test_a_redirect_to_loopback_is_refused_before_connecting(site, listener, target):
    _resolvable(target, listener)
    site.set("/go", status=302, location=f"http://{target}:{listener.port}/admin")
    with (
        pytest.raises(netguard.BlockedAddress, match=r"^refused: \S+ resolves to a "),
        netguard.open_url(site.url("/go"), {}, 5, vet=public_first_hop()),
    ):
        pass
    assert len(site.hits("/go")) == 1
    assert listener.connections() == 0


def test_a_relative_redirect_is_vetted_too(site):
    site.set("/go", status=302, location="/internal")
    site.set("/internal", "secret")
    with (
        pytest.raises(netguard.BlockedAddress, match="^refused: 127.0.0.1 resolves to a loop"),
        netguard.open_url(site.url("/go"), {}, 5, vet=public_first_hop()),
    ):
        pass
    assert site.hits("/internal") == []


@pytest.mark.parametrize(("hops", "ok"), [(netguard.MAX_REDIRECTS, True), (6, False)])
def test_redirects_are_followed_up_to_the_limit(site, hops, ok):
    for n in range(hops):
        site.set(f"/r{n}", status=302, location=f"/r{n + 1}")
    site.set(f"/r{hops}", "arrived", content_type="text/plain")
    if ok:
        assert fetch(site.url("/r0"), CAP, timeout_s=5).data == b"arrived"
    else:
        with pytest.raises(IngestError, match=r"^too many redirects \(HTTP 302"):
            fetch(site.url("/r0"), CAP, timeout_s=5)
        assert site.hits(f"/r{hops}") == []


def _localhost_is_127(port: int) -> None:
    try:
        first = netguard.resolve("localhost", port)[0]
    except socket.gaierror:
        first = None
    if first != "127.0.0.1":
        pytest.skip("localhost does not resolve to 127.0.0.1 first here")


def test_allowed_private_fetch_is_pinned_and_keeps_the_host_name(site, monkeypatch):
    """With allow_private a local server is fetched; each hop asks the resolver for its name
    once, and the connection asks only for the vetted IP (no second answer to swap in)."""
    port = int(site.base.rsplit(":", 1)[1])
    _localhost_is_127(port)
    site.set("/go", status=302, location=f"http://localhost:{port}/page.txt")
    site.set("/page.txt", "hello", content_type="text/plain")
    asked: list[str] = []
    real = socket.getaddrinfo

    def spy(host, *args, **kwargs):
        asked.append(host)
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", spy)
    got = fetch(f"http://localhost:{port}/go", CAP, timeout_s=5, allow_private=True)
    assert got.data == b"hello"
    assert [h.get("Host") for h in site.hits("/go") + site.hits("/page.txt")] == [
        f"localhost:{port}"
    ] * 2
    names = [host for host in asked if not _is_ip(host)]
    assert names == ["localhost", "localhost"]  # one question per hop, by netguard
    assert {host for host in asked if _is_ip(host)} <= {"127.0.0.1"}


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
        return True
    except ValueError:
        return False


class _Hello(BaseHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        self.server.hosts.append(self.headers.get("Host"))
        body = b"over tls"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def tls_site(tmp_path):
    """An https server on 127.0.0.1 with a certificate for ``localhost`` only; yields the
    server (``hosts``: Host headers, ``sni``: names sent in the TLS hello) and its cert."""
    if shutil.which("openssl") is None:
        pytest.skip("no openssl to make a certificate")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"]
        + ["-nodes", "-days", "1", "-subj", "/CN=localhost", "-keyout", str(key)]
        + ["-out", str(cert), "-addext", "subjectAltName=DNS:localhost"],
        check=True,
        capture_output=True,
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Hello)
    server.daemon_threads = True
    server.hosts, server.sni = [], []
    context.sni_callback = lambda sock, name, ctx: server.sni.append(name)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server, cert
    server.shutdown()
    server.server_close()


def test_tls_through_the_pin_checks_the_certificate_against_the_host_name(tls_site):
    server, cert = tls_site
    port = server.server_address[1]
    _localhost_is_127(port)
    trust = ssl.create_default_context(cafile=str(cert))
    url = f"https://localhost:{port}/"
    with netguard.open_url(url, {}, 5, allow_private=True, verify=trust) as response:
        assert (response.status_code, response.read()) == (200, b"over tls")
    assert (server.sni, server.hosts) == (["localhost"], [f"localhost:{port}"])
    # the same server by its IP: the certificate names localhost only, so it is refused
    with (
        pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"),
        netguard.open_url(f"https://127.0.0.1:{port}/", {}, 5, True, verify=trust),
    ):
        pass
