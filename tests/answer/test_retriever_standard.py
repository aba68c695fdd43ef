"""The retriever against LangChain's standard retriever tests, and its own API.

``langchain-tests`` checks what any LangChain retriever must do: ``k`` in the
constructor and per call, ``invoke`` and ``ainvoke`` returning documents.
"""

from __future__ import annotations

import pytest
from langchain_core.documents import Document as LCDocument
from langchain_tests.integration_tests import RetrieversIntegrationTests

from assistant.answer.retrieval import HybridRetriever
from assistant.store.articles import StoreError


class TestHybridRetrieverStandard(RetrieversIntegrationTests):
    """The standard suite, over the seed index built once per session."""

    @pytest.fixture(autouse=True)
    def _index(self, seed_index_dir, embedder):
        self._params = {"index_dir": seed_index_dir, "embedder": embedder, "k": 5}

    @property
    def retriever_constructor(self):
        return HybridRetriever.from_index

    @property
    def retriever_constructor_params(self) -> dict:
        return self._params

    @property
    def retriever_query_example(self) -> str:
        return "What did Putin say about South Korea?"


def test_from_index_honours_k_per_call(seed_index_dir, embedder):
    retriever = HybridRetriever.from_index(seed_index_dir, k=4, embedder=embedder)
    assert len(retriever.invoke("Putin South Korea weapons")) == 4
    two = retriever.invoke("Putin South Korea weapons", k=2)
    assert [d.id for d in two] == [d.id for d in retriever.invoke("Putin South Korea weapons")][:2]
    assert all(isinstance(d, LCDocument) and d.metadata["chunk_id"] == d.id for d in two)


def test_from_index_refuses_a_missing_folder(tmp_path, embedder):
    with pytest.raises(StoreError, match="no index"):
        HybridRetriever.from_index(tmp_path / "nothing-here", embedder=embedder)


def test_from_index_rejects_unknown_settings(seed_index_dir, embedder):
    from assistant.config import SettingsError

    with pytest.raises(SettingsError, match="unknown setting"):
        HybridRetriever.from_index(seed_index_dir, embedder=embedder, no_such_knob=1)
