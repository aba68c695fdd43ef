"""Publication dates: normalising, the period a question names, and --since/--until over a
real index (Chroma's where filter on the dense side, the same range on the BM25 side)."""

import json
from datetime import date

import numpy as np
import pytest
from typer.testing import CliRunner

from assistant.cli import app
from assistant.dates import (
    DateError,
    DocDates,
    date_from_url,
    date_number,
    normalize_date,
    parse_user_date,
    period_bonus,
    question_period,
    range_filter,
)
from assistant.library.ingest import parse_html, parse_text

NEWEST = date(2024, 6, 20)


@pytest.mark.parametrize(
    ("raw", "iso"),
    [
        ("2024-05-02", "2024-05-02"),
        ("2022/11/04", "2022-11-04"),
        ("2024-05-02T23:10:00Z", "2024-05-02"),
        ("Tue, 04 Jun 2024 10:00:00 GMT", "2024-06-04"),
        ("June 5, 2024", "2024-06-05"),
        ("June 2024", ""),  # no day: unknown, not the 1st
        ("2024", ""),
        ("Monday", ""),
        ("not a date at all", ""),
        ("", ""),
    ],
)
def test_dates_are_normalised_or_unknown(raw, iso):
    assert normalize_date(raw) == iso


def test_dates_come_from_the_url_the_published_line_and_html_meta():
    assert date_from_url("https://news.example/2022/06/15/fed-rates/") == "2022-06-15"
    assert date_from_url("https://news.example/story-2022-06-15-fed") == ""
    doc = parse_text("Title\nPublished: 3 June 2024\n\nBody text here.\n", "a.txt")
    assert doc.date == "2024-06-03"
    page = (
        '<html><head><title>T</title><meta property="og:site_name" content="Harbour Times">'
        '<script type="application/ld+json">{"@type": "NewsArticle", '
        '"datePublished": "2024-06-07T08:00:00Z"}</script></head><body><article>'
        "<p>The harbour bridge reopened to traffic on Thursday after months of work.</p>"
        "</article></body></html>"
    )
    doc = parse_html(page, "https://harbour.example/bridge")
    assert (doc.date, doc.outlet) == ("2024-06-07", "Harbour Times")
    undated = parse_html(page.replace("2024-06-07T08:00:00Z", "soon"), "x.html")
    assert undated.date == ""


@pytest.mark.parametrize(
    ("question", "start", "end"),
    [
        ("Which storm hit Florida this week?", date(2024, 6, 14), NEWEST),
        ("What did the mayor say last week?", date(2024, 6, 7), date(2024, 6, 13)),
        ("Who won yesterday?", date(2024, 6, 19), date(2024, 6, 19)),
        ("What happened in June 2024?", date(2024, 6, 1), date(2024, 6, 30)),
        ("What happened in March?", date(2024, 3, 1), date(2024, 3, 31)),
        ("What happened in August?", date(2023, 8, 1), date(2023, 8, 31)),  # the latest one
        ("Who spoke on June 5?", date(2024, 6, 5), date(2024, 6, 5)),
        ("Who won the vote in 2023?", date(2023, 1, 1), date(2023, 12, 31)),
        ("What did May 2023 bring?", date(2023, 5, 1), date(2023, 5, 31)),
    ],
)
def test_the_period_a_question_names_is_read_from_the_newest_article(question, start, end):
    period = question_period(question, NEWEST)
    assert (period.start, period.end) == (start, end)


def test_no_period_without_one_named_or_without_dated_articles():
    assert question_period("Who may win the vote?", NEWEST) is None
    assert question_period("What did the 2023 report find?", NEWEST) is None
    assert question_period("What happened this week?", None) is None


def test_a_passage_in_the_asked_period_is_marked_and_none_is_hidden():
    period = question_period("What happened this week?", NEWEST)
    assert period_bonus(period, 20240618) == 1.0
    assert period_bonus(period, 20240101) == period_bonus(period, 0) == 0.0
    assert period_bonus(None, 20240618) == 0.0


def test_the_passage_ranker_reads_the_asked_period(embedder):
    from assistant.answer.features import (
        PASSAGE_FEATURES,
        PassageHit,
        QuestionContext,
        passage_features,
    )

    vector = np.asarray(embedder.embed_query("What happened this week?"), dtype=np.float32)
    ctx = QuestionContext("What happened this week?", vector, NEWEST)
    meta = {"doc_id": "d", "start": 0, "sentences": "[[0, 9, 1]]", "title": ""}
    hits = [
        PassageHit("d:0000", "Storm hit", {**meta, "date_num": 20240618}, 0.5),
        PassageHit("e:0000", "Storm hit", {**meta, "doc_id": "e", "date_num": 20230101}, 0.5),
    ]
    rows = passage_features(ctx, hits)
    column = PASSAGE_FEATURES.index("in_asked_period")
    assert rows[:, column].tolist() == [1.0, 0.0]


