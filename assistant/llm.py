"""LLM answerers (filled in by the LLM issue); unknown names are an error."""

from __future__ import annotations

LLM_BACKENDS: dict[str, object] = {}


def make_llm_answerer(settings, embedder):
    """The LLM answerer named by ``settings.answerer``."""
    raise ValueError(f"unknown answerer {settings.answerer!r}; choose one of: extractive")
