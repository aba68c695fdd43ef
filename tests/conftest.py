"""Shared fixtures: the real embedding model and a seed index, built once per session."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
for _key in [k for k in os.environ if k.startswith("ASSISTANT_")]:
    del os.environ[_key]  # tests must not pick up a developer's settings

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"
SEED_FILE = next(SEEDS.glob("*.txt"))


@pytest.fixture(scope="session")
def embedder():
    from assistant.store.embeddings import SentenceEmbedder

    return SentenceEmbedder()


@pytest.fixture
def make_settings(tmp_path):
    """Settings for a fresh index in a temporary folder."""
    from assistant.config import load_settings

    def build(**overrides):
        overrides.setdefault("index_dir", tmp_path / "index")
        return load_settings(**overrides)

    return build


@pytest.fixture
def make_assistant(make_settings, embedder):
    from assistant.service import Assistant

    def build(**overrides):
        return Assistant(make_settings(**overrides), embedder=embedder)

    return build


@pytest.fixture(scope="session")
def seed_index_dir(tmp_path_factory, embedder):
    """An index of seeds/, built once; tests that write must copy it first."""
    from assistant.config import load_settings
    from assistant.service import Assistant

    folder = tmp_path_factory.mktemp("seed-index")
    Assistant(load_settings(index_dir=folder), embedder=embedder).index([str(SEEDS)])
    return folder


@pytest.fixture(scope="session")
def seed_assistant(seed_index_dir, embedder):
    from assistant.config import load_settings
    from assistant.service import Assistant

    return Assistant(load_settings(index_dir=seed_index_dir), embedder=embedder)


@pytest.fixture
def seed_copy(seed_index_dir, tmp_path):
    """A private, writable copy of the seed index."""
    target = tmp_path / "index"
    shutil.copytree(seed_index_dir, target)
    return target


@pytest.fixture(scope="module")
def seed_app(seed_index_dir, embedder, tmp_path_factory):
    """The web app over a private copy of the seed index, shared by one test module."""
    from tests.app_server import copy_index, running_app

    index = copy_index(seed_index_dir, tmp_path_factory.mktemp("app") / "index")
    with running_app(index, embedder) as app:
        yield app
