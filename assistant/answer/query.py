"""Question analysis: what a question asks for, and which part of it is the question.

News questions often come quiz-style: a sentence or two of context, then the question
("The Astros threw the second no-hitter. Which team had the first?"). The answer to
"Which team ...?" is a name, to "How many ...?" a number, to "When ...?" a date. A
sentence that answers the question holds a candidate of that type which the question
itself does not contain; the answerer prefers such sentences and, for the sharply typed
questions (numbers, dates), abstains when no supported sentence has one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from assistant.store.chunking import split_sentences
from assistant.terms import content_terms, fold

_WORD = re.compile(r"[\w'’.%$-]+")
_NAME_TOKEN = re.compile(r"[\w'’.-]+")
WH_WORDS = frozenset({"who", "whom", "whose", "what", "which", "when", "where", "why", "how"})
_TYPE_NOUNS = {
    "person": "person people man woman player players coach actor actress singer star stars "
    "artist politician politicians figure figures leader president candidate author celebrity "
    "musician rapper ceo mp minister senator governor legend member members children child son "
    "daughter wife husband official judge host chef athlete comedian director tory republican "
    "democrat",
    "place": "city cities state states country countries nation region town place continent "
    "island county province capital venue location stadium airport",
    "named": "team company companies platform party franchise brand organization organisation "
    "agency network giant firm club university newspaper retailer airline bank league channel "
    "app band show series book sitcom film movie song album holiday word rule law storm "
    "hurricane virus vaccine drink product promotion role title event summit name alliance",
    "percent": "percentage percent share proportion",
    "year": "year years",
    "date": "date day month",
    "number": "number amount",
}
_AUXILIARIES = set(
    "do does did is are was were has have had will would can could should may might".split()
)
_NOUN_TYPE = {noun: kind for kind, nouns in _TYPE_NOUNS.items() for noun in nouns.split()}
_MONTHS = (
    "january february march april may june july august september october november december "
    "jan feb mar apr jun jul aug sep sept oct nov dec"
).split()
_DAYS = "monday tuesday wednesday thursday friday saturday sunday".split()
_NUMBER_WORDS = set(
    "two three four five six seven eight nine ten eleven twelve twenty thirty forty fifty "
    "sixty seventy eighty ninety hundred hundreds thousand thousands million millions billion "
    "billions trillion dozen dozens half".split()
)
_YEAR = re.compile(r"^(1[89]|20)\d\d(s|’s|'s)?$")
_DIGIT = re.compile(r"\d")


@dataclass(frozen=True)
class QueryInfo:
    """A question's focus sentence and the type of answer it asks for."""

    question: str
    focus: str
    answer_type: str  # person | place | named | number | percent | year | date | any


def split_question(question: str) -> list[str]:
    """The sentences of a (possibly multi-sentence) question."""
    text = question.strip()
    return [text[s.start : s.end] for s in split_sentences(text)]


def question_focus(question: str) -> str:
    """The sentence that asks: the last one ending in '?' or opening with a wh-word."""
    sentences = split_question(question)
    for sentence in reversed(sentences):
        first = sentence.split()[0].lower().strip("“\"'‘")
        if sentence.endswith("?") or first in WH_WORDS:
            return sentence
    return question.strip()


def answer_type(question: str) -> str:
    """What kind of answer the question asks for (see ``QueryInfo.answer_type``)."""
    words = [w.lower().strip("“”\"'‘’?,.:") for w in question_focus(question).split()]
    text = " ".join(words)
    if re.search(r"\bwhat (percentage|percent|share)\b", text):
        return "percent"
    if re.search(r"\bhow (many|much)\b", text):
        return "number"
    if re.search(r"\b(what|which|in what) year\b", text):
        return "year"
    if re.search(r"^when\b|\bwhen did\b|\bwhen was\b|\bwhen will\b|\bwhen$", text):
        return "date"
    if re.search(r"\bwho(m|se)?\b", text):
        return "person"
    if re.search(r"^where\b|\bwhere (is|was|will|are|did|does)\b", text):
        return "place"
    if re.search(r"\bwhat (is|was|are|were|will be) (the )?names? of\b", text):
        return "named"
    return _typed_noun(words)


def _typed_noun(words: list[str]) -> str:
    """The type of the first typed noun within a few words after 'which'/'what', or 'any'."""
    for i, word in enumerate(words):
        if word not in {"which", "what"}:
            continue
        for follower in words[i + 1 : i + 6]:
            if follower in _AUXILIARIES:
                break  # past the wh-phrase: "What did the committee say" asks no type
            follower = re.sub(r"['’]s$", "", follower)
            for form in (follower, follower.removesuffix("s")):
                if form in _NOUN_TYPE:
                    return _NOUN_TYPE[form]
    return "any"


def analyse(question: str) -> QueryInfo:
    """The question's focus sentence and answer type."""
    return QueryInfo(question, question_focus(question), answer_type(question))


@lru_cache(maxsize=65536)
def _norm(word: str) -> str:
    word = fold(word.strip("“”\"'‘’,.:;!?()[]"))
    return re.sub(r"['’]s$", "", word)


def has_typed_candidate(sentence: str, kind: str, question: str) -> bool:
    """Whether ``sentence`` holds a candidate answer of ``kind`` that ``question`` lacks."""
    if kind == "any":
        return False
    asked = {_norm(w) for w in _WORD.findall(question)}
    words = _WORD.findall(sentence)
    return any(_is_kind(w, words, i, kind) and _norm(w) not in asked for i, w in enumerate(words))


