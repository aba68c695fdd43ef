"""The launched web app, driven through gradio_client like any API user would."""

import re

import pytest
from gradio_client import Client, handle_file

pytestmark = pytest.mark.slow

LUNAR = """Lunar greenhouse grows first tomatoes
Source: https://example.org/news/lunar-greenhouse
Published: 2024-05-02

Engineers at the Tycho Research Station said on Monday that their sealed lunar greenhouse had
produced its first ripe tomatoes after ninety days of growth.

Station director Amara Okonkwo said the harvest proves that plants can be grown with recycled
water under artificial light on the Moon.
"""


def last_reply(chat: list) -> str:
    content = chat[-1]["content"]
    return content[0]["text"] if isinstance(content, list) else content


def ask(client: Client, question: str, history=None, k=5, show_scores=True) -> tuple[str, list]:
    _, chat = client.predict(question, history or [], k, "extractive", show_scores, api_name="/ask")
    return last_reply(chat), chat


@pytest.fixture
def client(seed_app):
    return Client(seed_app.url, verbose=False)


def test_seed_question_gets_an_answer_with_highlighted_citations(client):
    reply, chat = ask(client, "What did Putin say about South Korea?")
    assert chat[0]["role"] == "user" and chat[-1]["role"] == "assistant"
    assert re.search(r'<a class="cite-ref" href="#cite-t0-1"', reply)
    assert 'id="cite-t0-1"' in reply and "Western Weapons Flow" in reply
    marked = re.findall(r"<mark>(.*?)</mark>", reply)
    assert any("big mistake" in m for m in marked)
    assert "score 0." in reply


def test_json_api_follows_the_contract(client):
    answer = client.predict("What did Putin say about NATO?", 3, "", api_name="/answer")
    assert not answer["abstained"] and answer["citations"]
    for cite in answer["citations"]:
        assert cite["quote"] in cite["passage"]


def test_json_api_takes_a_date_range(client):
    """The seed article is undated: any range leaves it out; a bad date is the caller's error."""
    question = "What did Putin say about NATO?"
    assert not client.predict(question, 3, "", "", "", api_name="/answer")["abstained"]
    answer = client.predict(question, 3, "", "2024-01-01", "", api_name="/answer")
    assert answer["abstained"] and not answer["citations"]
    with pytest.raises(Exception, match="--until must be a date like 2024-06-05, got 'later'"):
        client.predict(question, 3, "", "", "later", api_name="/answer")


def test_follow_up_in_one_session_uses_the_previous_question(client):
    _, chat = ask(client, "What did Putin say about South Korea?")
    reply, _ = ask(client, "And what did he say about NATO?", chat)
    assert "Understood as: <q>What did Putin say about NATO?</q>" in reply
    assert "NATO is establishing a permanent presence" in reply


def test_new_chat_forgets_the_context(client):
    ask(client, "What did Putin say about South Korea?")
    client.predict(api_name="/new_chat")
    reply, _ = ask(client, "And what did he say about NATO?")
    assert "Understood as" not in reply


def test_uncovered_question_abstains_with_related_passages(client):
    reply, _ = ask(client, "Who won the 2022 FIFA World Cup?")
    assert "The indexed articles don&#39;t say who won the 2022 FIFA World Cup." in reply
    assert "cite-card related" in reply and 'class="cite-card"' not in reply


def test_settings_change_passages_and_scores(client):
    reply, _ = ask(client, "What did Putin say about South Korea?", k=1, show_scores=False)
    assert "score 0." not in reply
    assert len(re.findall(r'class="cite-card"', reply)) >= 1


def test_too_long_question_is_refused_in_the_chat(client, seed_app):
    long_question = "Why " + "x" * seed_app.settings.max_question_chars
    reply, _ = ask(client, long_question)
    assert "the limit is 2000" in reply and "cite-card" not in reply


def test_uploaded_article_is_answerable_at_once(client, seed_app, tmp_path):
    article = tmp_path / "lunar greenhouse.txt"
    article.write_text(LUNAR)
    report, _ = client.predict([handle_file(str(article))], api_name="/add_files")
    assert "1 added" in report and "0 errors" in report
    assert (seed_app.assistant.upload_folder / "lunar_greenhouse.txt").exists()
    reply, _ = ask(client, "What did Amara Okonkwo say about the harvest?")
    assert "Lunar greenhouse grows first tomatoes" in reply
    assert 'href="https://example.org/news/lunar-greenhouse"' in reply
    assert "recycled" in re.findall(r"<mark>(.*?)</mark>", reply)[0]


def test_pasted_text_then_removal(client, seed_app):
    report, title, text = client.predict(
        "Ferry strike ends",
        "Ferry workers in Port Avalon ended their strike on Friday after the union accepted a "
        "nine percent pay rise.\n\nServices to the islands resume on Sunday morning.",
        api_name="/add_text",
    )
    assert "1 added" in report and (title, text) == ("", "")
    reply, _ = ask(client, "Why did the Port Avalon ferry strike end?")
    assert "nine percent pay rise" in reply
    doc_id = next(s.doc_id for s in seed_app.assistant.sources() if s.title == "Ferry strike ends")
    assert "removed" in client.predict(doc_id, api_name="/remove").lower()
    assert all(s.title != "Ferry strike ends" for s in seed_app.assistant.sources())
    reply, _ = ask(client, "Why did the Port Avalon ferry strike end?")
    assert "nine percent" not in reply.split("Related passages")[0]


def test_refused_upload_is_reported_and_nothing_is_stored(client, seed_app, tmp_path):
    fake = tmp_path / "notes.txt"
    fake.write_bytes(b"\x7fELF\x02\x01\x01" + b"\x00" * 200)
    before = seed_app.assistant.store.revision()
    report, _ = client.predict([handle_file(str(fake))], api_name="/add_files")
    assert "notes.txt</b>: the content is a Linux executable" in report
    assert seed_app.assistant.store.revision() == before
    assert not (seed_app.assistant.upload_folder / "notes.txt").exists()


def test_refresh_lists_the_library_and_example_questions(client, seed_app):
    header, table, summary, _choice, _folder, heading, *_ = client.predict("", api_name="/refresh")
    assert "indexed article" in header
    assert "Try asking" in heading  # shown only when example questions were found
    assert "Western Weapons Flow to Ukraine… and Russia Responds via North Korea" in table
    assert table.count("<tr data-doc=") == len(seed_app.assistant.sources())
    assert "passages indexed" in summary
