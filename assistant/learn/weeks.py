"""The training weeks: questions with their gold answers and each week's articles.

A week's folder holds ``questions.jsonl`` and ``articles.jsonl.gz`` (see the data's
README). Weeks are grouped into *blocks* of four consecutive weeks, each one corpus (as
the dev set is three weeks); folds are by block, never by question, because a week's
questions share its articles. A fixed sample of blocks is held out: nothing is fitted or
chosen on it, and ``make eval-train`` reports on it.
"""

from __future__ import annotations

import gzip
import json
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import cached_property
from pathlib import Path

from assistant.library.formats import jsonl_article
from assistant.schema import Document

DEFAULT_TRAIN_DIR = Path("../shared/train/realtimeqa-train")
BLOCK_WEEKS = 4
# every sixth full block, from the third: 20 weeks spread over 2022, 2024 and 2025
HELD_OUT_EVERY, HELD_OUT_FROM = 6, 2

# The "supported" label (fixed by the issue so figures stay comparable): some article
# holds the gold text within 400 characters of at least 40 % (and 2) of the question's
# content words.
SUPPORT_WINDOW = 400
SUPPORT_SHARE = 0.4
SUPPORT_MIN_WORDS = 2
_SUPPORT_STOP = frozenset(
    "the a an of in on at to for and or is was were are be been by with from that this which "
    "who what whom whose when where why how did does do has have had it its as his her their "
    "week year new said says after before about into over than more most following".split()
)
_SUPPORT_WORD = re.compile(r"[a-z0-9]{3,}")


class WeeksError(ValueError):
    """The training data cannot be read as asked; the message says why."""


@dataclass(frozen=True)
class TrainQuestion:
    """One quiz question of a week, with its gold answer text."""

    id: str
    week: str
    date: str  # the quiz date, YYYY-MM-DD
    question: str
    answer: str
    in_corpus: bool


@dataclass
class Week:
    """One week's questions and the articles found for them."""

    name: str  # the folder name, YYYY-MM-DD
    folder: Path
    questions: list[TrainQuestion] = field(default_factory=list)
    max_articles: int | None = None  # read only the first N (a quick sample)

    @cached_property
    def documents(self) -> list[Document]:
        """The week's articles, parsed as the indexer parses a JSONL line."""
        path = self.folder / "articles.jsonl.gz"
        return load_documents(path, f"train:{self.name}", self.max_articles)


def load_documents(path: Path, source: str, limit: int | None = None) -> list[Document]:
    """Articles of a gzip JSON-lines file (the first ``limit``); lines without text are
    skipped."""
    docs = []
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if limit is not None and len(docs) >= limit:
                break
            raw = json.loads(line)
            record = {k: raw.get(k) or "" for k in ("title", "url", "date", "text")}
            if record["text"].strip():
                docs.append(jsonl_article(json.dumps(record), f"{source}#L{number}"))
    return docs


def load_week(folder: Path, max_articles: int | None = None) -> Week:
    """A week folder's questions (articles are read when first asked for)."""
    folder = Path(folder)
    path = folder / "questions.jsonl"
    if not path.is_file():
        raise WeeksError(f"{folder} holds no questions.jsonl")
    week = Week(folder.name, folder, max_articles=max_articles)
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            raw = json.loads(line)
            week.questions.append(
                TrainQuestion(
                    id=str(raw["id"]),
                    week=folder.name,
                    date=str(raw.get("date", "")).replace("/", "-"),
                    question=str(raw["question"]),
                    answer=str(raw["answer"]),
                    in_corpus=bool(raw.get("in_corpus", False)),
                )
            )
    return week


def week_names(train_dir: Path) -> list[str]:
    """The week folders under ``train_dir``, oldest first."""
    train_dir = Path(train_dir)
    if not train_dir.is_dir():
        raise WeeksError(f"the training data folder {train_dir} does not exist")
    names = sorted(p.name for p in train_dir.iterdir() if (p / "questions.jsonl").is_file())
    if not names:
        raise WeeksError(f"{train_dir} holds no week folders")
    return names


