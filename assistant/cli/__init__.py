"""The command line: ``commands`` (index, ask, eval, serve, ...), ``feeds`` (feeds and
watch) and the training command of ``learn``, on one Typer app; ``common`` holds what they
share."""

from __future__ import annotations

import sys

import typer

from assistant.cli.commands import app
from assistant.cli.common import format_answer, format_report, format_sources
from assistant.cli.feeds import register as register_feeds
from assistant.config import SettingsError

__all__ = ["app", "format_answer", "format_report", "format_sources", "main"]


def _register_learning() -> None:
    from assistant.learn.cli import train_command

    app.command(name="train")(train_command)


_register_learning()
register_feeds(app)


def main() -> None:
    """Console-script entry point."""
    try:
        app()
    except SettingsError as exc:
        typer.secho(f"error: {exc}", fg=typer.colors.RED, err=True)
        sys.exit(2)
