"""Feeds against a real local HTTP server: add, conditional refresh, new and edited entries,
a syndicated copy, every bad input with the index unchanged, and the scheduler."""

import json

import pytest
from typer.testing import CliRunner

from assistant.cli import app
from assistant.library.feed_parse import parse_feed
from assistant.library.feeds import Registry, backoff, refresh
from assistant.library.ingest import IngestError
from tests.feedserver import serve_site
from tests.indexstate import index_state

pytestmark = pytest.mark.slow
runner = CliRunner()

STORY = {
    "a1": (
        "Tram line opens",
        "The new tram line between the station and the university opened on Monday.",
        "The city expects twelve thousand riders a day once the autumn term begins.",
    ),
    "a2": (
        "Library extends hours",
        "The central library will stay open until midnight during the exam weeks.",
        "Volunteers from the student union will help staff the reading rooms.",
    ),
    "a3": (
        "Bakery wins prize",
        "A family bakery on Mill Street won the regional bread prize on Friday.",
        "Its rye loaf, baked in a wood oven since 1952, impressed the judges.",
    ),
}


def page(key: str, chrome: str = "Harbour Times", extra: str = "") -> str:
    title, first, second = STORY[key]
    return (
        f'<html><head><title>{title}</title><meta property="og:site_name" content="{chrome}">'
        f'<meta property="article:published_time" content="2024-06-1{key[-1]}"></head><body>'
        f"<nav>Home | City | Sport</nav><article><h1>{title}</h1><p>{first}</p>"
        f"<p>{second}</p>{extra}</article><footer>© {chrome}</footer></body></html>"
    )


def rss(site, keys, title="City news", extra_items=""):
    items = "".join(
        f"<item><title>{STORY[k][0]}</title><link>{site.url('/' + k + '.html')}</link>"
        f"<guid>urn:city:{k}</guid><pubDate>Mon, 1{k[-1]} Jun 2024 08:00:00 GMT</pubDate>"
        f"<description>{STORY[k][1]}</description></item>"
        for k in keys
    )
    return (
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>{title}</title>'
        f"<link>{site.base}</link>{items}{extra_items}</channel></rss>"
    )


def cli(*args):
    result = runner.invoke(app, [str(a) for a in args])
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def site():
    with serve_site() as running:
        for key in STORY:
            running.set(f"/{key}.html", page(key))
        yield running


@pytest.fixture
def index_dir(tmp_path):
    return tmp_path / "index"


def add(index_dir, url):
    code, out, err = cli("feeds", "add", url, "--index-dir", index_dir, "--json")
    return code, (json.loads(out) if out.strip() else None), err


def test_add_refresh_new_and_edited_entries(site, index_dir, embedder):
    site.set("/feed.xml", rss(site, ["a1", "a2"]), content_type="application/rss+xml", etag='"v1"')
    code, report, _ = add(index_dir, site.url("/feed.xml"))
    assert code == 0 and (report["added"], report["errors"]) == (2, [])
    [feed] = report["feeds"]
    assert (feed["title"], feed["status"], feed["new_entries"]) == ("City news", "ok", 2)
    assert (index_dir / "feeds.json").exists()
    code, out, _ = cli("sources", "--index-dir", index_dir, "--json")
    by_title = {s["title"]: s for s in json.loads(out)}
    tram = by_title["Tram line opens"]
    assert (tram["date"], tram["outlet"]) == ("2024-06-11", "City news")
    assert tram["sources"] == [site.url("/a1.html")]

    # a conditional refresh: the server sees If-None-Match and answers 304
    code, out, _ = cli("feeds", "refresh", "--index-dir", index_dir, "--json")
    again = json.loads(out)
    assert site.hits("/feed.xml")[-1].get("If-None-Match") == '"v1"'
    assert (again["added"], again["feeds"][0]["status"]) == (0, "not modified")

    # a new entry: only its page is fetched
    site.set(
        "/feed.xml", rss(site, ["a1", "a2", "a3"]), content_type="application/rss+xml", etag='"v2"'
    )
    code, out, _ = cli(
        "feeds", "refresh", site.url("/feed.xml"), "--index-dir", index_dir, "--json"
    )
    assert json.loads(out)["added"] == 1 and json.loads(out)["feeds"][0]["new_entries"] == 1
    assert (len(site.hits("/a1.html")), len(site.hits("/a3.html"))) == (1, 1)

    # an edited entry: the same GUID with other text replaces the article
    edited = rss(site, ["a1", "a2", "a3"]).replace(
        STORY["a1"][1], "Trams now run every five minutes."
    )
    site.set("/feed.xml", edited, content_type="application/rss+xml", etag='"v3"')
    site.set("/a1.html", page("a1", extra="<p>Trams now run every five minutes at peak hours.</p>"))
    code, out, _ = cli("feeds", "refresh", "--index-dir", index_dir, "--json")
    assert (json.loads(out)["updated"], json.loads(out)["added"]) == (1, 0)
    code, out, _ = cli("feeds", "list", "--index-dir", index_dir, "--json")
    assert [f["status"] for f in json.loads(out)] == ["ok"]


