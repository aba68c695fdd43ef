"""Question analysis: focus sentence, answer type, typed candidates and names (pure logic)."""

import pytest

from assistant.answer.query import (
    about_part,
    answer_type,
    has_typed_candidate,
    name_groups,
    names_found,
    question_focus,
    speaks_of,
    topic_names,
    years_named,
)


def test_focus_is_the_asking_sentence_of_a_quiz_question():
    q = "The Astros threw the second no-hitter in Game 4. Which team had the first?"
    assert question_focus(q) == "Which team had the first?"
    assert question_focus("Who won?") == "Who won?"


@pytest.mark.parametrize(
    ("question", "kind"),
    [
        ("Which team had the first?", "named"),
        ("Which tech giant announced the delay?", "named"),
        ("In which key state did Democrats flip a seat?", "place"),
        ("Which of the following high-profile figures will skip Cop27?", "person"),
        ("Who plays Princess Diana in the series?", "person"),
        ("Approximately how many employees were affected?", "number"),
        ("What percentage of the vote did she win?", "percent"),
        ("When did Pelosi first become speaker?", "date"),
        ("Lula reclaimed the presidency after previously holding the role when?", "date"),
        ("What was the name of the storm?", "named"),
        ("What did the committee say about the toys?", "any"),
        ("What do the United States and its allies accuse Pyongyang of?", "any"),
    ],
)
def test_answer_type(question, kind):
    assert answer_type(question) == kind


def test_typed_candidate_must_be_new_to_the_question():
    q = "How many employees did Meta lay off in 2022?"
    assert has_typed_candidate("Meta laid off about 11,000 employees.", "number", q)
    assert not has_typed_candidate("Meta announced layoffs in 2022.", "number", q)
    assert has_typed_candidate("She won 59% of the vote.", "percent", "What percentage?")
    assert not has_typed_candidate("Anything at all.", "any", "What?")


def test_a_year_is_no_answer_to_how_many():
    q = "How many Grammy nominations did Beyoncé receive?"
    assert not has_typed_candidate("Nominations for 2023 Grammy Awards revealed.", "number", q)
    assert has_typed_candidate("Beyoncé led among nominees with nine nods.", "number", q)
    assert has_typed_candidate("Voters gave her 2,023 nominations.", "number", q)
    assert has_typed_candidate("It happened in 2023.", "year", "In which year did it happen?")


def test_a_person_is_named_with_two_capitalised_words():
    q = "Which of the following high-profile figures will not attend Cop27?"
    assert has_typed_candidate("Activist Greta Thunberg will not attend the summit.", "person", q)
    assert has_typed_candidate("The summit was opened by President Biden.", "person", q)
    # a lone capitalised word is as often a brand or a body as a person
    assert not has_typed_candidate("Critics faulted the deal with Coca-Cola.", "person", q)
    assert not has_typed_candidate("That night, he met lawmakers in the House.", "person", q)
    # other named answers still need only one
    assert has_typed_candidate("The deal went to Coca-Cola.", "named", "Which company won?")


def test_name_groups_join_runs_and_drop_question_words_and_possessives():
    q = "What did Japan's prime minister say about the pact between Russia and North Korea?"
    assert name_groups(q) == ["Japan", "Russia", "North Korea"]
    assert name_groups("Who won the 2022 FIFA World Cup on Sunday?") == ["FIFA World Cup"]
    # a capital inside a lower-case start is a name too
    assert name_groups("When is the next iPhone launching on eBay?") == ["iPhone", "eBay"]


def test_years_named_are_the_years_a_text_names():
    assert years_named("Who won the World Cup in 1930?") == ["1930"]
    assert years_named("Did the 1990s or 2024’s race draw 150 people in 2024?") == [
        "1990s",
        "2024",
    ]
    assert years_named("Who won 3,000 votes on March 12?") == []


def test_topic_names_are_every_name_of_a_question_asking_about_something():
    assert topic_names("What did Putin say about South Korea?") == ["Putin", "South Korea"]
    assert topic_names("The Nets fired Nash. What did Kevin Durant say about it?") == [
        "Kevin Durant"
    ]
    assert topic_names("Which team won the World Cup in Qatar?") == []


def test_names_found_needs_every_word_of_a_name():
    text = "North Korea and Russia signed it; the union of European states objected."
    assert names_found(["North Korea", "European Union", "Japan"], text) == 2


def test_a_hyphenated_name_is_found_by_its_parts():
    from assistant.answer.query import names_found

    assert names_found(["Moscow-Pyongyang"], "this agreement between Pyongyang and Moscow") == 1
    assert names_found(["Kim Jong-un"], "Kim Jong-un said on Monday") == 1
    assert names_found(["Moscow-Pyongyang"], "an agreement signed in Moscow") == 0


@pytest.mark.parametrize(
    ("question", "text", "speaks"),
    [
        ("What did Putin say about South Korea?", "South Korea would make a mistake", True),
        # a name counts whole: North Korea is not South Korea
        ("What did Putin say about South Korea?", "weapons to North Korea", False),
        ("What did Putin say about NATO?", "NATO is expanding", True),
        ("What did Putin say about the price of oil?", "Oil rose on Monday", True),
        ("What did Putin say about the price of oil?", "He spoke of weapons", False),
    ],
)
def test_a_sentence_speaks_of_what_the_question_asks_about(question, text, speaks):
    assert speaks_of(about_part(question), text) is speaks


def test_a_question_about_nothing_in_particular_has_no_about_part():
    assert about_part("What is “Harbour report number 3” about?") == ""
    assert about_part("Who won the race?") == ""
    assert about_part("What did Putin say about NATO?").strip() == "NATO?"
