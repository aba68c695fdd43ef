"""What a quotable sentence looks like: whether it stands on its own, is an image
caption or is itself a question. The sentence model reads these as features."""

from __future__ import annotations

import re

# A quote should stand on its own: one opening with a pronoun or "But" leans on the
# sentence before it ("But a growing body of research suggests heavy use ..." never says
# of what).
_DANGLING_OPENERS = frozenset("he she they it his her their its this that these those but".split())


def leans_on_context(sentence: str) -> bool:
    """Whether a sentence needs the one before it: it opens with a pronoun or "But", or it
    holds only part of a quotation (a passage can begin or end inside one, and the speaker
    is named where the quotation opens)."""
    words = sentence.split()
    first = words[0] if words else ""
    return first.strip("“\"‘'(,").lower() in _DANGLING_OPENERS or partial_quotation(sentence)


def partial_quotation(sentence: str) -> bool:
    """Whether a sentence opens or closes a quotation without the other end."""
    return sentence.count("“") != sentence.count("”") or sentence.count('"') % 2 == 1


# A photo credit ("Andre Penner/AP", "Joe Raedle/Getty Images") marks an image caption that
# scraped pages run into the article text; a caption describes a picture, not the news.
_PHOTO_CREDIT = re.compile(
    r"\b[A-Z][\w.'’-]* ?/(?:[\w&.'’ -]+/)*"
    r"(?:Getty Images|AP|AFP|Reuters|Associated Press|Bloomberg|EPA(?:-EFE)?|Shutterstock|"
    r"Sipa USA|ZUMA|Zuma Press|USA TODAY|The New York Times|The Washington Post|"
    r"NurPhoto|Anadolu Agency|SOPA Images|LightRocket|Pool|CNN)\b"
)


def is_photo_caption(sentence: str) -> bool:
    """Whether a sentence holds a photo credit, as image captions do."""
    return bool(_PHOTO_CREDIT.search(sentence))


def asks_question(sentence: str) -> bool:
    """Whether a sentence is itself a question (it states nothing, so never answers)."""
    return sentence.rstrip("”\"’') ").endswith("?")
