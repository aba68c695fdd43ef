"""Publication dates: normalised to ISO ``YYYY-MM-DD``, filtered by range, and the period a
question names ("this week", "in June 2024") as a soft retrieval preference.

Every article carries at most one date, from (first found) its feed entry, its HTML meta
tags (``htmldate``), a ``Published:`` line or its URL (``/2024/06/05/``); none when unknown.
Chunks store it as a number (``date_num``, ``YYYYMMDD``, 0 when unknown) so Chroma can filter
on it and the BM25 side can mask by it.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta

UNDATED = 0
_YEAR = re.compile(r"(?<!\d)(1[89]\d\d|20\d\d|21\d\d)(?!\d)")
_URL_DATE = re.compile(
    r"/((?:19|20)\d\d)[/-](0?[1-9]|1[0-2])[/-](0?[1-9]|[12]\d|3[01])(?:[/-]|$|\.|_)"
)
_MONTHS = {name.lower(): i for i, name in enumerate(calendar.month_name) if name}
_MONTHS |= {name.lower(): i for i, name in enumerate(calendar.month_abbr) if name}
_MONTHS.pop("may", None)  # "may" is far likelier the verb; "May" as a month needs a year
_MONTH_RE = "|".join(sorted(_MONTHS, key=len, reverse=True))


class DateError(ValueError):
    """A date given by the user (``--since``/``--until``) cannot be read."""


def normalize_date(raw: str | None) -> str:
    """``raw`` as ``YYYY-MM-DD``, or "" when it names no full day (year or month only,
    text without a four-digit year, nonsense)."""
    raw = (raw or "").strip()
    if not raw or not _YEAR.search(raw) or len(raw) > 80:
        return ""
    try:
        return _plausible(datetime.fromisoformat(raw.replace("Z", "+00:00")).date())
    except ValueError:
        pass
    from dateutil import parser

    try:
        # Two different defaults: a part the text lacks shows up as a difference.
        one = parser.parse(raw, default=datetime(2001, 1, 1), fuzzy=False)
        two = parser.parse(raw, default=datetime(2002, 2, 2), fuzzy=False)
    except (ValueError, OverflowError, TypeError):
        return ""
    return _plausible(one.date()) if one.date() == two.date() else ""


def _plausible(day: date) -> str:
    return day.isoformat() if 1900 <= day.year <= 2100 else ""


def date_from_url(url: str | None) -> str:
    """The day in a URL path such as ``/2024/06/05/`` or ``/2024-06-05-``, else ""."""
    match = _URL_DATE.search(url or "")
    if not match:
        return ""
    try:
        return _plausible(date(int(match[1]), int(match[2]), int(match[3])))
    except ValueError:
        return ""


def html_date(html: str, url: str = "") -> str:
    """The publication date in a page's markup (meta tags, ``<time>``, JSON-LD) or URL,
    found by ``htmldate`` without a text search; "" when there is none."""
    import logging

    from htmldate import find_date

    logging.getLogger("htmldate").setLevel(logging.ERROR)
    try:
        found = find_date(html, extensive_search=False, original_date=True, url=url or None)
    except Exception:  # htmldate is best effort; an unknown date is not an error
        return ""
    return normalize_date(found)


def date_number(iso: str | None) -> int:
    """``YYYY-MM-DD`` as the integer ``YYYYMMDD`` (0 when undated): ordered like the dates."""
    iso = normalize_date(iso)
    return int(iso.replace("-", "")) if iso else UNDATED


def from_number(number: int) -> date | None:
    """The day a ``date_num`` stands for, or None when undated."""
    if not number:
        return None
    return date(number // 10000, number // 100 % 100, number % 100)


def parse_user_date(value: str | None, option: str) -> int | None:
    """A ``--since``/``--until`` value as a ``date_num`` (None when not given)."""
    value = (value or "").strip()
    if not value:
        return None
    iso = normalize_date(value)
    if not iso:
        raise DateError(f"{option} must be a date like 2024-06-05, got {value!r}")
    return date_number(iso)


def range_filter(since: int | None, until: int | None) -> dict | None:
    """A Chroma ``where`` for chunks dated in ``[since, until]`` (undated ones never
    match: nothing says they are in the range), or None for no limit."""
    if since is None and until is None:
        return None
    if since is not None and until is not None and since > until:
        raise DateError("--since is after --until: no day is in that range")
    low = {"date_num": {"$gte": since if since is not None else 1}}
    if until is None:
        return low
    return {"$and": [low, {"date_num": {"$lte": until}}]}


def in_range(number: int, since: int | None, until: int | None) -> bool:
    """The BM25 side's test of one article's ``date_num`` (same rule as ``range_filter``)."""
    if since is None and until is None:
        return True
    return number != UNDATED and (since or 0) <= number <= (until or 99991231)


# --- the period a question names -------------------------------------------------------
@dataclass(frozen=True)
class Period:
    """Days ``start`` to ``end`` (inclusive) that a question names, and the words naming it."""

    start: date
    end: date
    phrase: str

    def contains(self, day: date) -> bool:
        return self.start <= day <= self.end


_RELATIVE = re.compile(
    r"\b(today|yesterday|(?:this|last|past) (?:week|month|year))\b", re.IGNORECASE
)
_MONTH_YEAR = re.compile(rf"\b(?:in |during )?({_MONTH_RE}|may)\.? (\d{{4}})\b", re.IGNORECASE)
_MONTH_ONLY = re.compile(rf"\b(?:in|during) ({_MONTH_RE})\b", re.IGNORECASE)
_DAY = re.compile(
    rf"\bon ({_MONTH_RE}|may)\.? (\d{{1,2}})(?:st|nd|rd|th)?(?:,? (\d{{4}}))?\b", re.IGNORECASE
)
_IN_YEAR = re.compile(r"\b(?:in|during) (\d{4})\b", re.IGNORECASE)


def question_period(question: str, newest: date | None) -> Period | None:
    """The period ``question`` names, read relative to ``newest`` (the newest article's
    day: news is read as of its latest story, not as of today's clock); None when it names
    none or there is no dated article."""
    if newest is None:
        return None
    text = question or ""
    for finder in (_day_period, _month_year_period, _relative_period, _month_period):
        found = finder(text, newest)
        if found:
            return found
    match = _IN_YEAR.search(text)
    if match and 1900 <= int(match[1]) <= 2100:
        year = int(match[1])
        return Period(date(year, 1, 1), date(year, 12, 31), match[0])
    return None


def _relative_period(text: str, newest: date) -> Period | None:
    match = _RELATIVE.search(text)
    if not match:
        return None
    phrase = match[1].lower()
    if phrase in {"today", "yesterday"}:
        day = newest - timedelta(days=phrase == "yesterday")
        return Period(day, day, match[0])
    which, unit = phrase.split()
    back = which == "last"
    if unit == "week":
        end = newest - timedelta(days=7 * back)
        return Period(end - timedelta(days=6), end, match[0])
    if unit == "month":
        year, month = (newest.year, newest.month)
        if back:
            year, month = (year, month - 1) if month > 1 else (year - 1, 12)
        return _month(year, month, match[0])
    year = newest.year - back
    return Period(date(year, 1, 1), date(year, 12, 31), match[0])


def _month(year: int, month: int, phrase: str) -> Period:
    return Period(
        date(year, month, 1), date(year, month, calendar.monthrange(year, month)[1]), phrase
    )


def _month_year_period(text: str, newest: date) -> Period | None:
    match = _MONTH_YEAR.search(text)
    if not match:
        return None
    return _month(int(match[2]), _MONTHS.get(match[1].lower(), 5), match[0])


def _month_period(text: str, newest: date) -> Period | None:
    match = _MONTH_ONLY.search(text)
    if not match:
        return None
    month = _MONTHS[match[1].lower()]
    year = newest.year if month <= newest.month else newest.year - 1  # the latest such month
    return _month(year, month, match[0])


def _day_period(text: str, newest: date) -> Period | None:
    match = _DAY.search(text)
    if not match:
        return None
    month, day = _MONTHS.get(match[1].lower(), 5), int(match[2])
    year = int(match[3]) if match[3] else newest.year
    try:
        found = date(year, month, day)
    except ValueError:
        return None
    if not match[3] and found > newest:
        found = found.replace(year=year - 1)  # "on June 5" asked in March: last June
    return Period(found, found, match[0])


def period_bonus(period: Period | None, date_num: int) -> float:
    """1.0 for a passage dated inside ``period``, else 0. Undated passages get 0 like
    passages outside it: the preference only ever adds, so it never hides one (the
    passage ranker reads it as a feature, ``answer.features``)."""
    day = from_number(date_num) if period else None
    return 1.0 if day is not None and period.contains(day) else 0.0


# --- what the index holds ---------------------------------------------------------------
@dataclass(frozen=True)
class DocDates:
    """Each committed article's ``date_num`` and the newest day among them."""

    by_doc: Mapping[str, int]
    newest: date | None

    @classmethod
    def from_records(cls, records: Mapping[str, Mapping]) -> DocDates:
        """From the store's article records (an index built before dates were numbers
        has only the ``date`` text: it is read the same way)."""
        by_doc = {
            doc_id: int(meta.get("date_num") or date_number(meta.get("date", "")))
            for doc_id, meta in records.items()
        }
        return cls(by_doc, from_number(max(by_doc.values(), default=UNDATED)))

    def docs_in_range(self, since: int | None, until: int | None) -> frozenset[str] | None:
        """The articles dated in the range, or None when there is no range."""
        if since is None and until is None:
            return None
        return frozenset(d for d, n in self.by_doc.items() if in_range(n, since, until))


def backfill_date_numbers(store) -> int:
    """Give ``date_num`` (and an ISO ``date``) to the records and chunks of articles
    indexed before dates were normalised, so Chroma's range filter sees them. Writers
    call it; returns the number of articles updated."""
    records = store.doc_records()
    stale = [doc_id for doc_id, meta in records.items() if "date_num" not in meta]
    for doc_id in stale:
        iso = normalize_date(records[doc_id].get("date", ""))
        fields = {"date": iso, "date_num": date_number(iso)}
        ids = store.chunks.get(where={"doc_id": doc_id}, include=[])["ids"]
        if ids:
            store.chunks.update(ids=ids, metadatas=[fields] * len(ids))
        store.docs.update(ids=[doc_id], metadatas=[fields])
    return len(stale)
