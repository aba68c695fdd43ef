"""The learning commands: ``assistant train`` and ``assistant eval --train-dir``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from assistant.config import SettingsError, load_settings
from assistant.learn.weeks import DEFAULT_TRAIN_DIR, WeeksError, week_names

TrainDir = Annotated[
    Path, typer.Option("--train-dir", help="The training weeks (one folder a week).")
]


def _fail(message: str) -> typer.Exit:
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    return typer.Exit(code=2)


def _note(message: str) -> None:
    typer.echo(message, err=True)


def cached_embedder(settings, cache_file: Path):
    """The settings' embedder behind the vector cache in ``cache_file``."""
    from assistant.learn.vectors import CachingEmbedder, VectorCache
    from assistant.store.embeddings import get_embedder

    return CachingEmbedder(get_embedder(settings), VectorCache(cache_file))


def train_command(
    train_dir: TrainDir = DEFAULT_TRAIN_DIR,
    out: Annotated[
        Path | None, typer.Option("--out", help="Where the models go (default: the package's).")
    ] = None,
    cache_dir: Annotated[Path, typer.Option("--cache-dir", help="Vector cache folder.")] = Path(
        "eval-results/cache"
    ),
    blocks: Annotated[
        int | None,
        typer.Option("--blocks", help="Use only the first N blocks (of the sample, or of all)."),
    ] = None,
    weeks: Annotated[
        str | None,
        typer.Option("--weeks", help="Train on these weeks only (comma-separated), each a block."),
    ] = None,
    all_blocks: Annotated[
        bool,
        typer.Option(
            "--all-blocks", help="Every training block, not only the sample the models ship from."
        ),
    ] = False,
    max_articles: Annotated[
        int | None, typer.Option("--max-articles", help="Read at most N articles a week.")
    ] = None,
    abstention: Annotated[
        str,
        typer.Option(
            "--abstention",
            help="The abstention model: auto (chosen out of fold), logistic or trees-100x7.",
        ),
    ] = "auto",
    leave_out_year: Annotated[
        str | None,
        typer.Option(
            "--leave-out-year",
            help="Fit without any block of this year (needs --out), for a leave-one-year-out "
            "run: evaluate with ASSISTANT_MODELS_DIR=OUT assistant eval --year YEAR.",
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Fit the passage ranker, sentence ranker and abstention model from the training
    weeks (never the held-out sample) and write them with their manifest."""
    from assistant.learn.train import default_out_dir, train

    if leave_out_year and out is None:
        # models that never saw a year must not replace the shipped ones
        raise _fail("--leave-out-year writes models for an experiment: give --out DIR")
    try:
        settings = load_settings()
        embedder = cached_embedder(settings, cache_dir / "vectors.sqlite")
        chosen = [[w] for w in weeks.split(",")] if weeks else None
        report = train(
            train_dir,
            out or default_out_dir(),
            embedder,
            settings,
            progress=_note,
            limit_blocks=blocks,
            all_blocks=all_blocks,
            blocks=chosen,
            max_articles=max_articles,
            cache_dir=cache_dir / "blocks",
            abstention=abstention,
            leave_out_year=leave_out_year,
        )
    except (WeeksError, SettingsError, OSError, ValueError) as exc:
        raise _fail(str(exc)) from exc
    if as_json:
        typer.echo(json.dumps(report.__dict__))
    else:
        typer.echo(
            f"trained on {len(report.weeks)} weeks ({report.questions} questions, "
            f"{report.supported} supported) in {report.seconds:.0f} s"
        )
        typer.echo(
            f"passage ranker: {report.passage['chosen']}; sentence ranker: "
            f"{report.sentence['chosen']}; answer: {report.answer['chosen']}"
        )


def changed_settings(settings) -> list[str]:
    """The settings given by the environment or flags instead of their defaults."""
    return sorted(settings.model_fields_set)


def record_held_out(summary: dict, settings) -> None:
    """Write the held-out blocks' figures into the shipped models' manifest (when the
    shipped models are what was evaluated, at the default settings), so the artifacts
    carry their own measurement. A diagnostic run with other settings (the threshold
    off, say) is reported but never overwrites what the manifest says of the models."""
    from assistant.answer.ranking import MANIFEST, MODELS_DIR

    path = MODELS_DIR / MANIFEST
    changed = changed_settings(settings)
    if changed:
        _note(f"held-out figures not recorded in {MANIFEST}: {', '.join(changed)} not at default")
        return
    if not path.exists():
        return
    manifest = json.loads(path.read_text())
    manifest["held_out"] = {
        key: summary[key]
        for key in (
            "blocks",
            "weeks",
            "questions",
            "supported",
            "metrics",
            "supported_citation_losses",
            "latency_ms",
            "by_year",
            "reliability",
        )
        if key in summary
    }
    path.write_text(json.dumps(manifest, indent=1) + "\n")


def chosen_blocks(train_dir: Path, which: str, year: str | None = None) -> list[list[str]]:
    """The blocks ``--blocks`` names (held-out, training, all, or first weeks), only those
    with a week in ``year`` when given."""
    from assistant.learn.weeks import held_out_blocks, make_blocks, touches_year, training_blocks

    all_blocks = make_blocks(week_names(train_dir))
    named = {
        "held-out": held_out_blocks(all_blocks),
        "training": training_blocks(all_blocks),
        "all": all_blocks,
    }
    chosen = named.get(which) or [b for b in all_blocks if b[0] in which.split(",")]
    if not chosen:
        raise WeeksError(f"no block starts at {which!r} (or use held-out, training, all)")
    if year and not (chosen := [b for b in chosen if touches_year(b, year)]):
        raise WeeksError(f"none of the {which} blocks has a week in {year}")
    return chosen


def evaluate_weeks(
    train_dir: Path,
    which: str,
    out: Path,
    cache_dir: Path,
    name: str | None,
    as_json: bool,
    year: str | None = None,
) -> None:
    """``assistant eval --train-dir``: blocks of training weeks indexed and asked (only
    those of ``year`` when given)."""
    from assistant.learn.evaluate import evaluate_blocks, markdown_table, write_week_reports

    try:
        settings = load_settings()
        chosen = chosen_blocks(train_dir, which, year)
        embedder = cached_embedder(settings, cache_dir / "vectors.sqlite")
        summary, results = evaluate_blocks(train_dir, chosen, settings, cache_dir, embedder, _note)
    except (WeeksError, SettingsError, OSError, RuntimeError) as exc:
        raise _fail(str(exc)) from exc
    default_name = f"train-{which}" + (f"-{year}" if year else "")
    paths = write_week_reports(summary, results, out, name or default_name)
    if which == "held-out" and not year:
        record_held_out(summary, settings)
    if as_json:
        typer.echo(json.dumps({"summary": summary, "outputs": paths}))
    else:
        typer.echo(markdown_table(summary))
        typer.echo("reports: " + ", ".join(paths.values()))
