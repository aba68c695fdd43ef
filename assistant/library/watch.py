"""Scheduled refresh: every feed, then every recorded file and URL, on an interval.

``assistant watch --every 15m`` runs cycles until stopped; ``assistant serve`` runs the same
loop in a background thread when ``ASSISTANT_FEEDS_REFRESH_MINUTES`` is set. A cycle never
dies of one bad input: feed errors are recorded per feed (which then backs off), file errors
are listed, and an index busy with another writer is tried again next cycle.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from assistant.library.feeds import FeedsReport, Registry, refresh
from assistant.locks import IndexBusyError

log = logging.getLogger(__name__)
_EVERY = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smh]?)\s*$", re.IGNORECASE)
_UNIT_S = {"s": 1, "m": 60, "h": 3600, "": 60}


def parse_every(text: str) -> float:
    """``30s``, ``15m``, ``2h`` (a bare number is minutes) as seconds."""
    match = _EVERY.match(text or "")
    if not match or float(match[1]) <= 0:
        raise ValueError(f"--every must look like 30s, 15m or 2h, got {text!r}")
    return float(match[1]) * _UNIT_S[match[2].lower()]


def run_cycle(assistant, allow_private: bool, interval: timedelta) -> FeedsReport:
    """Refresh the feeds that are due, then re-read recorded files and URLs (not feed
    entries: their feeds say when they change). One combined report."""
    report = refresh(assistant, None, allow_private, interval, respect_backoff=True)
    skip = frozenset(Registry(assistant.settings.index_dir).entry_sources())
    files = assistant.reindex(skip=skip)
    for name in ("added", "updated", "unchanged", "removed", "chunks", "merged"):
        setattr(report, name, getattr(report, name) + getattr(files, name))
    report.errors += files.errors
    return report


def watch(
    assistant,
    every_s: float,
    stop: threading.Event,
    cycles: int | None = None,
    on_cycle: Callable[[int, FeedsReport | None, str], None] | None = None,
    allow_private: bool = True,
) -> int:
    """Run cycles every ``every_s`` seconds until ``stop`` is set (or ``cycles`` ran);
    ``on_cycle(number, report, error)`` hears of each. Returns the cycles run."""
    done = 0
    while not stop.is_set():
        report, error = None, ""
        try:
            report = run_cycle(assistant, allow_private, timedelta(seconds=every_s))
        except IndexBusyError as exc:
            error = f"{exc}; trying again next cycle"
        except Exception as exc:  # the loop outlives any one cycle
            log.exception("refresh cycle failed")
            error = f"refresh cycle failed: {exc}"
        done += 1
        if on_cycle:
            on_cycle(done, report, error)
        if cycles is not None and done >= cycles:
            break
        stop.wait(every_s)
    return done


def start_background(assistant, minutes: float, allow_private: bool) -> threading.Event:
    """Run ``watch`` in a daemon thread; set the returned event to stop it."""
    stop = threading.Event()

    def note(number: int, report: FeedsReport | None, error: str) -> None:
        at = datetime.now(UTC).isoformat(timespec="seconds")
        if error:
            log.warning("refresh %d at %s: %s", number, at, error)
        elif report is not None:
            log.info(
                "refresh %d at %s: %d added, %d errors",
                number,
                at,
                report.added,
                len(report.errors),
            )

    thread = threading.Thread(
        target=watch,
        args=(assistant, minutes * 60, stop),
        kwargs={"on_cycle": note, "allow_private": allow_private},
        name="feed-refresh",
        daemon=True,
    )
    thread.start()
    return stop
