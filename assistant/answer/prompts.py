"""Prompt files (``prompts/``) loaded at run time, and the passages given to a model.

Retrieved text is untrusted: it is numbered, fenced between markers the article text
cannot reproduce, and labelled as data in the prompt. Passages are added best first
until the model's context budget is spent; the last one may be cut to whole sentences.
"""

from __future__ import annotations

import json
import re
import string
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from langchain_core.documents import Document as LCDocument
from langchain_core.prompts import ChatPromptTemplate

DEFAULT_PROMPTS_DIR = Path(__file__).resolve().parents[2] / "prompts"
REQUIRED_FIELDS = {"answer": {"passages", "question"}, "rewrite": {"history", "question"}}
# The answer prompt fences passages between "----- BEGIN/END PASSAGES -----" lines; passage
# text is flattened to one line per passage and its dash runs shortened, so an article
# cannot close the fence or open a fake one.
FENCE = re.compile(r"-{3,}|<{3,}|>{3,}|`{3,}")
# Chat-template tokens and the reply's first tokens, which no tokenizer count includes.
TEMPLATE_MARGIN_TOKENS = 48

TokenCounter = Callable[[str], int]


class PromptError(ValueError):
    """A prompt file is missing or lacks a placeholder the code fills in."""


def load_prompt(name: str, folder: Path | None = None) -> ChatPromptTemplate:
    """The ``name`` prompt as a system + user chat template, read from ``folder``."""
    folder = Path(folder or DEFAULT_PROMPTS_DIR)
    parts = {}
    for role in ("system", "user"):
        path = folder / f"{name}.{role}.txt"
        try:
            parts[role] = path.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise PromptError(f"cannot read prompt file {path}: {exc}") from exc
    found = {field for text in parts.values() for _, field, _, _ in string.Formatter().parse(text)}
    missing = REQUIRED_FIELDS.get(name, set()) - found
    if missing:
        raise PromptError(f"prompt {name!r} in {folder} lacks {{{'}, {'.join(sorted(missing))}}}")
    return ChatPromptTemplate.from_messages([("system", parts["system"]), ("human", parts["user"])])


def passage_block(marker: int, passage: LCDocument) -> str:
    """``[n] (title, date) text`` on one line, with fence look-alikes defused."""
    meta = passage.metadata
    label = ", ".join(x for x in (meta.get("title", ""), meta.get("date", "")) if x)
    text = " ".join(passage.page_content.split())
    block = f"[{marker}] ({label}) {text}" if label else f"[{marker}] {text}"
    return FENCE.sub(lambda m: m.group()[:2], block)


def trim_passage(passage: LCDocument, keep: int) -> LCDocument:
    """The passage cut after its first ``keep`` sentences (offsets stay exact)."""
    sentences = json.loads(passage.metadata["sentences"])[:keep]
    base = int(passage.metadata["start"])
    end = sentences[-1][1]
    meta = {**passage.metadata, "end": end, "sentences": json.dumps(sentences)}
    return LCDocument(page_content=passage.page_content[: end - base], metadata=meta, id=passage.id)


@dataclass
class FittedPassages:
    """The passages given to the model (``[n]`` is ``passages[n-1]``) and their prompt text."""

    passages: list[LCDocument]
    text: str
    dropped: int = 0
    trimmed: bool = False


def fit_passages(
    passages: Sequence[LCDocument], budget_tokens: int, count_tokens: TokenCounter
) -> FittedPassages:
    """Passages, best first, whose blocks fit in ``budget_tokens``.

    A passage that does not fit whole is cut to the sentences that do, and nothing after
    it is added, so the numbering stays in rank order.
    """
    given: list[LCDocument] = []
    blocks: list[str] = []
    left = budget_tokens
    for passage in passages:
        marker = len(given) + 1
        block = passage_block(marker, passage)
        cost = count_tokens(block) + 2  # the blank line between blocks
        if cost <= left:
            given.append(passage)
            blocks.append(block)
            left -= cost
            continue
        cut = _largest_fitting_cut(passage, marker, left, count_tokens)
        if cut is not None:
            given.append(cut)
            blocks.append(passage_block(marker, cut))
        return FittedPassages(given, "\n\n".join(blocks), len(passages) - len(given), True)
    return FittedPassages(given, "\n\n".join(blocks))


def _largest_fitting_cut(
    passage: LCDocument, marker: int, left: int, count_tokens: TokenCounter
) -> LCDocument | None:
    keep = len(json.loads(passage.metadata["sentences"])) - 1
    while keep >= 1:
        cut = trim_passage(passage, keep)
        if count_tokens(passage_block(marker, cut)) + 2 <= left:
            return cut
        keep -= 1
    return None


def prompt_overhead(prompt: ChatPromptTemplate, count_tokens: TokenCounter, **values: str) -> int:
    """Tokens the prompt takes with empty passages, plus the chat template's own."""
    messages = prompt.format_messages(passages="", **values)
    return sum(count_tokens(str(m.content)) for m in messages) + TEMPLATE_MARGIN_TOKENS


def history_block(history: Sequence[str], limit: int = 4) -> str:
    """The last ``limit`` earlier questions, one per line."""
    recent = [" ".join(h.split()) for h in history if h and h.strip()][-limit:]
    return "\n".join(f"- {FENCE.sub(lambda m: m.group()[:2], h)}" for h in recent)
