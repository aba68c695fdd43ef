"""The Library tab's feeds in a real Chromium: the list with status and last check, adding a
feed from the page, removing one; a cited answer's card shows outlet and date."""

from __future__ import annotations

import pytest

from tests.feedserver import serve_site
from tests.library.test_feeds import STORY, page, rss
from tests.web.test_browser import SHOTS, Page, browser  # noqa: F401  (the module's browser fixture)

pytestmark = [pytest.mark.slow, pytest.mark.browser]


def test_feeds_in_the_library_tab(browser, embedder, tmp_path):  # noqa: F811
    from assistant.config import load_settings
    from assistant.library.feeds import add_feed
    from assistant.service import Assistant
    from tests.app_server import running_app

    with serve_site() as site:
        for key in STORY:
            site.set(f"/{key}.html", page(key))
        site.set("/city.xml", rss(site, ["a1"]), content_type="application/rss+xml")
        site.set(
            "/campus.xml",
            rss(site, ["a2"], title="Campus wire"),
            content_type="application/rss+xml",
        )
        index = tmp_path / "index"
        add_feed(
            Assistant(load_settings(index_dir=index), embedder=embedder), site.url("/city.xml")
        )
        with running_app(index, embedder) as app:
            tab = Page(browser, app.url, 1280, 900)
            pg = tab.page
            pg.click("#library-tab-button")
            row = pg.locator(f'#feeds-table tr[data-feed="{site.url("/city.xml")}"]')
            row.wait_for(timeout=60_000)
            assert "City news" in row.inner_text() and "ok" in row.inner_text()
            assert "—" not in row.locator('td[data-label="Last check"]').inner_text()

            pg.fill("#feed-url input, #feed-url textarea", site.url("/campus.xml"))
            pg.click("#feed-add")
            pg.wait_for_selector("#feeds-report :text('1 added')", timeout=120_000)
            pg.wait_for_selector("#feeds-table :text('Campus wire')")
            pg.wait_for_selector("#library-table :text('Library extends hours')")
            tab.shot("09-library-feeds-desktop")

            pg.click("#feed-choice input")
            pg.click("[role=option]:has-text('Campus wire')")
            pg.click("#feed-remove")
            pg.wait_for_selector("#feeds-report :text('Feed removed')", timeout=60_000)
            pg.wait_for_function(
                "!document.querySelector('#feeds-table').innerText.includes('Campus wire')"
            )

            pg.click("#chat-tab-button")
            tab.ask("When did the new tram line open?")
            card = tab.last_reply().locator(".cite-card").first
            meta = card.locator(".cite-meta").inner_text()
            assert "City news" in meta and "2024-06-11" in meta, meta
            tab.shot("10-card-outlet-and-date-desktop")
            assert tab.outside == []
    assert SHOTS.exists()
