"""One validated settings object for the whole assistant.

Values come from (lowest to highest priority) defaults, ``ASSISTANT_*`` environment
variables, and explicit overrides such as CLI flags. Unknown settings fail loudly.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

ENV_PREFIX = "ASSISTANT_"
DEFAULT_MODEL = "all-MiniLM-L6-v2"


class SettingsError(ValueError):
    """A setting is unknown or has an invalid value."""


class Settings(BaseSettings):
    """Every knob of the assistant, validated once and passed explicitly."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="forbid", validate_default=True)

    index_dir: Path = Path("index")
    collection: str = "articles"
    chroma_url: str | None = None

    embedding_model: str = DEFAULT_MODEL
    device: Literal["auto", "cpu", "cuda", "mps"] = "auto"
    embed_batch_size: int = Field(64, ge=1, le=4096, description="raised to 256 on a GPU")
    torch_threads: int = Field(0, ge=0, le=512, description="encoder CPU threads; 0: torch's")
    encoder: Literal["auto", "torch", "onnx"] = Field(
        "auto", description="short encodings on ONNX Runtime (auto: when exportable, on CPU)"
    )
    # each Chroma write has a fixed cost of about 0.1 s: upserting 8,000 chunks 1,024 rather
    # than 256 at a time took 1.9 rather than 2.9 ms a chunk (docs/performance.md)
    index_batch_chunks: int = Field(
        1024, ge=1, le=100_000, description="chunks embedded and committed in one step"
    )
    # all-MiniLM-L6-v2 was trained on 128-word-piece inputs; chunks of that size retrieved
    # the answer's passage first more often than 200-piece ones (hit@1 0.49 -> 0.57)
    max_chunk_tokens: int = Field(128, ge=32, le=256)
    chunk_overlap_sentences: int = Field(1, ge=0, le=5)

    k: int = Field(10, ge=1, le=50, description="passages given to the answerer")
    candidates: int = Field(40, ge=1, le=500, description="candidates per retriever")
    # Chroma's default of 100 missed a question's nearest passage in one of two builds of
    # the 19k-chunk eval index; 400 found the exact top 40 in both for about 1 ms a query
    hnsw_ef_search: int = Field(400, ge=10, le=100_000, description="HNSW search effort")
    rrf_k: int = Field(60, ge=1, description="reciprocal-rank fusion constant (a feature)")
    # Jaccard of body word 3-shingles at which an article is a copy of an indexed one;
    # measured on the training weeks' articles (docs/library.md, "Syndicated copies"); 0: off
    duplicate_threshold: float = Field(0.8, ge=0.0, le=1.0)

    answerer: str = "extractive"
    max_answer_sentences: int = Field(3, ge=1, le=10)
    min_answer_probability: float | None = Field(
        None, ge=0.0, le=1.0, description="abstain below this; empty: the learned threshold"
    )
    models_dir: Path | None = Field(
        None, description="learned models written by `assistant train --out`; empty: shipped"
    )

    # LLM answerers (``answerer`` = llamacpp | openai); see assistant/llm.py
    llm_model_path: str = Field("", description="GGUF file for llamacpp; empty: bundled SmolLM2")
    llm_threads: int | None = Field(None, ge=1, le=256, description="llamacpp CPU threads")
    llm_gpu_layers: int = Field(0, ge=-1, description="llamacpp layers on the GPU (-1: all)")
    llm_base_url: str = Field("http://127.0.0.1:8080/v1", description="OpenAI-compatible API")
    llm_model: str = Field("default", description="model name sent to the openai backend")
    llm_api_key_env: str = Field("OPENAI_API_KEY", description="env var holding the API key")
    llm_context_tokens: int = Field(2048, ge=256, le=1_000_000, description="model context")
    llm_max_tokens: int = Field(256, ge=8, le=32_768, description="tokens the model may write")
    llm_temperature: float = Field(0.0, ge=0.0, le=2.0)
    llm_timeout_s: float = Field(120.0, gt=0, description="whole answer, else extractive")
    llm_min_support: float = Field(0.6, ge=0.0, le=1.0, description="verifier threshold")
    llm_unsupported: Literal["mark", "drop"] = Field(
        "drop", description="unsupported model sentences: dropped, or shown marked"
    )
    llm_cite_unmarked: bool = Field(
        False, description="verifier cites the best passage for sentences without markers"
    )
    prompts_dir: Path | None = Field(None, description="prompt files; empty: prompts/")

    max_file_bytes: int = Field(20 * 1024 * 1024, ge=1, description="cap per file or URL")
    fetch_timeout_s: float = Field(20.0, gt=0, le=600, description="per URL download")
    max_question_chars: int = Field(2000, ge=10)

    # Feeds (assistant/feeds.py) and scheduled refresh (assistant/watch.py)
    feed_max_bytes: int = Field(5 * 1024 * 1024, ge=1, description="cap per feed document")
    feeds_refresh_minutes: float | None = Field(
        None, gt=0, description="serve: refresh feeds and re-read sources this often"
    )
    allow_private_urls: bool = Field(
        False, description="web app beyond loopback: may fetch loopback and private addresses"
    )

    host: str = "127.0.0.1"
    port: int = Field(7860, ge=0, le=65535)

    # Web UI
    show_scores: bool = Field(True, description="show relevance scores on citation cards")
    uploads_dir: Path | None = Field(None, description="where added articles are written")
    auth: SecretStr | None = Field(
        None, description="user:password, or a file of user:password lines; enables login"
    )
    read_only: bool = Field(False, description="web UI: no uploads, re-indexing or removals")
    max_upload_bytes: int = Field(20 * 1024 * 1024, ge=1, description="per uploaded file")
    queue_max_size: int = Field(64, ge=1, description="waiting requests before 'busy'")
    concurrency_limit: int = Field(4, ge=1, le=64, description="questions answered at once")

    @property
    def upload_folder(self) -> Path:
        """The folder articles added through the web UI are written to."""
        return Path(self.uploads_dir or Path(self.index_dir) / "uploads")

    @field_validator(
        "chroma_url",
        "uploads_dir",
        "auth",
        "prompts_dir",
        "feeds_refresh_minutes",
        "models_dir",
        mode="before",
    )
    @classmethod
    def _empty_is_none(cls, value: Any) -> Any:
        return value or None

    @field_validator("models_dir")
    @classmethod
    def _models_dir_holds_models(cls, value: Path | None) -> Path | None:
        # a folder without a manifest would silently fall back to no models at all
        if value is not None and not (value / "manifest.json").is_file():
            raise ValueError(f"{value} holds no learned models (no manifest.json)")
        return value

    @model_validator(mode="after")
    def _reply_fits_context(self) -> Settings:
        if self.llm_max_tokens >= self.llm_context_tokens:
            raise ValueError(
                f"llm_max_tokens ({self.llm_max_tokens}) must be below llm_context_tokens "
                f"({self.llm_context_tokens}): the passages need room too"
            )
        return self


def _reject_unknown_env() -> None:
    known = {ENV_PREFIX + name.upper() for name in Settings.model_fields}
    unknown = sorted(k for k in os.environ if k.startswith(ENV_PREFIX) and k not in known)
    if unknown:
        raise SettingsError(f"unknown setting(s) in the environment: {', '.join(unknown)}")


def load_settings(**overrides: Any) -> Settings:
    """Build settings from the environment, then apply non-None ``overrides`` (CLI flags)."""
    _reject_unknown_env()
    unknown = sorted(set(overrides) - set(Settings.model_fields))
    if unknown:
        raise SettingsError(f"unknown setting(s): {', '.join(unknown)}")
    given = {k: v for k, v in overrides.items() if v is not None}
    try:
        return Settings(**given)
    except ValueError as exc:
        raise SettingsError(str(exc)) from exc
