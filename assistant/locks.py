"""File locks of an index folder: one writer at a time, one lexical-index saver at a time.

The locks are ``flock`` locks: the kernel releases them when the holder dies, so a run
killed with ``kill -9`` never leaves a stale lock behind.
"""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path

from filelock import FileLock, Timeout

WRITER_LOCK = ".writer.lock"
LEXICAL_LOCK = ".lexical.lock"


class IndexBusyError(RuntimeError):
    """Another process is writing to the same index."""


@contextmanager
def writer_lock(index_dir: Path):
    """Hold the index's writer lock, or fail at once if another writer has it."""
    Path(index_dir).mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(Path(index_dir) / WRITER_LOCK))
    try:
        lock.acquire(timeout=0)
    except Timeout:
        raise IndexBusyError(
            f"another `assistant index` is already writing to {index_dir}; "
            "wait for it to finish and try again"
        ) from None
    try:
        yield
    finally:
        lock.release()


@contextmanager
def lexical_save_lock(index_dir: Path, wait_s: float):
    """Serialise saves of the BM25 folder; yields False if the lock was not had in time."""
    Path(index_dir).mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(Path(index_dir) / LEXICAL_LOCK))
    try:
        lock.acquire(timeout=wait_s)
    except Timeout:
        yield False
        return
    try:
        yield True
    finally:
        lock.release()
