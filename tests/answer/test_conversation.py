"""Follow-up condensing and example questions: pure rules, then on the real seed index."""

import pytest

from assistant.answer.conversation import (
    article_questions,
    condense_question,
    is_follow_up,
    name_groups,
    suggest_questions,
)
from tests.conftest import SEED_FILE

FIRST = "What did Putin say about South Korea?"


@pytest.mark.parametrize(
    ("follow_up", "expected"),
    [
        ("And what did he say about NATO?", "What did Putin say about NATO?"),
        ("what about NATO?", "What did Putin say about NATO?"),
        ("And North Korea?", "What did Putin say about North Korea?"),
        ("What did his spokesman say?", "What did Putin's spokesman say?"),
        ("Why?", "Why (Putin, South Korea)?"),
        ("When did it happen?", "When did it happen (Putin, South Korea)?"),
    ],
)
def test_follow_ups_borrow_the_previous_turns_names(follow_up, expected):
    assert condense_question(follow_up, [FIRST]) == expected


@pytest.mark.parametrize(
    "question",
    [
        "Who is Matthew Miller?",
        "How did the United States react?",
        "What weapons did South Korea say that it would send?",
    ],
)
def test_standalone_questions_are_left_alone(question):
    assert not is_follow_up(question)
    assert condense_question(question, [FIRST]) == question


def test_no_history_means_no_rewrite():
    assert condense_question("And what did he say?", []) == "And what did he say?"
    assert condense_question("  Why?  ", ["", "  "]) == "Why?"


def test_chains_of_follow_ups_keep_the_subject():
    second = condense_question("And what did he say about NATO?", [FIRST])
    third = condense_question("Why did he say that?", [FIRST, second])
    assert third.startswith("Why did Putin say that")


def test_follow_up_without_names_carries_the_topic_words():
    assert condense_question("Why?", ["how are the weapons delivered?"]) == (
        "Why (weapons delivered)?"
    )


def test_name_groups_skip_sentence_starts_and_split_possessives():
    text = "Officials met. Then Vladimir Putin spoke.\nNATO grew, and Trump's lawyers met Joe Biden"
    assert name_groups(text) == ["Vladimir Putin", "Trump", "Joe Biden"]
    assert name_groups("NATO?", first_counts=True) == ["NATO"]


def test_article_questions_use_the_speaker_and_frequent_names():
    text = SEED_FILE.read_text(encoding="utf-8")
    title = text.splitlines()[0]
    questions = article_questions(title, text[len(title) :])
    assert questions[0].startswith("What did Putin say about ")
    assert len(set(questions)) == len(questions) >= 2


def test_suggestions_take_turns_over_articles():
    articles = [
        ("A", "The talks went on. Mayor Ana Ruiz said the Harbor Bridge would close."),
        ("B", "Rain fell. Coach Tom Lee told reporters the Lions would win in Denver."),
    ]
    questions = suggest_questions(articles, n=2)
    assert len(questions) == 2
    assert "Ruiz" in questions[0] and "Lee" in questions[1]


@pytest.mark.slow
def test_follow_up_retrieves_putins_nato_passage(seed_assistant):
    first = seed_assistant.ask(FIRST)
    assert not first.abstained
    asked = seed_assistant.condense("And what did he say about NATO?", [FIRST])
    assert "Putin" in asked
    answer = seed_assistant.ask(asked)
    assert not answer.abstained
    assert any("NATO is establishing a permanent presence" in c.passage for c in answer.citations)
    assert all("NATO" in c.quote for c in answer.citations[:1])


@pytest.mark.slow
def test_short_follow_up_is_answered_about_the_previous_subject(seed_assistant):
    asked = seed_assistant.condense("Why?", [FIRST])
    answer = seed_assistant.ask(asked)
    assert not answer.abstained
    assert any("South Korea" in c.quote for c in answer.citations)


@pytest.mark.slow
def test_example_questions_are_all_answerable(seed_assistant):
    examples = seed_assistant.example_questions(4)
    assert 2 <= len(examples) <= 4
    for question in examples:
        answer = seed_assistant.ask(question)
        assert not answer.abstained and answer.citations, question