def test_user_dates_and_ranges():
    assert parse_user_date("2024-06-05", "--since") == 20240605
    assert parse_user_date("", "--since") is None
    with pytest.raises(DateError, match="--since must be a date like 2024-06-05, got 'soon'"):
        parse_user_date("soon", "--since")
    with pytest.raises(DateError, match="--since is after --until"):
        range_filter(20240610, 20240601)
    assert range_filter(None, None) is None
    assert range_filter(20240601, None) == {"date_num": {"$gte": 20240601}}
    dates = DocDates.from_records({"a": {"date": "2024/06/02"}, "b": {"date_num": 0}})
    assert dates.newest == date(2024, 6, 2) and date_number("2024/06/02") == 20240602
    assert dates.docs_in_range(20240601, None) == {"a"}
    assert dates.docs_in_range(None, None) is None


STORIES = [
    ("Ferry strike halts crossings", "2024-06-03", "Ferry crews walked out over pay."),
    ("Ferry strike ends with deal", "2024-06-18", "Ferry crews accepted a new pay deal."),
    ("Ferry fares rise again", "2023-11-02", "Ferry fares rise as crews ask for pay."),
    ("Ferry museum opens", "", "A ferry museum opened; crews and pay are its themes."),
]


@pytest.fixture(scope="module")
def dated_index(tmp_path_factory, embedder):
    from assistant.config import load_settings
    from assistant.service import Assistant

    folder = tmp_path_factory.mktemp("dated")
    rows = [
        {"title": t, "date": d, "text": f"{body} The crews met on the pier."}
        for t, d, body in STORIES
    ]
    (folder / "ferry.jsonl").write_text("\n".join(json.dumps(r) for r in rows))
    assistant = Assistant(load_settings(index_dir=folder / "index"), embedder=embedder)
    assistant.index([str(folder / "ferry.jsonl")])
    return assistant


def titles(passages):
    return {p.metadata["title"] for p in passages}


@pytest.mark.slow
def test_since_and_until_limit_both_retrievers(dated_index):
    retriever = dated_index.retriever
    june = titles(retriever.search("ferry crews pay", 10, since=20240601, until=20240630)[0])
    assert june == {"Ferry strike halts crossings", "Ferry strike ends with deal"}
    assert titles(retriever.search("ferry crews pay", 10, since=20240610)[0]) == {
        "Ferry strike ends with deal"
    }
    assert titles(retriever.search("ferry crews pay", 10, until=20231231)[0]) == {
        "Ferry fares rise again"
    }
    assert len(titles(retriever.search("ferry crews pay", 10)[0])) == 4  # undated too
    # each side on its own keeps to the range
    view = retriever._current_view()
    only = view.dates.docs_in_range(20240610, None)
    for chunk_id, _ in view.lexical.search("ferry crews pay museum", 10, only):
        assert chunk_id.split(":")[0] in only
    vector = dated_index.embedder.embed_query("ferry museum")
    hits = dated_index.store.dense_search(vector, 10, where=range_filter(20240610, None))
    assert {h.metadata["title"] for h in hits} == {"Ferry strike ends with deal"}


@pytest.mark.slow
def test_ask_since_until_on_the_command_line(dated_index):
    runner = CliRunner()
    folder = str(dated_index.settings.index_dir)
    args = ["ask", "What did the ferry crews accept?", "--index-dir", folder, "--json"]
    out = runner.invoke(app, [*args, "--since", "2024-06-10"])
    answer = json.loads(out.stdout)
    assert answer["citations"] and {c["date"] for c in answer["citations"]} == {"2024-06-18"}
    out = runner.invoke(app, [*args, "--until", "2023-12-31"])
    answer = json.loads(out.stdout)
    # only the 2023 article is in range: cited, or shown as related if it does not answer
    shown = answer["citations"] or answer["related"]
    assert shown and {c["title"] for c in shown} == {"Ferry fares rise again"}
    bad = runner.invoke(app, [*args, "--since", "soon"])
    assert bad.exit_code == 2 and "--since must be a date like 2024-06-05, got 'soon'" in bad.stderr
    bad = runner.invoke(app, [*args, "--since", "2024-06-10", "--until", "2024-06-01"])
    assert bad.exit_code == 2 and "--since is after --until" in bad.stderr


@pytest.mark.slow
def test_a_question_naming_this_week_prefers_this_weeks_article(dated_index):
    from assistant.dates import question_period

    newest = dated_index.retriever._current_view().newest
    assert newest == date(2024, 6, 18)
    assert question_period("What happened to the ferry crews this week?", newest).start == date(
        2024, 6, 12
    )
    passages, _ = dated_index.retriever.search("What happened to the ferry crews this week?", 4)
    assert passages[0].metadata["title"] == "Ferry strike ends with deal"
    assert len(passages) == 4  # the others, undated one included, are still there


@pytest.mark.slow
def test_the_chat_takes_the_settings_tabs_date_range(seed_assistant):
    from assistant.web.app import ChatHandlers

    chat = ChatHandlers(seed_assistant)

    def reply(period):
        *_, last = chat.respond(
            "What did Putin say about NATO?", [], None, 3, "extractive", True, period
        )
        return last[1][-1]["content"]

    assert 'class="cite-card"' in reply(("", ""))
    assert "abstained" in reply(("2024-01-01", ""))  # the seed article is undated
    assert "can&#39;t be asked&#58; --since must be a date like 2024-06-05" in reply(("soon", ""))
