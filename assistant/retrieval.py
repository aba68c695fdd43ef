"""The old import path of the retriever, kept for users' code: the retriever lives in
``assistant.answer.retrieval`` (``from assistant.retrieval import HybridRetriever`` works)."""

from assistant.answer.retrieval import HybridRetriever

__all__ = ["HybridRetriever"]
