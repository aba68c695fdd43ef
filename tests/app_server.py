"""Run the real web app in this process on a free 127.0.0.1 port (for server tests)."""

from __future__ import annotations

import shutil
import socket
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path


@dataclass
class RunningApp:
    url: str
    assistant: object
    settings: object
    demo: object


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def running_app(index_dir: Path, embedder, **overrides):
    """Serve an ``Assistant`` over ``index_dir`` until the block ends."""
    from assistant.config import load_settings
    from assistant.service import Assistant
    from assistant.web.app import launch

    settings = load_settings(index_dir=index_dir, host="127.0.0.1", port=free_port(), **overrides)
    assistant = Assistant(settings, embedder=embedder)
    demo = launch(settings, assistant, prevent_thread_lock=True, quiet=True)
    try:
        yield RunningApp(f"http://127.0.0.1:{settings.port}/", assistant, settings, demo)
    finally:
        demo.close()


def copy_index(source: Path, target: Path) -> Path:
    shutil.copytree(source, target)
    return target
