"""Parsing and input checks without the model: charsets, HTML, PDF, JSONL, names, caps."""

import codecs
import os
from pathlib import Path

import pytest

from assistant.library.fetch import read_capped
from assistant.library.formats import jsonl_article, parse_bytes, parse_jsonl, parse_pdf
from assistant.library.ingest import IngestError, decode_bytes, parse_html
from assistant.library.inputs import (
    Input,
    load_paths,
    name_problem,
    plan_inputs,
    printable,
    read_file,
)
from tests.pdfs import encrypt_pdf, make_pdf

ARTICLE = (
    "Café owners in Zürich say the “new rules” cost them — roughly €300 — a month.\n\n"
    "Señor Muñoz, who runs a bakery near the station, said he would keep his prices.\n"
)
POLISH = "Rząd ogłosił w środę nowe przepisy, które wejdą w życie w styczniu.\n"
LATIN1 = "Ça coûte très cher, déjà à Noël: the café’s owner said so.\n".replace("’", "'")
PDF_LINES = [
    "Storm closes schools",
    "",
    "Heavy snow closed every school in the county on Monday, officials said.",
    "The storm is expected to move east (towards the coast) by Wednesday.",
]


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (ARTICLE.encode("cp1252"), ARTICLE),
        (LATIN1.encode("latin-1"), LATIN1),
        (POLISH.encode("cp1250"), POLISH),
        (codecs.BOM_UTF16_LE + ARTICLE.encode("utf-16-le"), ARTICLE),
        (codecs.BOM_UTF16_BE + ARTICLE.encode("utf-16-be"), ARTICLE),
        (ARTICLE.encode("utf-16-le"), ARTICLE),  # no BOM: recognised by its NUL pattern
        (codecs.BOM_UTF8 + ARTICLE.encode("utf-8"), ARTICLE),
        (ARTICLE.encode("utf-8"), ARTICLE),
    ],
    ids=[
        "cp1252",
        "latin-1",
        "cp1250",
        "utf-16-le-bom",
        "utf-16-be-bom",
        "utf-16-no-bom",
        "utf-8-bom",
        "utf-8",
    ],
)
def test_charsets_decode_exactly(data, expected):
    assert decode_bytes(data) == expected


def test_declared_charset_wins_and_a_wrong_one_falls_back():
    assert decode_bytes(ARTICLE.encode("cp1252"), "windows-1252") == ARTICLE
    assert decode_bytes(ARTICLE.encode("utf-8"), "ascii") == ARTICLE


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x01\x00", "binary data (NUL bytes)"),
        (bytes(range(1, 32)) * 20, "binary data (control characters)"),
        (codecs.BOM_UTF16_LE + b"\x00\xd8", "not valid UTF-16 text"),
    ],
)
def test_binary_data_is_rejected(data, message):
    with pytest.raises(IngestError, match=message.replace("(", r"\(").replace(")", r"\)")):
        decode_bytes(data)


def test_html_main_text_drops_scripts_navigation_and_boilerplate():
    html = """<!doctype html><html><head><title>Flood hits town</title>
    <style>body { color: red }</style><script>window.analytics = {track: 1};</script></head>
    <body><header><nav><ul><li><a href="/">Home</a></li><li><a href="/world">World</a></li>
    </ul></nav></header><div class="cookie">We use cookies. Accept all cookies</div>
    <main><article><h1>Flood hits town</h1>
    <p>Heavy rain caused the river to burst its banks on Tuesday, flooding dozens of homes.</p>
    <p>The mayor said emergency crews had rescued twelve people from the town centre.</p>
    </article><aside><h3>Most read</h3><ul><li><a href="/x">Celebrity wedding photos</a></li>
    </ul></aside></main><footer><p>Copyright 2024 Daily News. All rights reserved.</p>
    </footer><script>console.log("tracking pixel")</script></body></html>"""
    doc = parse_html(html, "page.html")
    paragraphs = [doc.text[p.start : p.end] for p in doc.paragraphs]
    assert paragraphs == [
        "Flood hits town",
        "Heavy rain caused the river to burst its banks on Tuesday, flooding dozens of homes.",
        "The mayor said emergency crews had rescued twelve people from the town centre.",
    ]
    for junk in ("analytics", "color", "Home", "cookies", "Most read", "Celebrity", "Copyright"):
        assert junk not in doc.text


def test_html_with_only_markup_and_scripts_is_rejected():
    html = "<html><head><script>var a = 1;</script><style>p {}</style></head><body><div></div>"
    with pytest.raises(IngestError, match="no readable text in the HTML"):
        parse_html(html + "<script>alert(1)</script></body></html>", "s.html")


def test_pdf_text_title_and_date():
    doc = parse_pdf(make_pdf(PDF_LINES, title="Storm closes schools"), "a.pdf")
    assert doc.title == "Storm closes schools" and doc.date == "2024-06-20"
    assert [doc.text[p.start : p.end] for p in doc.paragraphs] == PDF_LINES[2:]
    untitled = parse_pdf(make_pdf(PDF_LINES), "b.pdf")
    assert untitled.title == "Storm closes schools" and untitled.doc_id == doc.doc_id