def _is_kind(word: str, words: list[str], i: int, kind: str) -> bool:
    low = _norm(word)
    if kind == "percent":
        nxt = _norm(words[i + 1]) if i + 1 < len(words) else ""
        return "%" in word or (bool(_DIGIT.search(word)) and nxt in {"percent", "per"})
    if kind == "number":
        # a year dates the count, it is not one ("Nominations for 2023 Grammy Awards")
        return (bool(_DIGIT.search(word)) and not _YEAR.match(low)) or low in _NUMBER_WORDS
    if kind == "year":
        return bool(_YEAR.match(low))
    if kind == "date":
        return bool(_YEAR.match(low)) or low in _MONTHS or low in _DAYS
    # person / place / named: a capitalised word that is not a sentence's first word
    if not (i > 0 and _capitalised(word)):
        return False
    if kind == "person":
        # a person is named with two capitalised words ("Greta Thunberg", "President
        # Biden"); one alone is as often a brand or a body ("Coca-Cola", "House")
        return any(0 <= j < len(words) and _capitalised(words[j]) for j in (i - 1, i + 1))
    return True


@lru_cache(maxsize=65536)
def _capitalised(word: str) -> bool:
    """Whether a word is written as a name: capitalised, or with a capital inside a
    lower-case start ("iPhone", "eBay"); weekdays and months are not names here."""
    low = _norm(word)
    name_like = word[:1].isupper() or (word[:1].islower() and any(c.isupper() for c in word))
    return name_like and low not in _DAYS and low not in _MONTHS


@lru_cache(maxsize=65536)
def _bare_word(word: str) -> str:
    """A word of a name or year as written, without edge punctuation or a possessive."""
    return re.sub(r"['’]s$", "", word.strip("'’.-"))


def name_groups(question: str) -> list[str]:
    """The names a question is about: runs of capitalised words ("North Korea", "World
    Cup"), without each sentence's first word, question words, months, weekdays, numbers
    and possessive endings."""
    groups: list[str] = []
    for sentence in split_question(question):
        run: list[str] = []
        for i, word in enumerate(_NAME_TOKEN.findall(sentence)):
            word = _bare_word(word)
            if i > 0 and _capitalised(word) and word.lower() not in WH_WORDS:
                run.append(word)
            elif run:
                groups.append(" ".join(run))
                run = []
        if run:
            groups.append(" ".join(run))
    return list(dict.fromkeys(groups))


def topic_names(question: str) -> list[str]:
    """Every name of a question that asks what someone said or what is reported *about*
    something ("What did Putin say about South Korea?" gives "Putin" and "South Korea"):
    an answer has to come from an article naming them all, not just some."""
    focus = question_focus(question)
    if not re.search(r"\babout\b", focus, flags=re.IGNORECASE):
        return []
    return name_groups(focus)


def about_part(question: str) -> str:
    """What a question asks *about* ("What did Putin say about the price of oil?" gives
    "the price of oil?"; empty when it asks about nothing, as "What is this report
    about?" does)."""
    match = re.search(r"\babout\b(.+)$", question_focus(question), flags=re.IGNORECASE)
    return match.group(1) if match and content_terms(match.group(1)) else ""


def about_terms(question: str) -> set[str]:
    """The content words of what a question asks about (price and oil): an answer
    sentence should speak of them, not only of who spoke."""
    return content_terms(about_part(question))


def speaks_of(about: str, text: str) -> bool:
    """Whether ``text`` speaks of ``about`` (an ``about_part``): every name in it, whole
    ("South Korea", where "North Korea" shares a word), or, naming none, one of its words."""
    names = name_groups("about " + about)
    if names:
        return names_in(names, name_words(text)) == len(names)
    return bool(content_terms(about) & content_terms(text))


def years_named(text: str) -> list[str]:
    """The years a question or sentence names ("in 1930", "the 2024 race"): like its
    names, they say which events it is about, so passages that never mention a question's
    years are about others."""
    words = (_bare_word(w) for w in _NAME_TOKEN.findall(text))
    return list(dict.fromkeys(w for w in words if _YEAR.match(w)))


def names_found(names: list[str], text: str) -> int:
    """How many of ``names`` occur in ``text``: every word of a name, anywhere in it."""
    return names_in(names, name_words(text))


# One question reads the same article and passage texts several times (features, the
# subject and names checks), and news repeats its words: both are worth remembering.
@lru_cache(maxsize=1024)
def name_words(text: str) -> frozenset[str]:
    """The words of ``text`` as names are compared (see ``names_in``); a hyphenated word
    counts whole and by its parts ("Jong-un", "Jong", "un")."""
    words = {_name_word(w) for w in set(_NAME_TOKEN.findall(text))}
    return frozenset(words | {part for w in words if "-" in w for part in w.split("-") if part})


def names_in(names: list[str], words: frozenset[str] | set[str]) -> int:
    """How many of ``names`` have every word among ``words`` (from ``name_words``); the
    parts of a hyphenated name may stand apart ("the Moscow-Pyongyang agreement" is about
    Moscow and Pyongyang however a passage words it)."""
    return sum(all(_name_word(w) in words for w in _name_parts(name)) for name in names)


def _name_parts(name: str) -> list[str]:
    return [part for word in name.split() for part in word.split("-") if part.strip("'’.")]


@lru_cache(maxsize=65536)
def _name_word(word: str) -> str:
    """A word as names are compared: case- and accent-folded, no dots ("U.S." is "us"), no
    possessive."""
    word = fold(word).replace(".", "").strip("'’-")
    return re.sub(r"['’]s$", "", word)
