"""Conversation helpers without a language model: follow-up condensing and starter questions.

A follow-up such as "And what did he say about NATO?" cannot be answered on its own.
``condense_question`` rewrites it with the previous turn's names ("What did Putin say
about NATO?") so retrieval and the answerer see a self-contained question.
``suggest_questions`` builds example questions from indexed articles' text.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence

_WORD = re.compile(r"[\w'’-]+")
_PERSONAL = frozenset("he him his she her hers they them their theirs".split())
_THING = frozenset("it its this that these those there".split())
_LEADS = ("and also", "and what about", "what about", "how about", "and", "also", "but", "so")
_QUESTION_WORDS = frozenset(
    "what which who whom whose when where why how did does do is are was were can could "
    "would will should has have had tell".split()
)
_NOT_NAMES = frozenset(
    "i a an the and or but if in on at of to for by with as from this that these those it its "
    "he she they we you his her their our my your there here then what which who whom whose "
    "when where why how mr mrs ms dr monday tuesday wednesday thursday friday saturday sunday "
    "january february march april may june july august september october november december "
    "earlier later meanwhile however according".split()
)
_SPEECH = frozenset(
    "said says stated told warned added confirmed announced argued claimed explained "
    "criticized criticised insisted noted declared threatened".split()
)
_SHORT_WORDS = 4
_TOKEN = re.compile(r"[\w'’-]+|[.!?…:;\"“”\n]")
_BOUNDARIES = frozenset('.!?…:;"“”\n')
_ADJECTIVE_ENDINGS = ("ian", "ern", "ese", "ish", "can", "ean", "ic")
_ROLES = frozenset(
    "president prime minister secretary senator governor rep sen gov chancellor spokesman "
    "spokeswoman spokesperson chief director minister ceo king queen pope judge general "
    "former vice deputy state foreign defense".split()
)


def _words(text: str) -> list[str]:
    return [w.strip("'’-") for w in _WORD.findall(text) if w.strip("'’-")]


def name_groups(text: str, first_counts: bool = False) -> list[str]:
    """Runs of capitalised words that are not at a sentence or line start ("South Korea").

    With ``first_counts`` a capitalised first word counts too (for short follow-ups such as
    "NATO?" or "North Korea?").
    """
    groups: list[str] = []
    current: list[str] = []
    sentence_start = not first_counts
    for token in _TOKEN.finditer(text):
        word = re.sub(r"['’]s$", "", token.group()).strip("'’-")
        is_name = (
            bool(word)
            and word[0].isupper()
            and word.lower() not in _NOT_NAMES
            and not sentence_start
        )
        if is_name:
            current.append(word)
        elif current:
            groups.append(" ".join(current))
            current = []
        if is_name and token.group().endswith(("’s", "'s")):
            groups.append(" ".join(current))  # "Trump's lawyers": the name ends here
            current = []
        sentence_start = token.group() in _BOUNDARIES
    if current:
        groups.append(" ".join(current))
    return groups


def _strip_lead(question: str) -> str:
    lowered = question.lower()
    for lead in _LEADS:
        if lowered.startswith(lead + " ") or lowered.startswith(lead + ","):
            rest = question[len(lead) :].lstrip(" ,")
            return rest[:1].upper() + rest[1:]
    return question


def _has_lead(question: str) -> bool:
    lowered = question.lower()
    return any(lowered.startswith(lead + " ") or lowered.startswith(lead + ",") for lead in _LEADS)


def is_follow_up(question: str) -> bool:
    """Does the question lean on the previous turn?

    It does when it refers to a person by pronoun ("what did he say"), opens with "and" or
    "what about", or has no names of its own and is short or says "it"/"that".
    """
    words = [w.lower() for w in _words(question)]
    if not words:
        return False
    if any(w in _PERSONAL for w in words) or _has_lead(question):
        return True
    if name_groups(question):
        return False
    return len(words) <= _SHORT_WORDS or any(w in _THING for w in words)


def _replace_pronoun(question: str, pronouns: frozenset[str], name: str) -> tuple[str, bool]:
    """Replace the first of ``pronouns`` by ``name`` (possessives get "'s")."""
    for match in _WORD.finditer(question):
        word = match.group().lower()
        if word in pronouns:
            possessive = word in {"his", "hers", "their", "theirs", "its"}
            replacement = f"{name}'s" if possessive else name
            return question[: match.start()] + replacement + question[match.end() :], True
    return question, False


def condense_question(question: str, history: Sequence[str]) -> str:
    """A self-contained version of ``question`` given the previous questions (oldest first).

    ``history`` should hold the earlier *condensed* questions, so chains of follow-ups keep
    their subject. A question that already stands on its own is returned unchanged.
    """
    question = " ".join((question or "").split())
    previous = next((h for h in reversed(history) if h and h.strip()), "")
    if not previous or not is_follow_up(question):
        return question
    names = name_groups(previous)
    rewritten = _strip_lead(question)
    if names:
        rewritten, replaced = _replace_pronoun(rewritten, _PERSONAL, names[0])
        if replaced:
            return rewritten  # "what did he say about NATO" -> "what did Putin say about NATO"
        own = name_groups(rewritten, first_counts=True)
        if own and len(_words(rewritten)) <= _SHORT_WORDS:
            # "What about NATO?" after "What did Putin say about South Korea?": swap the topic.
            return _swap_topic(previous, names[-1], own[-1])
    context = [n for n in names if n.lower() not in rewritten.lower()] or [_topic(previous)]
    return f"{rewritten.rstrip('?. ')} ({', '.join(context)})?"


def _topic(question: str) -> str:
    """The previous question's content words, when it has no names."""
    words = [w for w in _words(question) if w.lower() not in _QUESTION_WORDS | _NOT_NAMES]
    return " ".join(words)