def test_pdf_encrypted_without_a_user_password_opens():
    data = encrypt_pdf(make_pdf(PDF_LINES), user_password="")
    assert parse_pdf(data, "open.pdf").title == "Storm closes schools"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (encrypt_pdf(make_pdf(PDF_LINES), user_password="secret"), "the PDF is encrypted"),
        (make_pdf(PDF_LINES)[:300], "broken PDF, cannot be read"),
        (b"Just some text, renamed to .pdf\n", "broken PDF, cannot be read"),
        (make_pdf([]), "the PDF has no extractable text"),
    ],
    ids=["encrypted", "truncated", "not-a-pdf", "no-text"],
)
def test_bad_pdfs_are_clear_errors(data, message):
    with pytest.raises(IngestError, match=message):
        parse_bytes(data, "bad.pdf", ".pdf")


def test_jsonl_lines_are_articles_and_bad_lines_fail_alone():
    text = "\n".join(
        [
            '{"title": "Rates rise", "url": "https://n.example/r", "date": "2024-01-02", '
            '"text": "The central bank raised rates.\\n\\nMarkets fell."}',
            "",
            '{"title": "Broken", "text": "no closing brace"',
            '["not", "an", "object"]',
            '{"title": "No text"}',
            '{"title": 7, "text": "Numbers are not titles."}',
            '{"text": "Untitled story.\\nIt has a body line too."}',
        ]
    )
    results = list(parse_jsonl(text, "/data/a.jsonl"))
    assert [r.path for r in results] == [f"/data/a.jsonl#L{n}" for n in (1, 3, 4, 5, 6, 7)]
    assert {r.container for r in results} == {"/data/a.jsonl"}
    first = results[0].document
    assert (first.title, first.url, first.date) == (
        "Rates rise",
        "https://n.example/r",
        "2024-01-02",
    )
    assert [first.text[p.start : p.end] for p in first.paragraphs] == [
        "The central bank raised rates.",
        "Markets fell.",
    ]
    errors = [r.error for r in results[1:5]]
    assert errors[0].startswith("not valid JSON: ")
    assert errors[1:] == [
        'expected a JSON object {"title", "url", "date", "text"}',
        '"text" is missing or empty',
        '"title" must be a string',
    ]
    assert results[5].document.title == "Untitled story."


def test_empty_jsonl_is_a_file_error():
    with pytest.raises(IngestError, match="empty file: no articles"):
        list(parse_jsonl("\n  \n", "e.jsonl"))


def test_jsonl_article_round_trip_is_stable():
    line = '{"title": "T", "text": "Body sentence here."}'
    assert jsonl_article(line, "x#L1").doc_id == jsonl_article(line, "y#L9").doc_id


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("../secret.txt", "contains '..'"),
        ("articles/../../etc/passwd.txt", "contains '..'"),
        ("bad\x07name.txt", "control characters"),
        ("two\nlines.md", "control characters"),
        ("café ..notes.txt", None),
        ("https://example.com/a/../b.html", None),
    ],
)
def test_name_checks(name, problem):
    found = name_problem(name, is_link=name.startswith("https://"))
    assert (found is None) if problem is None else (problem in found)


def test_printable_escapes_control_characters_only():
    assert printable("café\x07\n.txt") == "café\\x07\\n.txt"


def test_plan_rejects_repeats_and_bad_names(tmp_path: Path):
    folder = tmp_path / "news"
    folder.mkdir()
    (folder / "a.txt").write_text("A\nBody of a.\n")
    (folder / "bell\x07.txt").write_text("B\nBody of b.\n")
    (folder / "notes.docx").write_text("ignored in folders")
    plan = plan_inputs([folder, folder / "a.txt", str(folder / "a.txt"), "../x.txt"])
    shown = [(i.source, None) if isinstance(i, Input) else (i.path, i.error) for i in plan.items]
    a = os.path.abspath(folder / "a.txt")
    assert shown == [
        (a, None),
        (printable(os.path.abspath(folder / "bell\x07.txt")), shown[1][1]),
        (a, "given more than once in this run; read once"),
        (a, "given more than once in this run; read once"),
        ("../x.txt", shown[4][1]),
    ]
    assert "control characters" in shown[1][1] and "'..'" in shown[4][1]
    assert plan.folders == [os.path.abspath(folder)]


def test_unsupported_and_missing_files(tmp_path: Path):
    (tmp_path / "report.docx").write_bytes(b"PK\x03\x04")
    results = list(load_paths([tmp_path / "report.docx", tmp_path / "gone.txt"], 1000))
    assert [r.error for r in results] == ["unsupported file type .docx", "no such file or folder"]


class _CountingChunks:
    """An endless body in 64 KiB blocks that counts the bytes handed out."""

    def __init__(self):
        self.given = 0

    def __iter__(self):
        while True:
            self.given += 65536
            yield b"x" * 65536


def test_read_capped_stops_at_the_first_block_past_the_cap():
    chunks = _CountingChunks()
    with pytest.raises(IngestError, match="over the 1,000,000-byte cap"):
        read_capped(chunks, 1_000_000, deadline=float("inf"))
    assert chunks.given == 16 * 65536  # the first block that went past 1,000,000 bytes


def test_read_file_enforces_the_cap(tmp_path: Path):
    path = tmp_path / "big.txt"
    path.write_bytes(b"word " * 300)
    assert len(read_file(path, 1500)) == 1500
    with pytest.raises(IngestError, match="the file is 1,500 bytes, over the 1,499-byte cap"):
        read_file(path, 1499)
