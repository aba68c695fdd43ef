"""The feeds part of the Library tab: the list of feeds with their status and last check, and
adding and removing one. Formatting is pure (``feeds_table``); the handlers are thin over
``feeds``. Fetches started from the page refuse the server's own network when the app
serves beyond loopback (``netguard``), unless ``ASSISTANT_ALLOW_PRIVATE_URLS`` is set.
"""

from __future__ import annotations

import gradio as gr

from assistant.config import Settings
from assistant.library.feeds import FeedError, add_feed, list_feeds, refresh, remove_feed
from assistant.locks import IndexBusyError
from assistant.web import format as fmt
from assistant.web.security import LOOPBACK

HEADERS = ["Feed", "Status", "Last check", "New", "Error"]
BUSY = "Another indexing run is writing to the library; try again when it has finished."


def private_fetches_allowed(settings: Settings) -> bool:
    """Only an app on loopback (or one told so) may fetch loopback and private addresses."""
    return settings.allow_private_urls or settings.host in LOOPBACK


def feeds_table(feeds: list[dict]) -> str:
    """The feeds as an HTML table (escaped like every other piece of outside text)."""
    if not feeds:
        return '<div class="lib-empty">No feeds yet.</div>'
    head = "".join(f"<th>{h}</th>" for h in HEADERS)
    rows = "".join(_row(f) for f in feeds)
    return f'<table class="lib feeds"><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>'


def _row(feed: dict) -> str:
    title = f'<span class="lib-title">{fmt.escape(feed["title"]) or "Untitled feed"}</span>'
    status = feed["status"]
    kind = "warn" if status in {"error", "backing off"} else "ok"
    cells = [
        ("Feed", f"{title}<br>{fmt.source_html(feed['url'])}"),
        ("Status", f'<span class="feed-status {kind}">{fmt.escape(status)}</span>'),
        ("Last check", fmt.escape(fmt.format_timestamp(feed["last_checked"])) or "—"),
        ("New", str(feed["new_entries"])),
        ("Error", fmt.escape(feed["error"]) or "—"),
    ]
    tds = "".join(f'<td data-label="{label}">{value}</td>' for label, value in cells)
    return f'<tr data-feed="{fmt.escape(feed["url"])}">{tds}</tr>'


def feed_choices(feeds: list[dict]) -> list[tuple[str, str]]:
    return [(f"{f['title'] or f['url']} — {f['url']}", f["url"]) for f in feeds]


class FeedHandlers:
    """Callbacks of the feeds section, bound to one ``Assistant``."""

    def __init__(self, assistant, read_only: bool):
        self.assistant = assistant
        self.read_only = read_only
        self.allow_private = private_fetches_allowed(assistant.settings)

    def listing(self) -> tuple:
        """The table and the choices for removal."""
        feeds = list_feeds(self.assistant.settings.index_dir)
        return feeds_table(feeds), gr.update(choices=feed_choices(feeds), value=None)

    def _write(self, action, label: str) -> str:
        if self.read_only:
            raise gr.Error("This library is read-only.")
        try:
            report = action()
        except FeedError as exc:
            return fmt.notice_html(str(exc), "warn")
        except IndexBusyError:
            return fmt.notice_html(BUSY, "warn")
        return fmt.report_html(report, label)

    def add(self, url: str) -> tuple:
        """Register and refresh a feed; the box is cleared when it was added."""
        url = (url or "").strip()
        if not url:
            return fmt.notice_html("Enter a feed URL first.", "warn"), gr.skip()
        html = self._write(lambda: add_feed(self.assistant, url, self.allow_private), "Adding feed")
        return html, "" if 'class="report ok"' in html else gr.skip()

    def refresh_all(self) -> str:
        return self._write(lambda: refresh(self.assistant, None, self.allow_private), "Refresh")

    def remove(self, url: str | None) -> str:
        if self.read_only:
            raise gr.Error("This library is read-only.")
        if not url:
            return fmt.notice_html("Choose a feed first.", "warn")
        try:
            remove_feed(self.assistant.settings.index_dir, url)
        except FeedError as exc:
            return fmt.notice_html(str(exc), "warn")
        return fmt.notice_html("Feed removed; its articles stay in the library.", "ok")


def feeds_section(read_only: bool) -> dict:
    """The components: the table, and (unless read-only) add, refresh and remove."""
    ui: dict = {}
    gr.HTML('<div class="section-head">Feeds</div>')
    ui["table"] = gr.HTML(elem_id="feeds-table")
    if read_only:
        return ui
    with gr.Row(equal_height=True, elem_id="feed-add-row"):
        ui["url"] = gr.Textbox(
            show_label=False,
            placeholder="https://example.com/feed.xml (RSS, Atom or JSON Feed)",
            scale=5,
            elem_id="feed-url",
        )
        ui["add"] = gr.Button(
            "Add feed", variant="primary", scale=1, min_width=110, elem_id="feed-add"
        )
        ui["refresh"] = gr.Button("Refresh all", scale=1, min_width=110, elem_id="feed-refresh")
    with gr.Row(equal_height=True, elem_id="feed-remove-row"):
        ui["choice"] = gr.Dropdown(
            label="Stop following a feed", choices=[], scale=5, elem_id="feed-choice"
        )
        ui["remove"] = gr.Button(
            "Remove feed", variant="stop", scale=1, min_width=110, elem_id="feed-remove"
        )
    ui["report"] = gr.HTML(elem_id="feeds-report")
    return ui


def wire(demo: gr.Blocks, handlers: FeedHandlers, ui: dict, library_refresh) -> None:
    """Events of the feeds section; ``library_refresh`` (fn, inputs, outputs) re-lists the
    articles after a write."""
    if "add" not in ui:  # read-only: the list alone
        demo.load(lambda: handlers.listing()[0], None, ui["table"], api_name="feeds")
        return
    listing = [ui["table"], ui["choice"]]
    demo.load(handlers.listing, None, listing, api_name="feeds", show_progress="hidden")
    writes = {"concurrency_limit": 1, "concurrency_id": "library-writes"}
    fn, inputs, outputs = library_refresh
    for event in (
        ui["add"].click(
            handlers.add, ui["url"], [ui["report"], ui["url"]], api_name="add_feed", **writes
        ),
        ui["refresh"].click(
            handlers.refresh_all, None, ui["report"], api_name="refresh_feeds", **writes
        ),
        ui["remove"].click(
            handlers.remove, ui["choice"], ui["report"], api_name="remove_feed", **writes
        ),
    ):
        event.then(handlers.listing, None, listing, api_name=False, show_progress="hidden").then(
            fn, inputs, outputs, api_name=False, show_progress="hidden"
        )