def test_unreachable_page_falls_back_to_the_entrys_own_text(site, index_dir):
    atom = (
        '<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">'
        "<title>Quay notes</title><id>urn:quay</id><updated>2024-06-12T00:00:00Z</updated>"
        f'<entry><title>Quay reopens</title><link href="{site.url("/gone.html")}"/>'
        "<id>urn:quay:1</id><updated>2024-06-12T09:00:00Z</updated>"
        '<content type="html">&lt;p&gt;The old quay reopened to fishing boats on Wednesday '
        "after the storm repairs were finished.&lt;/p&gt;</content></entry></feed>"
    )
    site.set("/atom.xml", atom, content_type="application/atom+xml")
    code, report, _ = add(index_dir, site.url("/atom.xml"))
    assert code == 0 and report["added"] == 1
    code, out, _ = cli("ask", "When did the old quay reopen?", "--index-dir", index_dir, "--json")
    [cite, *_] = json.loads(out)["citations"]
    assert "fishing boats" in cite["quote"] and cite["date"] == "2024-06-12"


def test_json_feed(site, index_dir):
    feed = {
        "version": "https://jsonfeed.org/version/1.1",
        "title": "Bakery wire",
        "items": [{"id": "b1", "url": site.url("/a3.html"), "title": STORY["a3"][0]}],
    }
    site.set("/feed.json", json.dumps(feed), content_type="application/feed+json")
    code, report, _ = add(index_dir, site.url("/feed.json"))
    assert code == 0 and report["added"] == 1 and report["feeds"][0]["title"] == "Bakery wire"


def test_a_syndicated_copy_in_another_feed_is_merged(site, index_dir):
    story = " ".join(STORY["a1"][1:] + STORY["a2"][1:] + STORY["a3"][1:])
    site.set("/a1.html", page("a1", extra=f"<p>{story}</p>"))
    copy = page("a1", chrome="Valley Post", extra=f"<p>{story}</p><p>Subscribe today.</p>")
    site.set("/copy.html", copy.replace("Tram line opens", "Trams arrive at last"))
    site.set("/feed.xml", rss(site, ["a1"]), content_type="application/rss+xml")
    other = (
        '<rss version="2.0"><channel><title>Valley Post</title><item><title>Trams arrive</title>'
        f"<link>{site.url('/copy.html')}</link><guid>v:1</guid></item></channel></rss>"
    )
    site.set("/other.xml", other, content_type="application/rss+xml")
    assert add(index_dir, site.url("/feed.xml"))[1]["added"] == 1
    code, report, _ = add(index_dir, site.url("/other.xml"))
    assert (code, report["merged"], report["added"]) == (0, 1, 0)
    assert report["feeds"][0]["new_entries"] == 1
    code, out, _ = cli("sources", "--index-dir", index_dir, "--json")
    [tram] = json.loads(out)
    assert tram["sources"] == [site.url("/a1.html"), site.url("/copy.html")]


