"""Pure formatting for the web UI: answers, citation cards, library rows and index reports.

Everything that came from an article or a model is escaped twice over: HTML-escaped, and
with Markdown's special characters turned into character references, so that neither a
``<script>`` nor a ``![](http://...)`` image in an article can reach the page as markup.
The only markup in the output is the fixed markup written here.
"""

from __future__ import annotations

import html
import re
from datetime import datetime
from urllib.parse import urlsplit

from assistant.schema import DECLINE_REASONS, Answer, Citation, IndexReport, SourceInfo
from assistant.terms import fold

# Markdown, GFM autolink and LaTeX triggers become character references; newlines become
# <br> so a blank line can never end the HTML block and start Markdown parsing.
_MARKDOWN_SPECIAL = {c: f"&#{ord(c)};" for c in "\\`*_[](){}!#~|$<>&\"':"}
_MARKDOWN_SPECIAL["\n"] = "<br>"
_MARKER = re.compile(r"\[(\d+(?:\s*,\s*\d+)*)\]")
CONTEXT_CHARS = 260
LIBRARY_HEADERS = ["Title", "Source", "Date", "Passages", "Indexed"]


def escape(text: str) -> str:
    """Text that renders literally in the chat: no HTML, no Markdown, no LaTeX."""
    return "".join(_MARKDOWN_SPECIAL.get(c, c) for c in (text or "").replace("\r", ""))


def safe_url(value: str) -> str | None:
    """``value`` if it is an http(s) URL with a host (never ``javascript:`` and the like)."""
    value = (value or "").strip()
    try:
        parts = urlsplit(value)
    except ValueError:
        return None
    if parts.scheme.lower() in {"http", "https"} and parts.netloc and " " not in value:
        return value
    return None


def source_label(source: str, url: str = "") -> str:
    """A short label for where an article came from: host and path, or the file name."""
    link = safe_url(url) or safe_url(source)
    if link:
        parts = urlsplit(link)
        label = parts.netloc.removeprefix("www.") + parts.path.rstrip("/")
        return label if len(label) <= 60 else label[:57] + "…"
    name = re.split(r"[\\/]", source or "")[-1]
    return name or "pasted text"


def source_html(source: str, url: str = "") -> str:
    """The source as a link that opens in a new tab when it is a URL, else plain text."""
    label = escape(source_label(source, url))
    link = safe_url(url) or safe_url(source)
    if not link:
        return f'<span class="src-file">{label}</span>'
    return (
        f'<a class="src-link" href="{html.escape(link, quote=True)}" target="_blank" '
        f'rel="noopener noreferrer nofollow">{label} ↗</a>'
    )


def quote_offsets(citation: Citation) -> tuple[int, int]:
    """Where the quote lies inside the passage: its exact ``start:end`` span, shifted."""
    start = citation.start - citation.passage_start
    end = start + (citation.end - citation.start)
    if 0 <= start <= end <= len(citation.passage):
        return start, end
    found = citation.passage.find(citation.quote)  # offsets from an older index
    return (found, found + len(citation.quote)) if found >= 0 else (0, 0)


def highlight_passage(citation: Citation, context: int | None = None) -> str:
    """The passage with the quoted span in ``<mark>``; ``context`` trims to that many
    characters either side (at word boundaries, with an ellipsis)."""
    passage = citation.passage
    start, end = quote_offsets(citation)
    before, quote, after = passage[:start], passage[start:end], passage[end:]
    if context is not None:
        before, after = _trim_left(before, context), _trim_right(after, context)
    return f"{escape(before)}<mark>{escape(quote)}</mark>{escape(after)}"


