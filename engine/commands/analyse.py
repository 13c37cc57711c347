"""`jetstream analyse`: analyse experiments for a date, write result tables and the JSON export."""
from __future__ import annotations

import datetime as dt
from pathlib import Path

import click
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from engine.analysis import ExperimentOutcome, analyse_experiment
from engine.backends.duckdb import DuckDBBackend
from engine.config.repository import load_repository
from engine.config.validate import resolve_experiment
from engine.export import Sink, export_errors, open_sink
from engine.registry import Registry, RegistryError, load_registry
from engine.results_metadata import ErrorRecord, config_commit, errors_list


def _unresolved(slug: str, date: dt.date, findings, sink: Sink) -> ExperimentOutcome:
    errors = tuple(ErrorRecord(slug, date.isoformat(), "config",
                               f"{f.path}:{f.line or '?'}: {f.code}: {f.message}")
                   for f in findings if f.is_error) or (
        ErrorRecord(slug, date.isoformat(), "config", "the config does not resolve"),)
    export_errors(sink, slug, errors_list(list(errors)))
    return ExperimentOutcome(slug, "failed", "config does not resolve", 0, errors)


def _summary(outcomes: list[ExperimentOutcome]) -> Table:
    table = Table(title="Analysis")
    for column in ("experiment", "status", "windows", "errors", "note"):
        table.add_column(column, justify="right" if column in ("windows", "errors") else "left")
    colours = {"ok": "green", "failed": "red", "skipped": "yellow"}
    for o in outcomes:
        note = o.reason or ""
        if o.errors:
            note = (note + "; " if note else "") + o.errors[0].message.splitlines()[0][:80]
        table.add_row(o.slug, f"[{colours[o.status]}]{o.status}[/]", str(o.windows),
                      str(len(o.errors)), note)
    return table


@click.command("analyse")
@click.option("--date", "date", required=True, type=click.DateTime(["%Y-%m-%d"]),
              help="Last day with complete data (usually yesterday).")
@click.option("--experiment", "experiments", multiple=True, help="Slug; repeatable. Default: all.")
@click.option("--db", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="DuckDB telemetry file (e.g. from `jetstream synth`).")
@click.option("--results-db", type=click.Path(dir_okay=False, path_type=Path),
              help="DuckDB file for per-client and result tables [default: OUT/results.duckdb].")
@click.option("--registry", help="Experimenter registry JSON: a file or an http(s) URL.")
@click.option("--out", default="results", show_default=True,
              help="Export directory, or gs://bucket/prefix.")
@click.option("--config-root", type=click.Path(file_okay=False, path_type=Path),
              default=Path("."), show_default=True)
def command(date: dt.datetime, experiments: tuple[str, ...], db: Path, results_db: Path | None,
            registry: str | None, out: str, config_root: Path) -> None:
    """Analyse experiments for DATE: metrics, statistics, result tables and JSON export."""
    day = date.date()
    console = Console(stderr=True)
    try:
        known: Registry | None = load_registry(registry) if registry else None
    except RegistryError as error:
        raise click.UsageError(str(error)) from error
    if not db.is_file():
        raise click.UsageError(f"no telemetry database at {db}")
    repo = load_repository(config_root)
    slugs = list(experiments) or sorted(repo.experiments)
    if results_db is None:
        if out.startswith("gs://"):
            raise click.UsageError("--results-db is required with a gs:// export")
        Path(out).mkdir(parents=True, exist_ok=True)
        results_db = Path(out) / "results.duckdb"
    sink = open_sink(out)
    commit = config_commit(config_root)
    backend = DuckDBBackend(db, results_db)
    outcomes: list[ExperimentOutcome] = []
    columns = (TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed:.1f}/{task.total}"),
               TimeElapsedColumn())
    with Progress(*columns, console=console, transient=False) as progress:
        task = progress.add_task("analysing", total=len(slugs))
        for i, slug in enumerate(slugs):
            def report(fraction: float, what: str, i: int = i, slug: str = slug) -> None:
                progress.update(task, completed=i + fraction, description=f"{slug}: {what}"[:70])

            report(0.0, "resolving")
            try:
                spec, findings = resolve_experiment(config_root, slug, registry=known,
                                                    repository=repo)
                outcome = (_unresolved(slug, day, findings, sink) if spec is None else
                           analyse_experiment(spec, backend, day, sink, commit=commit,
                                              progress=report))
            except Exception as error:  # noqa: BLE001 - one experiment never stops the others
                record = ErrorRecord.from_exception(error, experiment=slug,
                                                    analysis_date=day.isoformat(), stage="runnable")
                outcome = ExperimentOutcome(slug, "failed", "unexpected error", 0, (record,))
            outcomes.append(outcome)
            progress.update(task, completed=i + 1)
        progress.update(task, description="done")
    backend.close()
    console.print(_summary(outcomes))
    click.echo(f"results exported to {out}; browse with `jetstream serve` (RESULTS_DIR={out})")
    raise SystemExit(1 if any(o.status == "failed" for o in outcomes) else 0)