BAD = [
    ("/page.html", "not a feed: the URL serves an HTML page, not RSS, Atom or JSON Feed"),
    (
        "/nofeed.json",
        'not a feed: JSON without a JSON Feed "version" (https://jsonfeed.org/version/1.1)',
    ),
    ("/broken.xml", "broken XML in the feed (line 1, column"),
    ("/big.xml", "the response is 6,000,005 bytes, over the 5,242,880-byte cap"),
    ("/loop", "too many redirects (HTTP 302: a redirect loop?); stopped following"),
    ("/tofile", "the server redirected to a URL that is not http(s); not followed"),
    ("/missing.xml", "the server answered HTTP 404 Not Found"),
]


def test_bad_feeds_are_clear_errors_and_change_nothing(site, index_dir, embedder):
    from assistant.config import load_settings
    from assistant.service import Assistant

    site.set("/good.xml", rss(site, ["a1"]), content_type="application/rss+xml")
    add(index_dir, site.url("/good.xml"))
    site.set("/page.html", page("a2"))
    site.set("/nofeed.json", '{"items": []}', content_type="application/json")
    site.set(
        "/broken.xml",
        '<?xml version="1.0"?><rss version="2.0"><channel><title>x</title><item></channel>',
        content_type="application/rss+xml",
    )
    site.set("/big.xml", b"<rss>" + b" " * 6_000_000, content_type="application/rss+xml")
    site.set("/loop", status=302, location=site.url("/loop"))
    site.set("/tofile", status=302, location="file:///etc/passwd")
    store = Assistant(load_settings(index_dir=index_dir), embedder=embedder).store
    before, feeds_before = index_state(store), (index_dir / "feeds.json").read_text()
    for path, message in BAD:
        code, report, _ = add(index_dir, site.url(path))
        assert code == 1 and report["errors"][0]["error"].startswith(message), (path, report)
        assert report["feeds"][0]["status"] == "not added"
    code, _, err = cli("feeds", "add", "file:///etc/passwd", "--index-dir", index_dir)
    assert code == 2 and "not a valid http(s) URL: file: URLs are not fetched" in err
    store.refresh_if_stale()
    assert index_state(store) == before
    assert (index_dir / "feeds.json").read_text() == feeds_before


def test_bad_entries_are_errors_for_that_entry_only(site, index_dir):
    items = (
        "<item><title>Bad link</title><link>javascript:alert(1)</link><guid>x1</guid></item>"
        f"<item><title>Gone</title><link>{site.url('/nowhere.html')}</link><guid>x2</guid></item>"
    )
    mixed = rss(site, ["a2"], extra_items=items)
    site.set("/mixed.xml", mixed, content_type="application/rss+xml", etag='"m1"')
    code, report, _ = add(index_dir, site.url("/mixed.xml"))
    errors = {e["path"]: e["error"] for e in report["errors"]}
    assert code == 1 and report["added"] == 1
    assert (
        errors["javascript:alert(1)"]
        == "the entry's link is not an http(s) URL (javascript:); not fetched"
    )
    assert errors[site.url("/nowhere.html")] == (
        "the server answered HTTP 404 Not Found, and the entry has no text of its own"
    )
    # the unreachable entry is tried again next time (so the feed is asked without its
    # ETag); the bad link and the indexed entry are not
    cli("feeds", "refresh", "--index-dir", index_dir)
    assert site.hits("/mixed.xml")[-1].get("If-None-Match") is None
    assert (len(site.hits("/nowhere.html")), len(site.hits("/a2.html"))) == (2, 1)


def test_the_web_app_refuses_private_addresses(site, make_assistant):
    site.set("/feed.xml", rss(site, ["a1"]), content_type="application/rss+xml")
    assistant = make_assistant()
    Registry(assistant.settings.index_dir).add(site.url("/feed.xml"))
    report = refresh(assistant, allow_private=False)
    assert report.errors[0].error.startswith(
        "refused: 127.0.0.1 resolves to a loopback address (127.0.0.1)"
    )
    assert "ASSISTANT_ALLOW_PRIVATE_URLS=true" in report.errors[0].error
    assert site.hits("/feed.xml") == [] and assistant.sources() == []


