from pathlib import Path

import pytest

from assistant.library.ingest import (
    IngestError,
    content_id,
    parse_html,
    parse_text,
    split_paragraphs,
)
from assistant.library.inputs import load_paths
from tests.conftest import SEED_FILE


def test_seed_title_and_paragraphs_match_the_file():
    text = SEED_FILE.read_text(encoding="utf-8")
    doc = parse_text(text, str(SEED_FILE))
    assert doc.title == "Western Weapons Flow to Ukraine… and Russia Responds via North Korea"
    assert doc.text == text
    assert doc.text[doc.paragraphs[0].start :].startswith("In response to the Western supply")
    assert "Multiple Threats" in [doc.text[p.start : p.end] for p in doc.paragraphs]
    assert all(
        doc.text[p.start : p.end].strip() == doc.text[p.start : p.end] for p in doc.paragraphs
    )


def test_markdown_header_lines_give_url_and_date():
    text = (
        "# Big news\n\nSource: https://example.com/a\nPublished: 2022/11/04\n\n"
        "First para.\n\nSecond para.\n"
    )
    doc = parse_text(text, "a.md", markdown=True)
    assert (doc.title, doc.url, doc.date) == ("Big news", "https://example.com/a", "2022-11-04")
    assert [doc.text[p.start : p.end] for p in doc.paragraphs] == ["First para.", "Second para."]


def test_hard_wrapped_lines_stay_one_paragraph():
    text = (
        "Title\n\n"
        + "This line is long enough to be hard wrapped by an editor and it goes\non here.\n"
    )
    doc = parse_text(text, "x.txt")
    assert len(doc.paragraphs) == 1
    assert doc.text[doc.paragraphs[0].start : doc.paragraphs[0].end].endswith("on here.")


def test_content_id_ignores_whitespace_and_source():
    assert content_id("T", "a  b\nc") == content_id("T", "a b c")
    a = parse_text("T\nBody text here.\n", "one.txt")
    b = parse_text("T\r\nBody   text here.\r\n", "two.txt")
    assert a.doc_id == b.doc_id


def test_html_main_text_title_meta():
    html = """<html><head><title>Page title</title>
    <meta property="article:published_time" content="2024-06-20">
    <link rel="canonical" href="https://news.example/x"><script>var x = 1;</script></head>
    <body><nav>Home | World</nav><article><h1>Headline</h1>
    <p>Putin said that sending weapons would be a big mistake for everyone involved.</p>
    <p>Officials in Seoul said they would review the policy in the coming weeks.</p></article>
    </body></html>"""
    doc = parse_html(html, "page.html")
    assert doc.title == "Page title"
    assert doc.date == "2024-06-20" and doc.url == "https://news.example/x"
    assert "big mistake" in doc.text and "var x" not in doc.text


@pytest.mark.parametrize("text", ["", "   \n\n  \t"])
def test_empty_text_is_rejected(text):
    with pytest.raises(IngestError, match="empty"):
        parse_text(text, "e.txt")


def test_load_paths_reports_errors_per_file(tmp_path: Path):
    (tmp_path / "good.txt").write_text("Title\nSome real sentence here.\n")
    (tmp_path / "empty.txt").write_text("")
    (tmp_path / "binary.txt").write_bytes(b"\x00\x01\x02 not text")
    results = {
        Path(r.path).name: r for r in load_paths([tmp_path, tmp_path / "missing.md"], 10_000)
    }
    assert results["good.txt"].document is not None
    assert "empty" in results["empty.txt"].error
    assert "binary" in results["binary.txt"].error
    assert "no such file" in results["missing.md"].error


def test_split_paragraphs_offsets_are_exact():
    text = "  Lead para.\n\nHeading\nNext one.  \n"
    spans = split_paragraphs(text)
    assert [text[s.start : s.end] for s in spans] == ["Lead para.", "Heading", "Next one."]


def test_a_one_paragraph_brief_is_an_article_titled_by_its_first_sentence():
    brief = "Ferry service resumes after the storm. Boats run hourly from Monday.\n"
    doc = parse_text(brief, "/news/ferry-brief.txt")
    assert doc.title == "Ferry service resumes after the storm"
    assert doc.text[doc.body_start :].startswith("Ferry service resumes")
    assert [doc.text[p.start : p.end] for p in doc.paragraphs] == [brief.strip()]
    wrapped = (
        "The harbour board met on Tuesday and agreed to rebuild the north pier\n"
        "before the winter storms.\n"
    )
    assert parse_text(wrapped, "pier.txt").title == (
        "The harbour board met on Tuesday and agreed to rebuild the north pier before the "
        "winter storms"
    )
    long_sentence = "word " * 60 + "end.\n"
    assert parse_text(long_sentence, "/news/harbour_board-notes.txt").title == "harbour board notes"
    with pytest.raises(IngestError, match="no article text after the title"):
        parse_text("# Only a heading\n", "x.md", markdown=True)


@pytest.mark.slow
def test_a_brief_is_indexed_and_answered(make_assistant, tmp_path):
    brief = tmp_path / "brief.txt"
    brief.write_text("The city pool reopens on Saturday after a two-year renovation.\n")
    assistant = make_assistant()
    assert assistant.index([str(brief)]).added == 1
    answer = assistant.ask("When does the city pool reopen?")
    assert not answer.abstained and "Saturday" in answer.answer
