"""Incremental indexing with the real model and Chroma: bad inputs, sources, sync, rebuild,
the writer lock and what readers see while a run is in progress."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

import pytest
from typer.testing import CliRunner

from assistant.cli import app
from assistant.config import load_settings
from assistant.library.ingest import parse_text
from assistant.library.inputs import load_paths
from assistant.locks import IndexBusyError
from assistant.store.chunking import chunk_document
from tests.conftest import SEEDS
from tests.httpserver import closed_port_url, serve
from tests.indexstate import index_state
from tests.pdfs import encrypt_pdf, make_pdf

GOOD = (
    "Lighthouse keeper retires\n\n"
    "After forty-one years, the keeper of the Skerry Point lighthouse retired on Friday.\n\n"
    "She said the hardest winter was 1987, when ice closed the harbour for nine weeks.\n"
)
CAP = 20 * 1024 * 1024


def article(title: str, *sentences: str) -> str:
    return title + "\n\n" + "\n\n".join(sentences) + "\n"


@pytest.fixture(scope="module")
def server():
    with serve() as (base, _):
        yield base


@dataclass
class BadInput:
    """Writes one bad input under ``folder``; returns the inputs and the expected errors."""

    name: str
    build: callable
    settings: dict | None = None


def _file(name: str, data: bytes | str):
    def build(folder: Path, base: str):
        path = folder / name
        path.write_bytes(data if isinstance(data, bytes) else data.encode())
        return [str(path)], [os.path.abspath(path)]

    return build


def _url(path: str):
    def build(folder: Path, base: str):
        url = base + path if path.startswith("/") else closed_port_url()
        return [url], [url]

    return build


def _dotdot(folder: Path, base: str):
    (folder / "sub").mkdir()
    (folder / "x.txt").write_text(article("X", "A sentence of x."))
    raw = str(folder / "sub" / ".." / "x.txt")
    return [raw], [raw]


def _control(folder: Path, base: str):
    path = folder / "bell\x07name.txt"
    path.write_text(article("Bell", "A sentence."))
    return [str(path)], [os.path.abspath(path).replace("\x07", "\\x07")]


BAD_INPUTS = {
    "empty": (_file("empty.txt", ""), "empty file: no text to index"),
    "whitespace": (_file("blank.md", "  \n\t \n\n"), "empty file: no text to index"),
    "only-markup": (
        _file("s.html", "<html><head><script>var a=1;</script><style>p{}</style></head></html>"),
        "no readable text in the HTML (only markup or scripts)",
    ),
    "binary-as-txt": (
        _file("photo.txt", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x01\x00" * 10),
        "binary data (NUL bytes), not a text file",
    ),
    "broken-pdf": (
        _file("broken.pdf", make_pdf(["Title", "Body text."])[:300]),
        "broken PDF, cannot be read: ",
    ),
    "text-as-pdf": (_file("fake.pdf", "just text\n"), "broken PDF, cannot be read: "),
    "encrypted-pdf": (
        _file("locked.pdf", encrypt_pdf(make_pdf(["Title", "Body text."]), "secret")),
        "the PDF is encrypted (password protected); decrypt it first",
    ),
    "image-only-pdf": (
        _file("scan.pdf", make_pdf([])),
        "the PDF has no extractable text (scanned images?)",
    ),
    "over-default-cap": (
        _file("huge.txt", b"a" * (CAP + 1)),
        "the file is 20,971,521 bytes, over the 20,971,520-byte cap (setting max_file_bytes)",
    ),
    "unsupported": (_file("report.docx", b"PK\x03\x04"), "unsupported file type .docx"),
    "dotdot-path": (
        _dotdot,
        "the path contains '..' (a parent-folder reference); give it without '..'",
    ),
    "control-char-name": (_control, "the name contains control characters; rename the file"),
    "url-404": (_url("/missing"), "the server answered HTTP 404 Not Found"),
    "url-unreachable": (_url("closed"), "could not reach 127.0.0.1:"),
    "url-50mb": (_url("/huge"), "the response is over the 20,971,520-byte cap; stopped reading"),
}


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_bad_input_is_a_clear_error_and_touches_nothing_else(
    case, seed_copy, make_assistant, tmp_path, server
):
    build, message = BAD_INPUTS[case]
    assistant = make_assistant(index_dir=seed_copy)
    before = index_state(assistant.store)
    folder = tmp_path / "in"
    folder.mkdir()
    good = folder / "good.txt"
    good.write_text(GOOD)
    inputs, shown = build(folder, server)

    report = assistant.index([str(good), *inputs])

    assert [e.path for e in report.errors] == shown
    assert report.errors[0].error.startswith(message), report.errors[0].error
    good_doc = parse_text(GOOD, str(good))
    expected_chunks = len(chunk_document(good_doc, assistant.embedder.count_tokens, 200, 1))
    assert index_state(assistant.store) == {
        **before,
        good_doc.doc_id: (expected_chunks, (os.path.abspath(good),)),
    }
    assert (report.added, report.updated, report.removed) == (1, 0, 0)


def test_configured_cap(make_assistant, tmp_path):
    assistant = make_assistant(max_file_bytes=1000)
    big = tmp_path / "big.txt"
    big.write_text(article("Big", *["A sentence that takes space." for _ in range(40)]))
    report = assistant.index([str(big)])
    assert report.errors[0].error.startswith("the file is 1,")
    assert "over the 1,000-byte cap" in report.errors[0].error
    assert index_state(assistant.store) == {}


def test_same_file_twice_in_one_run_is_read_once(make_assistant, tmp_path):
    path = tmp_path / "good.txt"
    path.write_text(GOOD)
    assistant = make_assistant()
    report = assistant.index([str(path), str(tmp_path), str(path)])
    assert report.added == 1 and report.unchanged == 0
    assert [e.error for e in report.errors] == ["given more than once in this run; read once"] * 2
    assert list(index_state(assistant.store).values())[0][1] == (str(path),)


def test_jsonl_bad_line_fails_alone(make_assistant, tmp_path):
    path = tmp_path / "feed.jsonl"
    lines = [
        {
            "title": "Ferry strike ends",
            "url": "https://n.example/ferry",
            "date": "2024-03-01",
            "text": "Ferry crews returned to work on Monday after a two-week strike.",
        },
        "{broken json",
        {"title": "Library opens", "text": "The new library opened with 80,000 books."},
    ]
    path.write_text("\n".join(x if isinstance(x, str) else json.dumps(x) for x in lines))
    assistant = make_assistant()
    report = assistant.index([str(path)])
    assert report.added == 2
    assert [e.path for e in report.errors] == [f"{path}#L2"]
    assert report.errors[0].error.startswith("not valid JSON: ")
    sources = {s.title: s for s in assistant.sources()}
    assert sources["Ferry strike ends"].source == "https://n.example/ferry"
    assert sources["Library opens"].sources == [f"{path}#L3"]
    answer = assistant.ask("When did the ferry crews return to work?")
    assert answer.citations[0].url == "https://n.example/ferry"


def test_charsets_are_indexed_with_their_exact_text(make_assistant, tmp_path):
    texts = {
        "cp1252.txt": ("cp1252", article("Café “owners” protest", "Prices rose by €3 — again.")),
        "latin1.txt": ("latin-1", article("Noël à Genève", "Ça coûte très cher, déjà.")),
        "utf16.txt": ("utf-16", article("Zürich votes", "Die Wähler stimmten zu.")),
    }
    for name, (encoding, text) in texts.items():
        (tmp_path / name).write_bytes(text.encode(encoding))
    assistant = make_assistant()
    assert assistant.index([str(tmp_path)]).added == 3
    stored = {
        Path(s.source).name: assistant.store.get_document(s.doc_id).text
        for s in assistant.sources()
    }
    assert stored == {name: text for name, (_, text) in texts.items()}


def test_two_paths_one_article_then_one_path_changes(make_assistant, tmp_path):
    a, b = tmp_path / "a.txt", tmp_path / "b.txt"
    a.write_text(GOOD)
    b.write_text(GOOD)
    assistant = make_assistant()
    first = assistant.index([str(tmp_path)])
    assert (first.added, first.unchanged) == (1, 1)
    ((doc_id, (n, sources)),) = index_state(assistant.store).items()
    assert sources == (str(a), str(b))

    b.write_text(article("Harbour dredging starts", "Dredgers arrived at the harbour today."))
    second = assistant.index([str(tmp_path)])
    assert (second.added, second.updated, second.unchanged, second.removed) == (0, 1, 1, 0)
    state = index_state(assistant.store)
    assert state[doc_id] == (n, (str(a),))
    assert len(state) == 2
    new_id = next(iter(state.keys() - {doc_id}))
    assert state[new_id][1] == (str(b),) and second.chunks == state[new_id][0]


def test_swapped_contents_reembed_nothing(make_assistant, tmp_path):
    a, b = tmp_path / "a.txt", tmp_path / "b.txt"
    one = article("One", "The first story is about trains.")
    two = article("Two", "The second story is about boats.")
    a.write_text(one)
    b.write_text(two)
    assistant = make_assistant()
    assistant.index([str(tmp_path)])
    a.write_text(two)
    b.write_text(one)
    report = assistant.index([str(tmp_path)])
    assert (report.updated, report.chunks, report.removed) == (2, 0, 0)
    by_title = {s.title: s.sources for s in assistant.sources()}
    assert by_title == {"One": [str(b)], "Two": [str(a)]}
    index_state(assistant.store)


def test_sync_forgets_gone_files_but_keeps_shared_articles(make_assistant, tmp_path):
    folder = tmp_path / "news"
    (folder / "sub").mkdir(parents=True)
    a, b, c = folder / "a.txt", folder / "sub" / "b.txt", folder / "c.txt"
    a.write_text(GOOD)
    b.write_text(GOOD)
    c.write_text(article("Council budget", "The council passed its budget on Tuesday."))
    other = tmp_path / "elsewhere.txt"
    other.write_text(article("Elsewhere", "This file lives outside the synced folder."))
    assistant = make_assistant()
    assistant.index([str(folder), str(other)])
    a.unlink()
    c.unlink()
    other.unlink()

    plain = assistant.index([str(folder)])
    assert (plain.removed, len(assistant.sources())) == (0, 3)

    report = assistant.index([str(folder)], sync=True)
    assert (report.removed, report.unchanged) == (1, 1)
    titles = {s.title: s for s in assistant.sources()}
    assert set(titles) == {"Lighthouse keeper retires", "Elsewhere"}
    assert titles["Lighthouse keeper retires"].sources == [str(b)]
    assert titles["Lighthouse keeper retires"].source == str(b)
    answer = assistant.ask("When did the lighthouse keeper retire?")
    assert answer.citations and {c.source for c in answer.citations} == {str(b)}
    index_state(assistant.store)


def test_sync_keeps_files_that_are_present_but_now_bad(make_assistant, tmp_path):
    path = tmp_path / "a.txt"
    path.write_text(GOOD)
    assistant = make_assistant()
    assistant.index([str(tmp_path)])
    before = index_state(assistant.store)
    path.write_text("")
    report = assistant.index([str(tmp_path)], sync=True)
    assert report.errors and report.removed == 0
    assert index_state(assistant.store) == before


def test_jsonl_changed_and_removed_lines(make_assistant, tmp_path):
    path = tmp_path / "feed.jsonl"
    rows = [
        {"title": f"Story {n}", "text": f"Story number {n} happened on day {n}."} for n in "123"
    ]
    path.write_text("\n".join(json.dumps(r) for r in rows))
    assistant = make_assistant()
    assert assistant.index([str(path)]).added == 3
    rows[1]["text"] = "Story number 2 was corrected on day 9."
    path.write_text("\n".join(json.dumps(r) for r in rows[:2]))
    report = assistant.index([str(path)])
    assert (report.unchanged, report.updated, report.removed) == (1, 1, 1)
    assert sorted(s.sources[0] for s in assistant.sources()) == [f"{path}#L1", f"{path}#L2"]
    index_state(assistant.store)


def test_urls_are_indexed_once(make_assistant, server):
    assistant = make_assistant()
    url = f"{server}/article.html"
    assert assistant.index([url]).added == 1
    again = assistant.index([url])
    assert (again.added, again.unchanged, again.chunks) == (0, 1, 0)
    (info,) = assistant.sources()
    assert info.source == url and info.title == "Harbour bridge reopens"


def test_remove_accepts_a_relative_path(make_assistant, tmp_path, monkeypatch):
    (tmp_path / "a.txt").write_text(GOOD)
    assistant = make_assistant()
    assistant.index([str(tmp_path)])
    monkeypatch.chdir(tmp_path)
    assert len(assistant.remove("a.txt")) == 1
    assert index_state(assistant.store) == {}


def test_progress_reports_each_input(make_assistant, tmp_path):
    for n in range(3):
        (tmp_path / f"{n}.txt").write_text(article(f"Story {n}", f"Sentence number {n}."))
    calls = []
    make_assistant().index([str(tmp_path)], progress=lambda d, t, p: calls.append((d, t)))
    assert calls == [(1, 3), (2, 3), (3, 3)]


# --- readers while a run is in progress ------------------------------------------------


def test_readers_never_see_chunks_before_their_record(make_assistant, tmp_path):
    writer = make_assistant()
    (tmp_path / "a.txt").write_text(GOOD)
    writer.index([str(tmp_path / "a.txt")])
    text = article("Volcano wakes", "The Okataina volcano erupted at dawn, covering farms in ash.")
    (doc,) = [r.document for r in load_paths([_write(tmp_path / "v.txt", text)], CAP)]
    chunks = chunk_document(doc, writer.embedder.count_tokens, 200, 1)
    vectors = writer.embedder.embed_documents([c.text for c in chunks])
    writer.store.write_chunks(doc, chunks, vectors)  # a writer between chunks and record
    writer.store._bump_revision()  # as if another article had just been committed

    reader = make_assistant()
    for k in (1, 5):
        passages, _ = reader.retriever.search("Okataina volcano erupted ash", k)
        assert doc.doc_id not in {p.metadata["doc_id"] for p in passages}
    writer.store.add_document(doc, chunks, vectors)
    passages, _ = reader.retriever.search("Okataina volcano erupted ash", 1)
    assert passages[0].metadata["doc_id"] == doc.doc_id
    assert passages[0].metadata["dense_score"] is not None
    assert passages[0].metadata["lexical_score"] is not None


def test_orphan_chunks_of_a_killed_run_are_removed_by_the_next(make_assistant, tmp_path):
    assistant = make_assistant()
    (doc,) = [r.document for r in load_paths([_write(tmp_path / "a.txt", GOOD)], CAP)]
    chunks = chunk_document(doc, assistant.embedder.count_tokens, 200, 1)
    assistant.store.write_chunks(
        doc, chunks, assistant.embedder.embed_documents(["x"] * len(chunks))
    )
    assert assistant.store.chunk_counts() == {doc.doc_id: len(chunks)}
    assert assistant.sources() == []
    report = assistant.index([])
    assert report.chunks == 0 and assistant.store.chunk_counts() == {}


def _write(path: Path, text: str) -> str:
    path.write_text(text)
    return str(path)


def test_update_shows_old_or_new_article_whole(make_assistant, tmp_path):
    from assistant.store.indexer import IndexRun

    path = tmp_path / "a.txt"
    path.write_text(article("Bridge vote", "The council approved the bridge on Monday."))
    writer = make_assistant()
    writer.index([str(path)])
    reader = make_assistant()
    old_id = reader.sources()[0].doc_id

    path.write_text(article("Bridge vote", "The council rejected the bridge on Tuesday."))
    run = IndexRun(writer.store)
    run.run(load_paths([str(path)], CAP), 1)
    run.flush()  # new version committed; the old one is deleted only when the run finishes
    seen = {p.metadata["doc_id"] for p in reader.retriever.search("council bridge", 5)[0]}
    assert len(seen) == 2 and old_id in seen
    index_state(writer.store)  # both complete
    run.finish([], set())
    seen = {p.metadata["doc_id"] for p in reader.retriever.search("council bridge", 5)[0]}
    assert seen == {run.by_source[str(path)].copy().pop()} and old_id not in seen
    index_state(writer.store)


# --- the writer lock -------------------------------------------------------------------


def test_second_writer_fails_at_once(make_assistant, tmp_path):
    assistant = make_assistant()
    lock_path = Path(assistant.settings.index_dir) / ".writer.lock"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time\nfrom filelock import FileLock\n"
            f"lock = FileLock({str(lock_path)!r})\nlock.acquire()\n"
            "print('locked', flush=True)\ntime.sleep(120)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        (tmp_path / "a.txt").write_text(GOOD)
        outcome = {}

        def attempt():
            try:
                assistant.index([str(tmp_path / "a.txt")])
            except IndexBusyError as exc:
                outcome["error"] = str(exc)

        thread = threading.Thread(target=attempt)
        thread.start()
        thread.join(timeout=60)
        assert not thread.is_alive(), "a second writer must not wait for the lock"
        assert "another `assistant index` is already writing to" in outcome["error"]
        result = CliRunner().invoke(
            app,
            ["index", str(tmp_path / "a.txt"), "--index-dir", str(assistant.settings.index_dir)],
        )
        assert result.exit_code == 2 and "already writing" in result.output
        assert index_state(assistant.store) == {}
    finally:
        holder.kill()
        holder.wait()
    assert assistant.index([str(tmp_path / "a.txt")]).added == 1


# --- rebuild ---------------------------------------------------------------------------


class HashEmbedder:
    """Another "model" (fixed pseudo-random vectors) to build an index the real one can't
    open; it counts tokens with the real tokenizer so chunks look normal."""

    model_name = "hash-test-embedder"
    dimension = 16

    def __init__(self, real):
        self.count_tokens = real.count_tokens

    def _vector(self, text: str) -> list[float]:
        import hashlib

        digest = hashlib.sha256(text.encode()).digest()
        return [b / 255 for b in digest[: self.dimension]]

    def embed_documents(self, texts):
        return [self._vector(t) for t in texts]

    def embed_query(self, text):
        return self._vector(text)


def test_rebuild_opens_an_index_of_another_model(tmp_path, embedder):
    from assistant.service import Assistant
    from assistant.store.articles import ModelMismatchError

    index_dir = tmp_path / "idx"
    settings = load_settings(index_dir=index_dir)
    (tmp_path / "extra.txt").write_text(GOOD)
    Assistant(settings, embedder=HashEmbedder(embedder)).index([str(SEEDS), str(tmp_path)])
    with pytest.raises(ModelMismatchError, match="reindex --rebuild"):
        Assistant(settings, embedder=embedder)

    result = CliRunner().invoke(
        app, ["reindex", "--rebuild", "--index-dir", str(index_dir), "--json"]
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["updated"] == 2

    assistant = Assistant(settings, embedder=embedder)
    assert assistant.store.chunks.metadata["embedding_model"] == embedder.model_name
    answer = assistant.ask("What did Putin say about South Korea?")
    assert any("big mistake" in c.quote for c in answer.citations)
    assert len(index_state(assistant.store)) == 2
    assert "articles-rebuild" not in {c.name for c in assistant.store.client.list_collections()}


def test_rebuild_rechunks_with_new_settings_and_a_killed_swap_finishes_on_open(
    make_assistant, make_settings, embedder, tmp_path, monkeypatch
):
    from chromadb.api.models.Collection import Collection

    from assistant.store.rebuild import rebuild_index

    assistant = make_assistant()
    assistant.index([str(SEEDS)])
    before = index_state(assistant.store)
    settings = make_settings(max_chunk_tokens=64)
    original = Collection.modify

    def die_before_rename(self, name=None, **kwargs):
        if name is not None:
            raise KeyboardInterrupt("killed between deleting the old and renaming the new")
        return original(self, name=name, **kwargs)

    monkeypatch.setattr(Collection, "modify", die_before_rename)
    with pytest.raises(KeyboardInterrupt):
        rebuild_index(settings, embedder)
    monkeypatch.setattr(Collection, "modify", original)

    reopened = make_assistant(max_chunk_tokens=64)
    after = index_state(reopened.store)
    (doc_id,) = after
    assert after[doc_id][0] > before[doc_id][0]  # smaller chunks, more of them
    answer = reopened.ask("What did Putin say about South Korea?")
    assert any("big mistake" in c.quote for c in answer.citations)


# --- command line ----------------------------------------------------------------------


def test_cli_sync_errors_and_reindex(tmp_path, embedder):
    folder = tmp_path / "news"
    folder.mkdir()
    (folder / "a.txt").write_text(GOOD)
    (folder / "b.txt").write_text(article("Bakery closes", "The bakery on Mill Lane closed."))
    (folder / "empty.txt").write_text("")
    index_dir = str(tmp_path / "idx")
    runner = CliRunner()
    result = runner.invoke(app, ["index", str(folder), "--index-dir", index_dir])
    assert result.exit_code == 1
    assert result.stdout.splitlines() == [
        "added 2, updated 0, unchanged 0, removed 0, chunks written 2, errors 1",
        f"  {folder / 'empty.txt'}: empty file: no text to index",
    ]
    (folder / "empty.txt").unlink()
    (folder / "b.txt").unlink()
    (folder / "a.txt").write_text(GOOD.replace("Friday", "Saturday"))
    result = runner.invoke(app, ["reindex", "--index-dir", index_dir, "--json"])
    report = json.loads(result.stdout)
    assert (report["updated"], len(report["errors"])) == (1, 1)  # b.txt is gone: reported
    assert report["errors"][0]["error"] == "no such file or folder"
    result = runner.invoke(
        app, ["index", "--sync", str(folder), "--index-dir", index_dir, "--json"]
    )
    assert result.exit_code == 0 and json.loads(result.stdout)["removed"] == 1