def _swap_topic(previous: str, old_topic: str, new_topic: str) -> str:
    index = previous.rfind(old_topic)
    return previous[:index] + new_topic + previous[index + len(old_topic) :]


def _speakers(text: str, names: Counter) -> Counter:
    """How often each name is directly followed by a speech verb ("Putin said")."""
    counts: Counter = Counter()
    for name in names:
        pattern = re.compile(rf"\b{re.escape(name)}\s+(?:also\s+)?(\w+)")
        counts[name] = sum(1 for m in pattern.finditer(text) if m.group(1).lower() in _SPEECH)
    return counts


def _without_role(name: str) -> str:
    """ "Prime Minister Pedro Sanchez" -> "Pedro Sanchez"; a bare role gives ""."""
    words = name.split()
    while words and words[0].lower() in _ROLES:
        words.pop(0)
    return " ".join(words)


def article_questions(title: str, text: str, limit: int = 3) -> list[str]:
    """A few natural questions one article can answer, built from its most frequent names."""
    body = text[len(title) :] if text.startswith(title) else text
    names = Counter(
        name
        for name in map(_without_role, name_groups(body))
        if len(name) > 2 and not name.lower().endswith(_ADJECTIVE_ENDINGS)
    )
    for group in list(names):
        surname = group.split()[-1]
        if " " in group and surname in names:
            names[surname] += names.pop(group)  # "Vladimir Putin" counts as "Putin"
    if not names:
        return [f"What is “{title}” about?"] if title else []
    speakers = _speakers(body, names)
    speaker = max(speakers, key=lambda n: (speakers[n], names[n])) if speakers else None
    topics = [n for n, _ in names.most_common() if n != speaker and not speakers.get(n)]
    out = []
    if speaker and speakers[speaker]:
        out += [f"What did {speaker} say about {t}?" for t in topics[:2]]
    out += [f"What is reported about {t}?" for t in topics[len(out) :][:2]]
    return out[:limit]


def suggest_questions(articles: Sequence[tuple[str, str]], n: int = 4) -> list[str]:
    """Up to ``n`` distinct example questions, taking turns over the ``(title, text)`` pairs."""
    per_article = [article_questions(title, text) for title, text in articles]
    out: list[str] = []
    for round_ in range(max((len(q) for q in per_article), default=0)):
        for questions in per_article:
            if round_ < len(questions) and questions[round_] not in out:
                out.append(questions[round_])
    return out[:n] if n else out
