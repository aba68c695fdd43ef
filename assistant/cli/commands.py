"""Commands ``assistant index|reindex|ask|sources|remove|eval|serve`` (thin over
``Assistant``); ``feeds`` and ``watch`` live in ``cli.feeds``, ``train`` in ``learn.cli``."""

from __future__ import annotations

import json
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer

from assistant.cli.common import (
    AsJson,
    ChromaUrl,
    IndexDir,
    fail,
    format_answer,
    format_report,
    format_sources,
    open_assistant,
)
from assistant.config import SettingsError, load_settings
from assistant.library.inputs import printable
from assistant.schema import Answer, IndexReport

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Answer questions about news articles with cited passages.",
)


@contextmanager
def _progress_bar(enabled: bool):
    """A rich progress bar on stderr (only on a terminal); yields the callback."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
    console = Console(stderr=True)
    with Progress(*columns, console=console, transient=True, disable=not enabled) as bar:
        task = bar.add_task("indexing", total=None)

        def progress(done: int, total: int, name: str) -> None:
            label = Path(name).name if "://" not in name else name
            bar.update(task, completed=done, total=total, description=printable(label)[:40])

        yield progress


def _finish_index(report: IndexReport, as_json: bool) -> None:
    """Print the summary; exit status 1 when some inputs were rejected."""
    typer.echo(json.dumps(report.model_dump()) if as_json else format_report(report))
    if report.errors:
        raise typer.Exit(code=1)


@app.command()
def index(
    paths: Annotated[list[str], typer.Argument(help="Files, folders or http(s) URLs.")],
    sync: Annotated[
        bool, typer.Option("--sync", help="Also forget articles whose files left the folders.")
    ] = False,
    index_dir: IndexDir = None,
    chroma_url: ChromaUrl = None,
    as_json: AsJson = False,
) -> None:
    """Add new and changed articles to the index (unchanged ones are skipped)."""
    assistant = open_assistant(index_dir=index_dir, chroma_url=chroma_url)
    with _progress_bar(not as_json and sys.stderr.isatty()) as progress:
        try:
            report = assistant.index(paths, progress, sync=sync)
        except RuntimeError as exc:
            raise fail(str(exc)) from exc
    _finish_index(report, as_json)


@app.command()
def reindex(
    rebuild: Annotated[
        bool,
        typer.Option(
            "--rebuild", help="Re-chunk and re-embed everything (new model or chunk settings)."
        ),
    ] = False,
    index_dir: IndexDir = None,
    chroma_url: ChromaUrl = None,
    as_json: AsJson = False,
) -> None:
    """Re-read every recorded file and URL; with --rebuild, rebuild all vectors instead."""
    with _progress_bar(not as_json and sys.stderr.isatty()) as progress:
        try:
            if rebuild:
                from assistant.store.rebuild import rebuild_index

                settings = load_settings(index_dir=index_dir, chroma_url=chroma_url)
                report = rebuild_index(settings, progress=progress)
            else:
                assistant = open_assistant(index_dir=index_dir, chroma_url=chroma_url)
                report = assistant.reindex(progress)
        except RuntimeError as exc:
            raise fail(str(exc)) from exc
    _finish_index(report, as_json)


@app.command()
def ask(
    question: Annotated[str | None, typer.Argument()] = None,
    questions: Annotated[
        Path | None, typer.Option("--questions", help='JSONL of {"question": ...}.')
    ] = None,
    k: Annotated[int | None, typer.Option("--k", help="Passages to retrieve.")] = None,
    answerer: Annotated[
        str | None, typer.Option("--answerer", help="extractive, llamacpp or openai.")
    ] = None,
    model_path: Annotated[
        str | None, typer.Option("--model-path", help="GGUF file for llamacpp.")
    ] = None,
    base_url: Annotated[
        str | None, typer.Option("--base-url", help="OpenAI-compatible API for openai.")
    ] = None,
    model: Annotated[str | None, typer.Option("--model", help="Model name for openai.")] = None,
    stream: Annotated[bool, typer.Option("--stream", help="Print the answer as written.")] = False,
    since: Annotated[
        str, typer.Option("--since", help="Only articles published on or after YYYY-MM-DD.")
    ] = "",
    until: Annotated[
        str, typer.Option("--until", help="Only articles published on or before YYYY-MM-DD.")
    ] = "",
    index_dir: IndexDir = None,
    chroma_url: ChromaUrl = None,
    as_json: AsJson = False,
) -> None:
    """Answer a question (or every question of a JSONL file) with citations."""
    if (question is None) == (questions is None):
        raise fail("give a QUESTION or --questions FILE, not both or neither")
    if stream and as_json:
        raise fail("--stream prints text as it comes; it cannot be combined with --json")
    assistant = open_assistant(
        index_dir=index_dir,
        chroma_url=chroma_url,
        k=k,
        answerer=answerer,
        llm_model_path=model_path,
        llm_base_url=base_url,
        llm_model=model,
    )
    if not as_json and assistant.store.chunk_count() == 0:
        typer.echo(
            f"{assistant.store.location} holds no articles: add some with "
            "`assistant index PATH ...` first.",
            err=True,
        )
    for q in [question] if question else _read_questions(questions):
        try:
            answer = (
                _stream_answer(assistant, q, since, until)
                if stream
                else assistant.ask(q, since=since, until=until)
            )
        except ValueError as exc:
            raise fail(str(exc)) from exc
        typer.echo(
            json.dumps(answer.to_json_dict(), ensure_ascii=False)
            if as_json
            else format_answer(answer) + ("\n" if questions else "")
        )


def _stream_answer(assistant, question: str, since: str = "", until: str = "") -> Answer:
    """Print text deltas as they come; the verified answer is printed after them."""
    answer = None
    for event in assistant.ask_stream(question, since=since, until=until):
        if isinstance(event, Answer):
            answer = event
        else:
            typer.echo(event, nl=False)
    typer.echo("\n\n--- verified answer ---")
    return answer


def _read_questions(path: Path):
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise fail(f"cannot read {path}: {exc}") from exc
    for number, line in enumerate(lines, start=1):
        if line.strip():
            try:
                yield json.loads(line)["question"]
            except (ValueError, KeyError, TypeError):
                raise fail(f'{path}:{number}: expected a JSON object with a "question"') from None


@app.command()
def sources(
    index_dir: IndexDir = None, chroma_url: ChromaUrl = None, as_json: AsJson = False
) -> None:
    """List the indexed articles."""
    items = open_assistant(index_dir=index_dir, chroma_url=chroma_url).sources()
    if as_json:
        typer.echo(
            json.dumps(
                [
                    s.model_dump(
                        include={
                            "doc_id",
                            "title",
                            "source",
                            "chunks",
                            "indexed_at",
                            "date",
                            "outlet",
                            "sources",
                        }
                    )
                    for s in items
                ]
            )
        )
    else:
        typer.echo(format_sources(items))


@app.command()
def remove(
    source_or_id: str,
    index_dir: IndexDir = None,
    chroma_url: ChromaUrl = None,
    as_json: AsJson = False,
) -> None:
    """Remove an article by its id, path or URL.

    An article also found under another source (a syndicated copy) keeps that one."""
    assistant = open_assistant(index_dir=index_dir, chroma_url=chroma_url)
    removed, kept = assistant.remove_matching(source_or_id)
    if as_json:
        typer.echo(json.dumps({"removed": removed, "kept": kept}))
    elif removed or kept:
        if removed:
            typer.echo(f"removed {len(removed)} article(s): {', '.join(removed)}")
        if kept:
            typer.echo(f"removed the source; kept under its other sources: {', '.join(kept)}")
    else:
        raise fail(f"no indexed article matches {source_or_id!r}")


@app.command(name="eval")
def evaluate(
    questions: Annotated[
        Path | None, typer.Argument(help='JSONL of {"id", "question", "answer"}.')
    ] = None,
    corpus: Annotated[
        Path | None, typer.Option("--corpus", help="Folder of articles to index.")
    ] = None,
    train_dir: Annotated[
        Path | None,
        typer.Option("--train-dir", help="Evaluate on blocks of these training weeks instead."),
    ] = None,
    blocks: Annotated[
        str,
        typer.Option(
            "--blocks", help="With --train-dir: held-out, training, all, or first weeks (a,b)."
        ),
    ] = "held-out",
    year: Annotated[
        str | None,
        typer.Option("--year", help="With --train-dir: only the blocks with a week in YEAR."),
    ] = None,
    out: Annotated[Path, typer.Option("--out", help="Folder for the reports.")] = Path(
        "eval-results"
    ),
    cache_dir: Annotated[
        Path | None, typer.Option("--cache-dir", help="Index cache (default OUT/cache).")
    ] = None,
    name: Annotated[
        str | None, typer.Option("--name", help="Report file name (default: questions stem).")
    ] = None,
    k: Annotated[int | None, typer.Option("--k", help="Passages given to the answerer.")] = None,
    answerer: Annotated[str | None, typer.Option("--answerer")] = None,
    as_json: AsJson = False,
) -> None:
    """Index a corpus (or reuse its cached index), ask every question and report metrics;
    with ``--train-dir``, do it for blocks of four training weeks, with 95 % intervals."""
    from assistant.learn.eval_report import format_summary, write_outputs
    from assistant.learn.evaluation import EvalError, run_eval

    if train_dir is not None:
        from assistant.learn.cli import evaluate_weeks

        return evaluate_weeks(
            train_dir, blocks, out, cache_dir or out / "cache", name, as_json, year
        )
    if questions is None or corpus is None:
        raise fail("give a questions file and --corpus, or --train-dir")

    try:
        import matplotlib  # noqa: F401  (checked first: the plot is written last)
    except ImportError:
        raise fail("the eval plot needs matplotlib: pip install -e '.[eval]'") from None
    try:
        settings = load_settings(k=k, answerer=answerer)
        run = run_eval(questions, corpus, settings, cache_dir or out / "cache", progress=_note)
    except (EvalError, SettingsError, RuntimeError) as exc:
        raise fail(str(exc)) from exc
    paths = write_outputs(run, out, name or questions.stem)
    if as_json:
        typer.echo(json.dumps({"summary": run.summary, "outputs": paths}))
    else:
        typer.echo(format_summary(run.summary))
        typer.echo("reports: " + ", ".join(paths.values()))


def _note(message: str) -> None:
    typer.echo(message, err=True)


@app.command()
def serve(
    host: Annotated[str | None, typer.Option("--host")] = None,
    port: Annotated[int | None, typer.Option("--port")] = None,
    index_dir: IndexDir = None,
    chroma_url: ChromaUrl = None,
    read_only: Annotated[
        bool | None,
        typer.Option("--read-only/--writable", help="Disable adding and removing articles."),
    ] = None,
) -> None:
    """Start the web UI (127.0.0.1 by default; see docs/security.md before using 0.0.0.0)."""
    from assistant.web.app import launch

    try:
        settings = load_settings(
            host=host, port=port, index_dir=index_dir, chroma_url=chroma_url, read_only=read_only
        )
    except SettingsError as exc:
        raise fail(str(exc)) from exc
    launch(settings)
