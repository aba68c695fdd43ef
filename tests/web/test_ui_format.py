"""Pure formatting of the web UI: answers, citation cards, highlighting, library, reports."""

import re

from assistant.schema import Answer, AnswerSentence, Citation, FileError, IndexReport, SourceInfo
from assistant.web import format as fmt

PASSAGE = (
    "Putin spoke in Hanoi. He said it would be a big mistake. Seoul said it would be a big mistake."
)


def citation(marker=1, start_in_passage=22, quote="He said it would be a big mistake.", **kw):
    base = 1000
    values = {
        "marker": marker,
        "doc_id": "d1",
        "chunk_id": "d1:0",
        "title": "Putin warns Seoul",
        "source": "/data/news/putin.txt",
        "passage": PASSAGE,
        "quote": quote,
        "start": base + start_in_passage,
        "end": base + start_in_passage + len(quote),
        "score": 0.7312,
        "paragraph": 3,
        "passage_start": base,
    }
    values.update(kw)
    return Citation(**values)


def answer_with(citations, text=None, **kw):
    text = text or " ".join(f"{c.quote} [{c.marker}]" for c in citations)
    sentences = [AnswerSentence(text=c.quote, markers=[c.marker]) for c in citations]
    return Answer(
        question="q", answer=text, abstained=False, citations=citations, sentences=sentences, **kw
    )


def test_highlight_uses_the_exact_span_not_the_first_match():
    second = PASSAGE.rindex("it would be a big mistake.")
    cite = citation(start_in_passage=second, quote="it would be a big mistake.")
    html = fmt.highlight_passage(cite)
    before, marked = html.split("<mark>")
    assert before.endswith("Seoul said ")
    assert marked.startswith("it would be a big mistake.</mark>")
    assert fmt.quote_offsets(cite) == (second, second + len(cite.quote))


def test_highlight_trims_long_context_at_word_boundaries():
    long_passage = "word " * 200 + "THE QUOTE." + " tail" * 200
    start = long_passage.index("THE QUOTE.")
    cite = citation(passage=long_passage, start_in_passage=start, quote="THE QUOTE.")
    html = fmt.highlight_passage(cite, context=50)
    assert html.startswith("…word") and html.endswith("tail…")
    assert "<mark>THE QUOTE.</mark>" in html
    assert len(html) < 200


def test_markers_link_to_cards_and_unknown_numbers_stay_text():
    cites = [citation(1), citation(2, start_in_passage=0, quote="Putin spoke in Hanoi.")]
    text = "He said it would be a big mistake. [1] In [2024] he spoke in Hanoi. [2]"
    html = fmt.link_markers(text, cites, "t4")
    links = re.findall(r'<a class="cite-ref" href="#(cite-t4-\d)"[^>]*>\[(\d)\]</a>', html)
    assert links == [("cite-t4-1", "1"), ("cite-t4-2", "2")]
    assert "&#91;2024&#93;" in html  # not a citation: shown literally, not linked


def test_answer_has_one_card_per_citation_with_all_fields():
    cites = [citation(1, url="https://news.example/putin"), citation(2, source="seeds/a.txt")]
    html = fmt.render_answer(answer_with(cites), turn="t2", show_scores=True)
    cards = re.findall(r'<div class="cite-card" id="(cite-t2-\d)">', html)
    assert cards == ["cite-t2-1", "cite-t2-2"]
    assert 'href="https://news.example/putin" target="_blank"' in html
    assert "news.example/putin ↗" in html
    assert '<span class="src-file">a.txt</span>' in html
    assert "¶ 3" in html and "score 0.73" in html and "Putin warns Seoul" in html
    assert html.count("<mark>") == 2
    assert "Sources" in html and "Related" not in html


def test_scores_can_be_hidden_and_condensed_question_is_shown():
    html = fmt.render_answer(
        answer_with([citation()]), show_scores=False, asked_as="What did Putin say?"
    )
    assert "score" not in html
    assert "Understood as" in html and "What did Putin say?" in html


def test_abstention_offers_related_passages_not_sources():
    answer = Answer(
        question="Who won the cup?",
        answer="The indexed articles don't say who won the cup.",
        abstained=True,
        related=[citation(1), citation(2)],
    )
    html = fmt.render_answer(answer, "t0")
    assert "The indexed articles don&#39;t say who won the cup." in html
    assert "Related passages" in html and "not an answer" in html
    assert html.count('class="cite-card related"') == 2
    assert "Sources<" not in html and "cite-ref" not in html
    assert "Why:" not in html  # no reason given, none shown


