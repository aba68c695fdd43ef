"""What an index run reads: files, folders and URLs, checked, de-duplicated, then loaded.

Every input has a *source*, the key its article is recorded under: a file's absolute path,
``PATH#L<n>`` for line ``n`` of a JSONL file, or the URL as given. Bad names, missing
files and repeats are rejected here, before anything is read.
"""

from __future__ import annotations

import os
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePath

from assistant.dates import date_from_url
from assistant.library.fetch import fetch, is_url, outlet_of
from assistant.library.formats import JSONL_SUFFIX, SUPPORTED_SUFFIXES, parse_bytes, parse_jsonl
from assistant.library.ingest import IngestError, LoadResult, decode_bytes


@dataclass
class Input:
    """One file or URL to load; ``path`` is None for a URL."""

    source: str
    path: Path | None = None


@dataclass
class InputPlan:
    """Everything one run will load, in order, and the folders it walked."""

    items: list[Input | LoadResult] = field(default_factory=list)
    folders: list[str] = field(default_factory=list)

    def sources(self) -> set[str]:
        """Every file or URL this run looks at (loaded or not)."""
        return {i.source for i in self.items if isinstance(i, Input)}


def printable(name: str) -> str:
    """A name safe to print: control characters shown as escapes."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in name)


def name_problem(name: str, is_link: bool = False) -> str | None:
    """Why a path or URL is refused, or None: control characters, or ``..`` in a path."""
    if any(unicodedata.category(c) == "Cc" for c in name):
        return "the name contains control characters; rename the file"
    if not is_link and ".." in PurePath(name).parts:
        return "the path contains '..' (a parent-folder reference); give it without '..'"
    return None


def plan_inputs(paths: Iterable[str | os.PathLike]) -> InputPlan:
    """Expand folders into their supported files (sorted) and reject bad or repeated inputs."""
    plan = InputPlan()
    seen: set[str] = set()
    for raw in map(str, paths):
        for item in _expand(raw, plan):
            if isinstance(item, Input) and item.source in seen:
                item = LoadResult(item.source, error="given more than once in this run; read once")
            elif isinstance(item, Input):
                seen.add(item.source)
            plan.items.append(item)
    return plan


def _expand(raw: str, plan: InputPlan) -> Iterator[Input | LoadResult]:
    problem = name_problem(raw, is_link=is_url(raw))
    if problem:
        yield LoadResult(printable(raw), error=problem)
    elif is_url(raw):
        yield Input(raw)
    elif os.path.isdir(raw):
        plan.folders.append(os.path.abspath(raw))
        yield from _walk(Path(raw))
    elif os.path.isfile(raw):
        yield Input(os.path.abspath(raw), Path(raw))
    else:
        yield LoadResult(raw, error="no such file or folder")


def _walk(folder: Path) -> Iterator[Input | LoadResult]:
    files = sorted(p for p in folder.rglob("*") if p.suffix.lower() in SUPPORTED_SUFFIXES)
    for path in files:
        if not path.is_file():
            continue
        problem = name_problem(path.name)
        if problem:
            yield LoadResult(printable(os.path.abspath(path)), error=problem)
        else:
            yield Input(os.path.abspath(path), path)


def load_inputs(plan: InputPlan, max_bytes: int, timeout_s: float) -> Iterator[LoadResult]:
    """Load every planned input; each yields documents or one clear error."""
    for item in plan.items:
        if isinstance(item, LoadResult):
            yield item
            continue
        try:
            yield from load_input(item, max_bytes, timeout_s)
        except IngestError as exc:
            yield LoadResult(item.source, error=str(exc))
        except OSError as exc:
            yield LoadResult(item.source, error=f"cannot read the file: {exc.strerror or exc}")


def load_input(item: Input, max_bytes: int, timeout_s: float) -> Iterator[LoadResult]:
    """One file or URL as one document, or one per line for JSONL."""
    if item.path is None:
        fetched = fetch(item.source, max_bytes, timeout_s)
        data, suffix, charset = fetched.data, fetched.suffix, fetched.charset
    else:
        suffix, charset = item.path.suffix.lower(), None
        if suffix not in SUPPORTED_SUFFIXES:
            raise IngestError(f"unsupported file type {suffix or '(no suffix)'}")
        data = read_file(item.path, max_bytes)
    if suffix == JSONL_SUFFIX:
        yield from parse_jsonl(decode_bytes(data, charset), item.source)
        return
    doc = parse_bytes(data, item.source, suffix, charset)
    if item.path is None:
        doc.url = doc.url or item.source
        doc.date = doc.date or date_from_url(item.source)
        doc.outlet = doc.outlet or outlet_of(doc.url)
    yield LoadResult(item.source, document=doc)


def read_file(path: Path, max_bytes: int) -> bytes:
    """The file's bytes; never reads more than ``max_bytes + 1`` even if it grows."""
    size = path.stat().st_size
    if size <= max_bytes:
        with path.open("rb") as handle:
            data = handle.read(max_bytes + 1)
        size = len(data)
    if size > max_bytes:
        raise IngestError(
            f"the file is {size:,} bytes, over the {max_bytes:,}-byte cap (setting max_file_bytes)"
        )
    return data


def load_paths(
    paths: Iterable[str | os.PathLike], max_bytes: int, timeout_s: float = 20.0
) -> Iterator[LoadResult]:
    """Plan and load in one step (for callers that need no plan)."""
    return load_inputs(plan_inputs(paths), max_bytes, timeout_s)
