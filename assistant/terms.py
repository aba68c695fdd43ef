"""Content words: what sentences and questions are compared on, stemmed and without stop words."""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

TOKEN = re.compile(r"[\w'’-]+")
STOPWORDS = frozenset(
    "a an and are as at be been being but by can could did do does doing for from had has have "
    "he her hers him his how i if in into is it its me my of on or our out over she so than that "
    "the their them then there these they this those to too under up very was we were what when "
    "where which while who whom whose why will with would you your about after again against all "
    "am any because before below between both during each few further here just more most no nor "
    "not now off once only other own same should some such through until down also say said says "
    "tell told according week year new one two many much".split()
)


def fold(text: str) -> str:
    """Text as words are compared: case-folded, accents dropped (Unicode NFKD without its
    combining marks), so "Montreal", "MONTRÉAL" and "Montréal" read alike."""
    if text.isascii():
        return text.casefold()
    # ASCII is its own decomposition, so only the other runs (often a lone curly quote)
    # need decomposing: news text is mostly ASCII, and this is on every question's path.
    return _NON_ASCII.sub(_fold_run, text).casefold()


_NON_ASCII = re.compile(r"[^\x00-\x7f]+")


def _fold_run(match: re.Match) -> str:
    return _fold_chars(match.group())


@lru_cache(maxsize=4096)
def _fold_chars(chars: str) -> str:
    decomposed = unicodedata.normalize("NFKD", chars)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


@lru_cache(maxsize=1)
def stemmer():
    import Stemmer

    return Stemmer.Stemmer("english")


# A question compares its passages' titles and texts several times (and follow-up
# questions the same passages again): remembered, like ``query.name_words``.
@lru_cache(maxsize=2048)
def content_terms(text: str) -> frozenset[str]:
    """Stemmed, case- and accent-folded words of ``text`` without stop words."""
    words = [w.strip("'’-") for w in TOKEN.findall(fold(text))]
    words = [w for w in words if w and w not in STOPWORDS]
    return frozenset(stemmer().stemWords(words))
