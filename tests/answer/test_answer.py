"""The extractive answerer on crafted passages, with the real encoder and the shipped
models: what may be quoted, and what each check of names, years and answer types does when
it is on (training keeps a check only where held-out blocks show it helps, so each is
tested here switched on explicitly)."""

import dataclasses
import json
from types import SimpleNamespace

import pytest
from langchain_core.documents import Document as LCDocument

from assistant.answer.extractive import ExtractiveAnswerer, abstention_text
from assistant.answer.quotes import asks_question, is_photo_caption, leans_on_context
from assistant.answer.ranking import load_models
from assistant.answer.topicality import QUESTION_CHECKS, SENTENCE_CHECKS
from assistant.schema import Document
from assistant.store.chunking import split_sentences


def checked(embedder, *checks: str, library=None, max_sentences: int = 3) -> ExtractiveAnswerer:
    """An answerer with the shipped models and exactly ``checks`` on; it never abstains
    on the abstention model's account, so what is tested is the checks and the choice."""
    models = load_models()
    manifest = {**models.manifest, "checks": list(checks)}
    return ExtractiveAnswerer(
        embedder,
        max_sentences=max_sentences,
        min_probability=0.0,
        library=library,
        models=dataclasses.replace(models, manifest=manifest),
    )


def test_the_shipped_checks_are_known_ones():
    assert set(load_models().manifest["checks"]) <= set(SENTENCE_CHECKS + QUESTION_CHECKS)


def _passage(text: str, doc_id: str = "d", title: str = "") -> LCDocument:
    sentences = [[s.start, s.end, 1] for s in split_sentences(text)]
    meta = {"doc_id": doc_id, "chunk_id": f"{doc_id}:0000", "start": 0, "title": title}
    return LCDocument(page_content=text, metadata={**meta, "sentences": json.dumps(sentences)})


def test_sentences_that_lean_on_the_one_before_are_recognised():
    assert leans_on_context("But a growing body of research suggests heavy use may harm.")
    assert leans_on_context("“He said it would be a big mistake,” officials said.")
    assert leans_on_context("They left on Monday.")
    assert not leans_on_context("Thousands left the city on Monday.")
    assert not leans_on_context("Theresa May resigned in 2019.")  # "The..." is no pronoun
    # part of a quotation: the speaker is named where it opens, in another sentence
    assert leans_on_context("If it does, we will respond.”")
    assert leans_on_context('Putin said: "Sending weapons is a mistake.')
    assert not leans_on_context("Putin said: “We will respond.” Seoul did not comment.")


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("Who won the 2022 FIFA World Cup?", "don't say who won the 2022 FIFA World Cup."),
        ("how many people died?", "don't say how many people died."),
        ("Which team won the cup", "don't say which team won the cup."),
        # inverted questions would read "don't say what did Putin say": quoted instead
        ("What did Putin say about NATO?", "don't answer “What did Putin say about NATO?”"),
        ("How many people did the storm kill?", "don't answer “How many people did the"),
        ("Where was he born?", "don't answer “Where was he born?”"),
        ("Tell me about NATO", "don't answer “Tell me about NATO”"),
    ],
)
def test_the_abstention_reads_as_a_sentence(question, expected):
    text = abstention_text(question)
    assert text.startswith("The indexed articles " + expected)


def test_questions_in_the_text_are_recognised():
    assert asks_question("Is this year's COP especially important?")
    assert asks_question("“Why now?”")
    assert not asks_question("He asked why the summit mattered.")


@pytest.mark.parametrize(
    ("passage_text", "question", "never_quoted"),
    [
        # a question in the article states nothing
        (
            "Is this year's climate summit in Egypt especially important? "
            "Delegates from nearly 200 countries are meeting in Sharm el-Sheikh to agree on "
            "funding. The summit in Egypt matters because rich nations must finally deliver "
            "the money they promised.",
            "Why is this year's climate summit in Egypt especially important?",
            asks_question,
        ),
        # an image caption describes a picture, not the news
        (
            "Andre Penner/AP Jair Bolsonaro votes in the Brazilian presidential election in "
            "Rio. Jair Bolsonaro lost the Brazilian presidential election to Lula by less than "
            "two points.",
            "What happened to Jair Bolsonaro in the Brazilian presidential election?",
            lambda quote: "Penner" in quote,
        ),
    ],
)
def test_questions_and_image_captions_in_the_article_are_never_quoted(
    embedder, passage_text, question, never_quoted
):
    answer = checked(embedder).answer(question, [_passage(passage_text)])
    assert answer.citations, answer.answer
    assert all(not never_quoted(c.quote) for c in answer.citations), answer.answer


def test_a_year_the_question_names_must_occur_in_the_passages_or_their_date(embedder):
    """Passages about World Cup qualifiers in 2021 do not say who won in 1930."""
    text = (
        "Christian Pulisic was 17 when he appeared in his first World Cup qualifier. "
        "Ricardo Pepi scored twice as the United States won the World Cup qualifier in Honduras."
    )
    answerer = checked(embedder, "names")
    other_year = answerer.answer("Who won the World Cup qualifier in 1930?", [_passage(text)])
    assert other_year.abstained, other_year.answer
    assert other_year.declined_because == "names_missing"
    dated = _passage(text)
    dated.metadata["date"] = "1930/07/30"
    same_year = answerer.answer("Who won the World Cup qualifier in 1930?", [dated])
    assert not same_year.abstained and "Pepi" in same_year.answer, same_year.answer