def test_abstention_says_why_in_words():
    answer = Answer(
        question="What did Japan's prime minister say?",
        answer="The indexed articles don't answer it.",
        abstained=True,
        declined_because="names_missing",
    )
    html = fmt.render_answer(answer, "t0")
    assert "Why: The retrieved articles do not mention the names" in html
    empty = answer.model_copy(update={"declined_because": "empty_library"})
    assert "Why:" not in fmt.render_answer(empty, "t0")


def test_article_markup_is_inert():
    hostile = (
        "<script>alert(1)</script><img src=x onerror=alert(2)> ![pwn](http://evil.example/x.png)"
        " [click](javascript:alert(3)) $x^2$ `code` **bold**\n\n<iframe src=//evil.example>"
    )
    cite = citation(passage=hostile, start_in_passage=0, quote=hostile[:20], title=hostile)
    html = fmt.render_answer(answer_with([cite], text=hostile + " [1]"))
    for dangerous in ("<script", "<img", "<iframe", "![", "](", "javascript:", "$x", "**", "`"):
        assert dangerous not in html
    assert "\n" not in html  # a blank line could end the HTML block and start Markdown


def test_only_http_urls_become_links():
    assert fmt.safe_url("https://a.example/x") == "https://a.example/x"
    for bad in ("javascript:alert(1)", "data:text/html,x", "file:///etc/passwd", "//a.example"):
        assert fmt.safe_url(bad) is None
        assert "<a " not in fmt.source_html(bad)


def test_partial_answer_shows_text_markers_and_cursor():
    html = fmt.render_partial("Putin said so. [1] More <b>")
    assert '<span class="cite-ref pending">[1]</span>' in html
    assert "&#60;b&#62;" in html and "cursor" in html


def test_library_table_summary_filter_and_choices():
    sources = [
        SourceInfo(
            doc_id="a",
            title="One <b>bold</b>",
            source="https://x.example/one",
            chunks=3,
            indexed_at="2024-06-20T10:11:12+00:00",
            date="2024-06-20",
        ),
        SourceInfo(doc_id="b", title="Two", source="/tmp/two.md", chunks=1, indexed_at="bad"),
    ]
    table = fmt.library_table(sources)
    rows = re.findall(r'<tr data-doc="(\w)">(.*?)</tr>', table)
    assert [doc for doc, _ in rows] == ["a", "b"]
    first = dict(re.findall(r'<td data-label="(\w+)">(.*?)</td>', rows[0][1]))
    assert first["Title"] == '<span class="lib-title">One &#60;b&#62;bold&#60;/b&#62;</span>'
    assert 'href="https://x.example/one"' in first["Source"]
    assert (first["Date"], first["Passages"], first["Indexed"]) == (
        "2024-06-20",
        "3",
        "2024-06-20 10&#58;11",
    )
    second = dict(re.findall(r'<td data-label="(\w+)">(.*?)</td>', rows[1][1]))
    assert (second["Date"], second["Indexed"]) == ("—", "bad") and "two.md" in second["Source"]
    assert [s.doc_id for s in fmt.filter_sources(sources, "two MD")] == ["b"]
    assert "No article matches" in fmt.library_table(sources, "zebra")
    assert "No articles yet" in fmt.library_table([])
    assert fmt.library_summary(sources) == "2 articles, 4 passages indexed"
    assert [v for _, v in fmt.library_choices(sources)] == ["a", "b"]


def test_report_lists_counts_and_each_error_with_its_reason():
    report = IndexReport(
        added=2,
        unchanged=1,
        chunks=7,
        errors=[FileError(path="/up/evil.txt", error="the content is a Linux executable")],
    )
    html = fmt.report_html(report, "Upload")
    assert "Upload finished: 7 passages written" in html
    assert "2 added" in html and "1 unchanged" in html and "1 errors" in html
    assert "<b>evil.txt</b>: the content is a Linux executable" in html
    assert 'class="report warn"' in html


def test_header_counts_articles():
    assert "1 indexed article<" in fmt.header_html(1)
    assert "12 indexed articles" in fmt.header_html(12, read_only=True)
    assert "read-only" in fmt.header_html(12, read_only=True)


def test_examples_heading_says_what_to_do_with_an_empty_library():
    assert "Try asking" in fmt.examples_heading(3, examples=2)
    assert fmt.examples_heading(3, examples=0) == ""
    assert "Add some in the Library tab" in fmt.examples_heading(0, examples=0)
    read_only = fmt.examples_heading(0, examples=0, read_only=True)
    assert "No articles" in read_only and "Library tab" not in read_only
