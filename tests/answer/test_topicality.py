"""The checks that passages are about the question (pure logic, no model)."""

import json

from langchain_core.documents import Document as LCDocument

from assistant.answer.topicality import (
    Subject,
    about_other_years,
    articles_about,
    lacks_asked_type,
    names_missing,
)
from assistant.schema import Document


def _passage(text: str, doc_id: str, date: str = "", index: int = 0) -> LCDocument:
    meta = {"doc_id": doc_id, "chunk_id": f"{doc_id}:{index:04d}", "title": "", "date": date}
    return LCDocument(page_content=text, metadata={**meta, "sentences": json.dumps([])})


def test_the_subject_of_a_question_is_its_years_names_and_topics():
    subject = Subject.of("What did Pope Francis say about Halloween in 2022?")
    assert subject == Subject(
        ["2022"], ["Pope Francis", "Halloween"], ["Pope Francis", "Halloween"]
    )
    assert Subject.of("Which team won the World Cup?").topics == []


def test_a_year_must_be_near_the_passage_not_anywhere_in_its_article():
    subject = Subject.of("Who won the 2023 Super Bowl?")
    passage = _passage("The Bears won the Super Bowl in January 1986.", "fixes")
    article = Document("fixes", "Corrections", "A service starts in 2023. " * 3, "f.txt")
    assert not subject.in_article([passage], lambda _: article)
    dated = _passage(passage.page_content, "fixes", date="2023/02/13")
    assert subject.in_article([dated], lambda _: article)


def test_half_the_names_will_do_but_every_topic_is_needed():
    quiz = Subject.of("Marchers in Halloween costumes crossed the UK. What did they protest?")
    assert quiz.in_article([_passage("Mothers marched across the UK on Sunday.", "a")], None)
    said = Subject.of("What did Pope Francis say about Halloween?")
    assert not said.in_article([_passage("Parents condemn Halloween as devilish.", "b")], None)


def test_articles_about_judges_each_article_on_all_its_passages():
    question = "Which team won the 1998 World Cup?"
    passages = [
        _passage("The 1998 Padres won the pennant.", "padres"),
        _passage("France won the World Cup final in Paris.", "cup", index=3),
        _passage("It was the summer of 1998.", "cup", index=4),
    ]
    assert articles_about(question, passages, None) == {"cup"}


def test_names_missing_reads_the_articles_when_the_passages_lack_the_names():
    passages = [_passage("The Russian president spoke on Thursday.", "d")]
    article = Document("d", "Putin visits Hanoi", "Vladimir Putin spoke in Hanoi.", "d.txt")
    assert names_missing("What did Putin say in Hanoi?", passages, None)
    assert not names_missing("What did Putin say in Hanoi?", passages, lambda _: article)


def test_a_number_question_needs_a_sentence_with_a_number_it_does_not_name():
    question = "How many people died in the 2022 floods?"
    assert lacks_asked_type(question, ["Many people died in the 2022 floods."])
    assert not lacks_asked_type(question, ["The 2022 floods killed 1,700 people."])
    assert not lacks_asked_type("Who led the rescue?", ["Rescuers worked all night."])


def test_a_sentence_naming_only_other_years_is_about_another_time():
    years = ["2022"]
    assert about_other_years("1969 — The New York Mets took the World Series.", years)
    assert not about_other_years(
        "The Astros won the 2022 World Series over the 1980 champions.", years
    )
    assert not about_other_years("The Astros beat the Phillies on Saturday.", years)
    assert not about_other_years("1969 — The New York Mets took the World Series.", [])