def make_blocks(names: list[str]) -> list[list[str]]:
    """Runs of consecutive weeks cut into blocks of four; a run's remainder (one to three
    weeks) is a short block of its own."""
    runs: list[list[str]] = []
    for name in names:
        day = date.fromisoformat(name)
        if runs and date.fromisoformat(runs[-1][-1]) + timedelta(days=7) == day:
            runs[-1].append(name)
        else:
            runs.append([name])
    return [run[i : i + BLOCK_WEEKS] for run in runs for i in range(0, len(run), BLOCK_WEEKS)]


def held_out_blocks(blocks: list[list[str]]) -> list[list[str]]:
    """The fixed evaluation sample: every sixth full block, from the third."""
    full = [b for b in blocks if len(b) == BLOCK_WEEKS]
    return [b for i, b in enumerate(full) if i % HELD_OUT_EVERY == HELD_OUT_FROM]


def training_blocks(blocks: list[list[str]]) -> list[list[str]]:
    """Every block outside the held-out sample."""
    held = held_out_blocks(blocks)
    return [b for b in blocks if b not in held]


# The blocks ``assistant train`` fits the shipped models on by default: a sample of the
# training blocks spread over 2022, 2024 and 2025. Not all 28 of them: a block costs 5 to
# 10 minutes of encoding on 2 cores, so all would take hours from a cold cache
# (``--all-blocks`` trains on every one).
TRAINING_SAMPLE = (
    "2022-06-17",
    "2022-09-09",
    "2022-11-25",
    "2024-01-05",
    "2024-06-21",
    "2024-11-08",
    "2025-04-25",
    "2025-05-23",
    "2025-10-10",
    "2025-12-05",
)


def training_sample(blocks: list[list[str]]) -> list[list[str]]:
    """The training blocks that start at a week of ``TRAINING_SAMPLE``."""
    return [b for b in training_blocks(blocks) if b[0] in TRAINING_SAMPLE]


def touches_year(block: list[str], year: str) -> bool:
    """Whether any week of ``block`` falls in ``year`` (``"2024"``)."""
    return any(week.startswith(f"{year}-") for week in block)


def leave_year_out(blocks: list[list[str]], year: str) -> list[list[str]]:
    """The blocks with no week in ``year``: what a leave-one-year-out fit may use (a block
    spanning New Year is left out of the fit too, so nothing of that year is learned)."""
    kept = [b for b in blocks if not touches_year(b, year)]
    if len(kept) == len(blocks):
        raise WeeksError(f"no training block falls in {year}: nothing to leave out")
    return kept


def block_name(block: list[str]) -> str:
    return f"{block[0]}+{len(block)}w"


# --- the "supported" label ----------------------------------------------------------------


def support_text(text: str) -> str:
    """An article's text as the supported label reads it (case- and space-normalised)."""
    text = unicodedata.normalize("NFKC", text).casefold()
    return " ".join(text.split())


def support_words(question: str) -> set[str]:
    """The question's content words as the supported label counts them."""
    return {w for w in _SUPPORT_WORD.findall(question.lower()) if w not in _SUPPORT_STOP}


def is_supported(question: str, gold: str, texts: list[str]) -> bool:
    """Whether some text (as ``support_text`` gives it) holds ``gold`` within 400
    characters of at least 40 % (and at least 2) of the question's content words."""
    words = support_words(question)
    needed = max(SUPPORT_MIN_WORDS, SUPPORT_SHARE * len(words))
    target = support_text(gold)
    if not target or len(words) < SUPPORT_MIN_WORDS:
        return False
    for norm in texts:
        start = norm.find(target)
        while start != -1:
            window = norm[max(0, start - SUPPORT_WINDOW) : start + len(target) + SUPPORT_WINDOW]
            if len(words & set(_SUPPORT_WORD.findall(window))) >= needed:
                return True
            start = norm.find(target, start + 1)
    return False
