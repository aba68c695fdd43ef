"""URL inputs against a real local HTTP server: content, 404, refused, oversize, timeout."""

import pytest

from assistant.library.fetch import fetch
from assistant.library.ingest import IngestError
from assistant.library.inputs import load_paths
from tests.httpserver import BIG_BYTES, closed_port_url, serve

CAP = 20 * 1024 * 1024  # the default max_file_bytes


@pytest.fixture(scope="module")
def server():
    with serve() as running:
        yield running


def test_url_article_main_text_and_metadata(server):
    base, _ = server
    (result,) = list(load_paths([f"{base}/article.html"], CAP))
    doc = result.document
    assert result.path == doc.source == doc.url == f"{base}/article.html"
    assert (doc.title, doc.date) == ("Harbour bridge reopens", "2024-05-02")
    assert "forty steel cables" in doc.text
    assert "tracking" not in doc.text and "Sport" not in doc.text and "Copyright" not in doc.text


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("/missing", "the server answered HTTP 404 Not Found"),
        ("/huge-declared", f"the response is {BIG_BYTES:,} bytes, over the {CAP:,}-byte cap"),
    ],
)
def test_bad_urls_are_clear_errors(server, path, message):
    base, _ = server
    with pytest.raises(IngestError) as caught:
        fetch(base + path, CAP, timeout_s=10)
    assert str(caught.value) == message


def test_unreachable_url():
    url = closed_port_url()
    with pytest.raises(IngestError, match="connection refused") as caught:
        fetch(url, CAP, timeout_s=5)
    assert str(caught.value).startswith(f"could not reach {url.split('/')[2]}: ")


def test_50_mb_without_length_stops_at_the_cap(server):
    base, srv = server
    with pytest.raises(IngestError) as caught:
        fetch(f"{base}/huge", CAP, timeout_s=10)
    assert str(caught.value) == f"the response is over the {CAP:,}-byte cap; stopped reading"
    # The client hung up early: the server could not push the whole body (the rest of what
    # it sent sat in socket buffers, never read).
    assert srv.huge_sent < BIG_BYTES


def test_slow_server_times_out(server):
    base, _ = server
    with pytest.raises(IngestError, match="no answer within 1 s"):
        fetch(f"{base}/slow", CAP, timeout_s=1)


@pytest.mark.parametrize("url", ["ftp://example.com/a.txt", "http:///nohost"])
def test_only_http_urls_with_a_host(url):
    with pytest.raises(IngestError, match="not a valid http"):
        fetch(url, CAP, timeout_s=1)