def test_the_scheduler_runs_two_cycles_and_a_failing_feed_never_stops_the_others(site, index_dir):
    site.set("/feed.xml", rss(site, ["a1"]), content_type="application/rss+xml", etag='"v1"')
    site.set("/flaky.xml", rss(site, ["a2"], title="Flaky"), content_type="application/rss+xml")
    add(index_dir, site.url("/feed.xml"))
    add(index_dir, site.url("/flaky.xml"))
    site.set("/flaky.xml", "<html>maintenance</html>", status=200)
    code, out, _ = cli(
        "watch", "--every", "0.1s", "--cycles", "2", "--index-dir", index_dir, "--json"
    )
    cycles = [json.loads(line) for line in out.splitlines()]
    assert code == 0 and [c["cycle"] for c in cycles] == [1, 2]
    for cycle in cycles:
        status = {f["url"]: f["status"] for f in cycle["feeds"]}
        assert status == {site.url("/feed.xml"): "not modified", site.url("/flaky.xml"): "error"}
    assert [h.get("If-None-Match") for h in site.hits("/feed.xml")] == [None, '"v1"', '"v1"']
    flaky = {
        f["url"]: f for f in json.loads(cli("feeds", "list", "--index-dir", index_dir, "--json")[1])
    }
    assert flaky[site.url("/flaky.xml")]["error"].startswith(
        "not a feed: the URL serves an HTML page"
    )


def test_backoff_doubles_up_to_a_day():
    from datetime import timedelta

    minute = timedelta(minutes=1)
    assert [backoff(n, minute) for n in (1, 2, 3)] == [minute, 2 * minute, 4 * minute]
    assert backoff(30, minute) == timedelta(hours=24)


def test_parse_feed_reads_rss_atom_and_json_and_refuses_the_rest():
    rss_feed = b'<rss version="0.91"><channel><title>Old</title><item><title>T</title><link>http://x/1</link></item></channel></rss>'
    parsed = parse_feed(rss_feed, "application/rss+xml")
    assert (parsed.title, parsed.entries[0].key) == ("Old", "http://x/1")
    nbsp = rss_feed.replace(b"<title>Old</title>", b"<title>Old&nbsp;news</title>")
    assert parse_feed(nbsp, "application/rss+xml").title == "Old news"  # tolerated
    with pytest.raises(IngestError, match="not a feed: not valid JSON"):
        parse_feed(b"{not json", "application/json")
    with pytest.raises(IngestError, match="no RSS, Atom or JSON Feed found"):
        parse_feed(b"just some text", "text/plain")


def test_serve_refreshes_in_the_background(site, index_dir, embedder):
    import time

    from tests.app_server import running_app

    site.set("/feed.xml", rss(site, ["a1"]), content_type="application/rss+xml", etag='"v1"')
    add(index_dir, site.url("/feed.xml"))
    site.set("/feed.xml", rss(site, ["a1", "a3"]), content_type="application/rss+xml", etag='"v2"')
    with running_app(index_dir, embedder, feeds_refresh_minutes=0.005) as app:
        deadline = time.monotonic() + 120  # a bound on waiting, not a speed check
        while len(site.hits("/feed.xml")) < 3 and time.monotonic() < deadline:
            time.sleep(0.2)
        app.demo.feed_refresh.set()
        assert len(site.hits("/feed.xml")) >= 3  # add, then two background cycles
        titles = {s.title for s in app.assistant.sources()}
    assert titles == {"Tram line opens", "Bakery wins prize"}


@pytest.mark.parametrize(
    ("ip", "problem"),
    [
        ("127.0.0.1", "loopback"),
        ("::1", "loopback"),
        ("::ffff:127.0.0.1", "loopback"),
        ("169.254.169.254", "link-local"),
        ("10.1.2.3", "private"),
        ("192.168.0.10", "private"),
        ("fd00::1", "private"),
        ("0.0.0.0", "private"),
        ("93.184.216.34", None),
        ("2606:4700::1111", None),
    ],
)
def test_address_problems(ip, problem):
    from assistant.library.netguard import address_problem

    assert address_problem(ip) == problem
