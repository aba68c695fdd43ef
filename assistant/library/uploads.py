"""Articles added through the web UI: checked on the server, then written to one folder.

The browser's file-type filter is only a hint. Here every upload is checked by extension,
size and content (no executables or binary data behind a text extension), and written
under the uploads folder with a sanitised name and no execute permission, never anywhere
else. Pasted text is saved the same way, as a ``.txt`` file.
"""

from __future__ import annotations

import hashlib
import os
import re
import unicodedata
from pathlib import Path

from assistant.library import formats, ingest

_BINARY_MAGIC = {
    b"MZ": "a Windows executable",
    b"\x7fELF": "a Linux executable",
    b"\xcf\xfa\xed\xfe": "a macOS executable",
    b"\xca\xfe\xba\xbe": "a macOS or Java executable",
    b"PK\x03\x04": "a zip archive",
    b"\x1f\x8b": "a gzip archive",
    b"%PDF": "a PDF document",
    b"\x89PNG": "a PNG image",
    b"\xff\xd8\xff": "a JPEG image",
    b"GIF8": "a GIF image",
    b"#!": "a script",
}
_SNIFF_BYTES = 8192
_NAME_MAX = 80


class UploadError(ValueError):
    """An upload was refused; the message says why."""


def supported_suffixes() -> set[str]:
    """File extensions the ingestion stage can read (grows as formats are added)."""
    return set(formats.SUPPORTED_SUFFIXES)


def safe_filename(name: str) -> str:
    """A harmless file name: no folders, no leading dots, only ``[A-Za-z0-9._-]``."""
    decomposed = unicodedata.normalize("NFKD", name or "")
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))  # "é" -> "e"
    base = re.split(r"[\\/]", plain)[-1]
    stem, dot, suffix = base.rpartition(".")
    if not dot:
        stem, suffix = base, ""
    stem = re.sub(r"[^A-Za-z0-9_-]+", "_", stem).strip("_-.")[:_NAME_MAX] or "article"
    suffix = re.sub(r"[^A-Za-z0-9]+", "", suffix).lower()[:10]
    return f"{stem}.{suffix}" if suffix else stem


def check_upload(name: str, head: bytes, size: int, max_bytes: int) -> str:
    """The upload's lower-case extension, or ``UploadError`` saying why it is refused.

    ``head`` is the first bytes of the file: text formats must not start like a program,
    archive or image and must not contain NUL bytes.
    """
    suffix = Path(safe_filename(name)).suffix.lower()
    allowed = supported_suffixes()
    if suffix not in allowed:
        kinds = ", ".join(sorted(allowed))
        raise UploadError(f"{suffix or 'files without an extension'} not accepted; use {kinds}")
    if size > max_bytes:
        raise UploadError(f"the file is {size:,} bytes, over the {max_bytes:,}-byte limit")
    if size == 0:
        raise UploadError("the file is empty")
    if suffix in ingest.TEXT_SUFFIXES | ingest.HTML_SUFFIXES:
        for magic, kind in _BINARY_MAGIC.items():
            if head.startswith(magic):
                raise UploadError(f"the content is {kind}, not a {suffix} article")
        if b"\x00" in head and not head.startswith((b"\xff\xfe", b"\xfe\xff")):
            raise UploadError(f"the content is binary data, not a {suffix} article")
    return suffix


def _inside(folder: Path, path: Path) -> Path:
    """``path`` resolved, provided it lies inside ``folder`` (defence in depth)."""
    resolved = path.resolve()
    if not resolved.is_relative_to(folder.resolve()):
        raise UploadError("refused to write outside the uploads folder")
    return resolved


def write_upload(folder: Path, name: str, data: bytes) -> Path:
    """Write ``data`` as ``name`` (sanitised) inside ``folder``, readable but not executable.

    A file of the same name is replaced, so uploading a corrected article updates it.
    """
    folder.mkdir(parents=True, exist_ok=True)
    path = _inside(folder, folder / safe_filename(name))
    tmp = path.with_name(f".{path.name}.partial")
    tmp.write_bytes(data)
    os.chmod(tmp, 0o644)
    tmp.replace(path)  # atomic: an indexer never reads half a file
    return path


def store_file(folder: Path, source: Path, name: str, max_bytes: int) -> Path:
    """Check one uploaded file and copy it into ``folder``; returns the stored path."""
    size = source.stat().st_size
    with source.open("rb") as handle:
        head = handle.read(_SNIFF_BYTES)
    check_upload(name, head, size, max_bytes)
    return write_upload(folder, name, source.read_bytes())


def text_filename(title: str, text: str) -> str:
    """A file name for pasted text, from its title (or first line) and a content hash."""
    first = title.strip() or next((line for line in text.splitlines() if line.strip()), "")
    digest = hashlib.sha256(f"{title}\n{text}".encode()).hexdigest()[:8]
    stem = safe_filename(first[:60]).rsplit(".", 1)[0] if first else "pasted"
    return f"{stem}-{digest}.txt"


def pasted_article(title: str, text: str, max_bytes: int) -> tuple[str, bytes]:
    """The file name and bytes for pasted text; the title becomes the first line."""
    text = (text or "").replace("\r\n", "\n").strip()
    title = " ".join((title or "").split())
    if not text:
        raise UploadError("paste some article text first")
    if "\x00" in text:
        raise UploadError("the text contains NUL characters")
    body = f"{title}\n\n{text}\n" if title else f"{text}\n"
    data = body.encode("utf-8")
    if len(data) > max_bytes:
        raise UploadError(f"the text is {len(data):,} bytes, over the {max_bytes:,}-byte limit")
    return text_filename(title, text), data