def test_an_answer_comes_from_an_article_naming_the_year_and_the_question_s_names(embedder):
    """One article has the year, another the names: neither is about the 1998 World Cup."""
    baseball = _passage(
        "The 1998 San Diego Padres won the pennant after Kevin Brown won 18 games.", "padres"
    )
    football = _passage(
        "France won the World Cup final in Paris, where the home team beat Brazil 3-0.", "cup"
    )
    answerer = checked(embedder, "subject")
    split = answerer.answer("Which team won the 1998 World Cup?", [baseball, football])
    assert split.abstained, split.answer
    football.metadata["date"] = "1998/07/12"
    whole = answerer.answer("Which team won the 1998 World Cup?", [baseball, football])
    assert not whole.abstained, whole.answer
    assert {c.doc_id for c in whole.citations} == {"cup"}, whole.answer


def test_a_sentence_about_other_years_is_not_quoted_for_the_year_asked(embedder):
    """An almanac page dated 2022 lists old World Series: none answers for 2022."""
    almanac = _passage(
        "1969 — The New York Mets beat the Baltimore Orioles and took the World Series in "
        "five games. 2012 — The San Francisco Giants swept the Detroit Tigers to win the "
        "World Series.",
        "almanac",
    )
    almanac.metadata["date"] = "2022/10/13"
    answerer = checked(embedder, "other_years")
    answer = answerer.answer("Who won the World Series in 2022?", [almanac])
    assert answer.abstained, answer.answer
    recap = _passage(
        "In Game 6 the Houston Astros beat the Philadelphia Phillies to win the World Series.",
        "recap",
    )
    recap.metadata["date"] = "2022/11/06"
    answer = answerer.answer("Who won the World Series in 2022?", [almanac, recap])
    assert [c.doc_id for c in answer.citations] == ["recap"], answer.answer


def test_a_year_only_elsewhere_in_a_long_article_does_not_date_its_passages(embedder):
    """A catch-all page (corrections, a live blog) names many years far from the passage."""
    passage = _passage(
        "The Bears won the Super Bowl in January 1986 after a dominant season.", "fixes"
    )
    page = Document(
        doc_id="fixes",
        title="Corrections and clarifications",
        text="A taxi service is expected to launch in 2023. " + passage.page_content,
        source="fixes.txt",
    )
    library = SimpleNamespace(get_document=lambda doc_id: page)
    answerer = checked(embedder, "subject", library=library)
    answer = answerer.answer("Who won the 2023 Super Bowl?", [passage])
    assert answer.abstained, answer.answer


def test_a_number_question_without_a_number_in_any_sentence_abstains(embedder):
    question = "How many people died in the floods in Pakistan?"
    answerer = checked(embedder, "asked_type")
    vague = _passage(
        "The floods in Pakistan killed many people and destroyed villages across Sindh. "
        "Officials said people died in the floods as rivers burst their banks."
    )
    counted = _passage(
        "The floods in Pakistan killed 1,700 people and destroyed villages across Sindh. "
        "Officials said people died in the floods as rivers burst their banks."
    )
    declined = answerer.answer(question, [vague])
    assert declined.abstained and declined.declined_because == "no_asked_type"
    answer = answerer.answer(question, [counted])
    assert not answer.abstained and "1,700" in answer.answer, answer.answer
    assert answer.declined_because == ""


@pytest.mark.parametrize(
    ("sentence", "caption"),
    [
        ("Andre Penner/AP Brazilian President Jair Bolsonaro votes in Rio.", True),
        ("Ernesto Benavides /AFP/Getty Images Lula kisses his ticket after voting.", True),
        ("Steve Nash was appointed in 2020 Dustin Satloff/Getty Images North America", True),
        ("The AP/NORC poll found that 40% of adults approve.", False),
        ("A Reuters/Ipsos poll found 40% approve of the president.", False),
        ("He said 24/7 coverage of the storm was needed.", False),
    ],
)
def test_photo_captions_are_recognised_by_their_credit(sentence, caption):
    assert is_photo_caption(sentence) is caption


def test_what_someone_said_about_a_topic_comes_from_an_article_naming_both(embedder):
    question = "What did Pope Francis say about Halloween?"
    halloween = _passage(
        "Some parents have long condemned Halloween as a holiday celebrating devil worship, "
        "a school board member said on Monday.",
        "halloween",
    )
    answerer = checked(embedder, "subject")
    assert answerer.answer(question, [halloween]).abstained
    francis = _passage(
        "Pope Francis said on Monday that Halloween should be a holiday of joy, not of fear.",
        "francis",
    )
    answer = answerer.answer(question, [halloween, francis])
    assert not answer.abstained, answer.answer
    assert {c.doc_id for c in answer.citations} == {"francis"}, answer.answer


def test_an_answer_carries_its_probability_and_declines_below_the_threshold(embedder):
    question = "How many people died in the floods in Pakistan?"
    counted = _passage(
        "The floods in Pakistan killed 1,700 people and destroyed villages across Sindh."
    )
    answer = checked(embedder).answer(question, [counted])
    assert not answer.abstained and 0.0 < answer.answer_probability <= 1.0
    strict = checked(embedder)
    strict.min_probability = answer.answer_probability + 1e-3
    declined = strict.answer(question, [counted])
    assert declined.abstained and declined.declined_because == "low_probability"
    assert declined.answer_probability == answer.answer_probability