def _trim_left(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    cut = text[-limit:]
    return "…" + cut[cut.find(" ") + 1 :] if " " in cut else "…" + cut


def _trim_right(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    cut = text[:limit]
    return (cut[: cut.rfind(" ")] if " " in cut else cut) + "…"


def anchor_id(turn: str, marker: int) -> str:
    """The element id of one citation card, unique per answer in the page."""
    return f"cite-{re.sub(r'[^A-Za-z0-9_-]', '', turn)}-{marker}"


def citation_card(
    citation: Citation, turn: str, show_scores: bool = True, related: bool = False
) -> str:
    """One source card: number, title, outlet, source link, date, paragraph, score, and the
    highlighted passage."""
    meta = [source_html(citation.source, citation.url)]
    if citation.outlet and citation.outlet != source_label(citation.source, citation.url):
        meta.insert(0, f'<span class="cite-outlet">{escape(citation.outlet)}</span>')
    if citation.date:
        meta.append(f'<span class="cite-date">{escape(citation.date)}</span>')
    if citation.paragraph:
        meta.append(f'<span class="cite-para">¶ {citation.paragraph}</span>')
    if show_scores:
        meta.append(f'<span class="cite-score">score {citation.score:.2f}</span>')
    passage = highlight_passage(citation)
    shown = highlight_passage(citation, CONTEXT_CHARS)
    full = (
        ""
        if shown == passage
        else f'<details class="cite-full"><summary>Whole passage</summary>'
        f'<div class="cite-passage">{passage}</div></details>'
    )
    kind = "cite-card related" if related else "cite-card"
    return (
        f'<div class="{kind}" id="{anchor_id(turn, citation.marker)}">'
        f'<div class="cite-head"><span class="cite-num">{citation.marker}</span>'
        f'<span class="cite-title">{escape(citation.title) or "Untitled"}</span></div>'
        f'<div class="cite-meta">{" · ".join(meta)}</div>'
        f'<div class="cite-passage">{shown}</div>{full}</div>'
    )


def link_markers(text: str, citations: list[Citation], turn: str) -> str:
    """Escaped answer text whose ``[n]`` markers link to their citation cards."""
    by_marker = {c.marker: c for c in citations}
    out, pos = [], 0
    for match in _MARKER.finditer(text):
        numbers = [int(n) for n in match.group(1).split(",")]
        if not all(n in by_marker for n in numbers):
            continue  # a bracketed number in the text itself, not a citation
        out.append(escape(text[pos : match.start()]))
        out.append("".join(_marker_link(by_marker[n], turn) for n in numbers))
        pos = match.end()
    out.append(escape(text[pos:]))
    return "".join(out)


def _marker_link(citation: Citation, turn: str) -> str:
    tip = escape(" ".join(f"{citation.title}: “{citation.quote}”".split()))
    return (
        f'<a class="cite-ref" href="#{anchor_id(turn, citation.marker)}" title="{tip}">'
        f"[{citation.marker}]</a>"
    )


def render_partial(text: str) -> str:
    """An answer still being composed: escaped text, markers styled, a typing cursor."""
    out, pos = [], 0
    for match in _MARKER.finditer(text):
        out.append(escape(text[pos : match.start()]))
        out.append(f'<span class="cite-ref pending">[{escape(match.group(1))}]</span>')
        pos = match.end()
    body = "".join(out) + escape(text[pos:])
    return f'<div class="answer streaming">{body}<span class="cursor">▍</span></div>'


def render_answer(
    answer: Answer, turn: str = "t", show_scores: bool = True, asked_as: str = ""
) -> str:
    """A finished answer: text with linked markers, then its source cards (or related ones)."""
    if answer.abstained:
        return render_abstention(answer, turn, show_scores, asked_as)
    cards = "".join(citation_card(c, turn, show_scores) for c in answer.citations)
    parts = [
        _asked_as(asked_as),
        f'<div class="answer">{link_markers(answer.answer, answer.citations, turn)}</div>',
        _note(answer.note),
        f'<div class="sources"><div class="sources-head">Sources</div>{cards}</div>'
        if cards
        else "",
        _footer(answer),
    ]
    return f'<div class="reply">{"".join(parts)}</div>'


def render_abstention(
    answer: Answer, turn: str = "t", show_scores: bool = True, asked_as: str = ""
) -> str:
    """A plain "the articles don't say" with the closest passages offered as related only."""
    cards = "".join(citation_card(c, turn, show_scores, related=True) for c in answer.related)
    related = (
        '<div class="sources related"><div class="sources-head">Related passages '
        f"(closest matches, not an answer)</div>{cards}</div>"
        if cards
        else ""
    )
    parts = [
        _asked_as(asked_as),
        f'<div class="answer abstained"><span class="abstain-icon" aria-hidden="true">i</span>'
        f"{escape(answer.answer)}</div>",
        _decline_reason(answer.declined_because),
        _note(answer.note),
        related,
        _footer(answer),
    ]
    return f'<div class="reply">{"".join(parts)}</div>'


def render_error(message: str) -> str:
    """A refusal or failure shown in the chat instead of an answer."""
    return f'<div class="reply"><div class="answer error">⚠ {escape(message)}</div></div>'


def _asked_as(question: str) -> str:
    if not question:
        return ""
    return f'<div class="asked-as">Understood as: <q>{escape(question)}</q></div>'


def _decline_reason(reason: str) -> str:
    """Why it declined, in words; the empty library's message already says it all."""
    words = DECLINE_REASONS.get(reason, "") if reason != "empty_library" else ""
    return f'<div class="decline-reason">Why: {escape(words)}</div>' if words else ""


def _note(note: str) -> str:
    return f'<div class="answer-note">{escape(note)}</div>' if note else ""


def _footer(answer: Answer) -> str:
    timings = answer.timings_ms or {}
    bits = [escape(answer.answerer)]
    if timings:
        bits.append(f"{sum(timings.values()):.0f} ms")
    return f'<div class="reply-foot">{" · ".join(bits)}</div>'


def user_message(question: str) -> str:
    """The reader's own question as shown in the chat (escaped like everything else)."""
    return escape(question)


def format_timestamp(value: str) -> str:
    """ISO time as ``YYYY-MM-DD HH:MM`` (UTC); anything unparseable is returned as is."""
    try:
        return datetime.fromisoformat(value).strftime("%Y-%m-%d %H:%M")
    except (TypeError, ValueError):
        return value or ""


def filter_sources(sources: list[SourceInfo], query: str = "") -> list[SourceInfo]:
    """Articles whose title or source contains every word of ``query`` (case-insensitive)."""
    words = fold(query or "").split()
    return [s for s in sources if all(w in fold(f"{s.title} {s.source}") for w in words)]


def library_table(sources: list[SourceInfo], query: str = "") -> str:
    """The library as an HTML table (rows become cards on phones), filtered by ``query``."""
    shown = filter_sources(sources, query)
    if not sources:
        return '<div class="lib-empty">No articles yet. Add some below.</div>'
    if not shown:
        return f'<div class="lib-empty">No article matches “{escape(query)}”.</div>'
    head = "".join(f"<th>{h}</th>" for h in LIBRARY_HEADERS)
    rows = "".join(_library_row(s) for s in shown)
    return f'<table class="lib"><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>'


def _library_row(s: SourceInfo) -> str:
    cells = [
        ("Title", f'<span class="lib-title">{escape(s.title) or "Untitled"}</span>'),
        ("Source", source_html(s.source)),
        ("Date", escape(s.date) or "—"),
        ("Passages", str(s.chunks)),
        ("Indexed", escape(format_timestamp(s.indexed_at))),
    ]
    tds = "".join(f'<td data-label="{label}">{value}</td>' for label, value in cells)
    return f'<tr data-doc="{escape(s.doc_id)}">{tds}</tr>'


def library_choices(sources: list[SourceInfo]) -> list[tuple[str, str]]:
    """(label, doc id) pairs for choosing an article to remove."""
    return [(f"{s.title[:80]} — {source_label(s.source)}", s.doc_id) for s in sources]


def library_summary(sources: list[SourceInfo]) -> str:
    """'3 articles, 41 passages' (plain text)."""
    articles = len(sources)
    passages = sum(s.chunks for s in sources)
    return f"{_plural(articles, 'article')}, {_plural(passages, 'passage')} indexed"


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def report_html(report: IndexReport, action: str = "Indexing") -> str:
    """Counts of one indexing run, then one line per rejected file with its reason."""
    counts = [
        ("added", report.added),
        ("updated", report.updated),
        ("unchanged", report.unchanged),
        ("removed", report.removed),
        ("errors", len(report.errors)),
    ]
    pills = "".join(
        f'<span class="pill {name}{" zero" if n == 0 else ""}">{n} {name}</span>'
        for name, n in counts
    )
    status = "warn" if report.errors else "ok"
    rows = "".join(
        f"<li><b>{escape(source_label(e.path))}</b>: {escape(e.error)}</li>" for e in report.errors
    )
    errors = f'<ul class="report-errors">{rows}</ul>' if rows else ""
    return (
        f'<div class="report {status}"><div class="report-head">{escape(action)} finished: '
        f"{_plural(report.chunks, 'passage')} written</div>"
        f'<div class="pills">{pills}</div>{errors}</div>'
    )


def notice_html(message: str, kind: str = "warn") -> str:
    """A short message box in the library (refusals, busy index, removals)."""
    kind = kind if kind in {"ok", "warn", "error"} else "warn"
    return f'<div class="report {kind}"><div class="report-head">{escape(message)}</div></div>'


def examples_heading(articles: int, examples: int, read_only: bool = False) -> str:
    """What stands above the example questions: "Try asking", or what to do when there is
    nothing to ask about yet."""
    if examples:
        return '<div class="try">Try asking</div>'
    if articles:
        return ""
    hint = "" if read_only else " Add some in the Library tab."
    return f'<div class="try empty">No articles are indexed yet.{hint}</div>'


def header_html(articles: int, read_only: bool = False) -> str:
    """The one-line explanation at the top of the page, with the article count."""
    mode = ' <span class="badge">read-only</span>' if read_only else ""
    count = _plural(articles, "indexed article")
    return (
        '<div class="app-head"><div class="app-title">News assistant' + mode + "</div>"
        '<div class="app-sub">Ask questions about your news articles. Every answer sentence '
        f'is quoted from a source you can check. <span class="count">{count}</span></div></div>'
    )
