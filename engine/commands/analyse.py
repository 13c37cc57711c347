"""`jetstream analyse`: analyse experiments for a date, write result tables and the JSON export."""
from __future__ import annotations

import dataclasses
import datetime as dt
import difflib
import sys
import time
from concurrent.futures import Executor
from pathlib import Path

import click
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from engine.backends.base import Backend
from engine.backends.open import DEFAULT_DATASET, KINDS, BackendConfig, connect
from engine.check.bill import DEFAULT_WARNING_BYTES
from engine.commands._bill import bill_table, run_bills
from engine.config.repository import Repository, load_repository
from engine.config.resolve.platforms import resolve_experiment
from engine.experimenter import Registry, RegistryError, load_registry
from engine.results.export import Sink, export_errors, open_sink
from engine.results.metadata import (
    ErrorRecord,
    config_commit,
    errors_list,
    metadata_context,
)
from engine.run.experiment import ExperimentOutcome, analyse_experiment
from engine.run.pool import statistics_pool


def _unresolved(slug: str, date: dt.date, findings, sink: Sink) -> ExperimentOutcome:
    errors = tuple(ErrorRecord(slug, date.isoformat(), "config",
                               f"{f.path}:{f.line or '?'}: {f.code}: {f.message}")
                   for f in findings if f.is_error) or (
        ErrorRecord(slug, date.isoformat(), "config", "the config does not resolve"),)
    export_errors(sink, slug, errors_list(list(errors)))
    return ExperimentOutcome(slug, "failed", "config does not resolve", 0, errors)


def summary_table(outcomes: list[ExperimentOutcome]) -> Table:
    """Status per experiment, narrow enough for 80 columns; notes go below (`summary_notes`)."""
    table = Table(title="Analysis")
    for column in ("experiment", "status", "windows", "errors", "seconds"):
        table.add_column(column, justify="left" if column == "experiment" else "right",
                         no_wrap=True)
    colours = {"ok": "green", "failed": "red", "skipped": "yellow"}
    for o in outcomes:
        table.add_row(o.slug, f"[{colours[o.status]}]{o.status}[/]", str(o.windows),
                      str(len(o.errors)), f"{o.seconds:.1f}")
    return table


def summary_notes(outcomes: list[ExperimentOutcome]) -> list[str]:
    """One line per experiment with something to say: its reason and first error, once each."""
    lines = []
    for o in outcomes:
        notes = [o.reason] + [e.message.splitlines()[0][:160] for e in o.errors[:1]]
        notes = list(dict.fromkeys(n for n in notes if n))
        if notes:
            lines.append(f"{o.slug}: {'; '.join(notes)}")
    return lines


def _stage(fraction: float, what: str) -> str:
    """The coarse stage of a progress report: one log line each when output is not a terminal."""
    if what in ("resolving", "result tables", "export", "done"):
        return what
    return "per-client metrics" if fraction < 0.5 else "statistics"


def analyse_repository(config_root: Path, slugs: list[str], day: dt.date, backend: Backend,
                       sink: Sink, registry: Registry | None = None,
                       console: Console | None = None, repository: Repository | None = None,
                       workers: int | None = None, recompute: bool = True
                       ) -> list[ExperimentOutcome]:
    """Analyse each experiment for `day` with a progress bar; one failure never stops the others.
    Statistics run in `workers` processes (default: one per core). Without `recompute`, only
    the windows that became complete on `day` (or have no results) are computed."""
    with statistics_pool(workers) as pool:
        return _analyse_all(config_root, slugs, day, backend, sink, registry, console,
                            repository or load_repository(config_root), pool, recompute)


def _analyse_all(config_root: Path, slugs: list[str], day: dt.date, backend: Backend, sink: Sink,
                 registry: Registry | None, console: Console | None, repo: Repository,
                 pool: Executor | None, recompute: bool) -> list[ExperimentOutcome]:
    commit = config_commit(config_root)
    outcomes: list[ExperimentOutcome] = []
    columns = (TextColumn("{task.description}"), BarColumn(),
               TextColumn("{task.completed:.1f}/{task.total}"), TimeElapsedColumn())
    console = console or Console(stderr=True)
    stages: dict[str, str] = {}  # slug -> last stage logged (when not on a terminal)
    with Progress(*columns, console=console, transient=False) as progress:
        task = progress.add_task("analysing", total=len(slugs))
        for i, slug in enumerate(slugs):
            def report(fraction: float, what: str, i: int = i, slug: str = slug) -> None:
                progress.update(task, completed=i + fraction, description=f"{slug}: {what}"[:70])
                stage = _stage(fraction, what)
                if not console.is_terminal and stages.get(slug) != stage:
                    stages[slug] = stage
                    console.print(f"{slug}: {stage}", highlight=False)

            report(0.0, "resolving")
            started = time.perf_counter()
            try:
                spec, findings = resolve_experiment(config_root, slug, registry=registry,
                                                    repository=repo)
                entry = registry.get(slug) if registry is not None else None
                outcome = (_unresolved(slug, day, findings, sink) if spec is None else
                           analyse_experiment(spec, backend, day, sink, commit=commit,
                                              progress=report, executor=pool,
                                              context=metadata_context(
                                                  repo, spec.platform, slug,
                                                  entry.name if entry else None),
                                              recompute=recompute))
            except Exception as error:  # noqa: BLE001 - one experiment never stops the others
                record = ErrorRecord.from_exception(error, experiment=slug,
                                                    analysis_date=day.isoformat(), stage="runnable")
                outcome = ExperimentOutcome(slug, "failed", "unexpected error", 0, (record,))
            outcomes.append(dataclasses.replace(outcome, seconds=time.perf_counter() - started))
            if not console.is_terminal:
                console.print(f"{slug}: {outcome.status} in {outcomes[-1].seconds:.1f} s",
                              highlight=False)
            progress.update(task, completed=i + 1)
        progress.update(task, description="done")
    return outcomes


def analyse_argv(slug: str, day: dt.date, config_root: Path, out: str, backend: BackendConfig,
                 registry: str | None = None, extra: tuple[str, ...] = ()) -> list[str]:
    """The `jetstream analyse` child process that re-analyses one experiment on `backend`
    (the bot's merge leg and daily run)."""
    return [sys.executable, "-m", "engine.cli", "analyse", "--date", day.isoformat(),
            "--experiment", slug, "--config-root", str(Path(config_root).resolve()),
            "--out", out, *(("--registry", registry) if registry else ()),
            *backend.cli_args(), *extra]


@click.command("analyse")
@click.option("--date", "date", required=True, type=click.DateTime(["%Y-%m-%d"]),
              help="Last day with complete data (usually yesterday).")
@click.option("--experiment", "experiments", multiple=True, help="Slug; repeatable. Default: all.")
@click.option("--backend", "kind", type=click.Choice(KINDS), default="duckdb", show_default=True,
              help="Where telemetry is read and our tables are written.")
@click.option("--db", type=click.Path(dir_okay=False, path_type=Path),
              help="DuckDB telemetry file (e.g. from `jetstream synth`); required with duckdb.")
@click.option("--results-db", type=click.Path(dir_okay=False, path_type=Path),
              help="DuckDB file for per-client and result tables [default: OUT/results.duckdb].")
@click.option("--memory-limit", metavar="SIZE",
              help="DuckDB memory limit, e.g. 4GB [default: 80% of RAM]; beyond it DuckDB spills.")
@click.option("--temp-directory", type=click.Path(file_okay=False, path_type=Path),
              help="Where DuckDB spills [default: beside the results file].")
@click.option("--query-timeout", type=click.FloatRange(min=1), default=3600.0, show_default=True,
              metavar="SECONDS", help="A statement running longer is interrupted (DuckDB) or "
              "abandoned (BigQuery) and its experiment fails.")
@click.option("--project", help="BigQuery project (required with bigquery; jobs are billed to it).")
@click.option("--dataset", default=DEFAULT_DATASET, show_default=True,
              help="BigQuery dataset of our tables: enrollments, per-client metrics, results.")
@click.option("--location", help="BigQuery job location, e.g. US.")
@click.option("--maximum-bytes-billed", type=click.IntRange(min=1), metavar="BYTES",
              help="BigQuery: every job that would bill more fails before reading anything.")
@click.option("--registry", help="Experimenter registry JSON: a file or an http(s) URL.")
@click.option("--out", default="results", show_default=True,
              help="Export directory, or gs://bucket/prefix.")
@click.option("--config-root", type=click.Path(file_okay=False, path_type=Path),
              default=Path("."), show_default=True)
@click.option("--workers", type=click.IntRange(min=1),
              help="Processes for the statistics [default: one per core, at most 4].")
@click.option("--recompute", is_flag=True,
              help="Recompute every ready window (after a config change; merges do). Default: "
              "only the windows that became complete on DATE, and those without results.")
@click.option("--dry-run", is_flag=True,
              help="Print the bill (every query the run would make, dry-run) and run nothing.")
@click.option("--bill-warning", type=click.IntRange(min=0), default=DEFAULT_WARNING_BYTES,
              show_default=True, metavar="BYTES", help="--dry-run: flag totals above this.")
def command(date: dt.datetime, experiments: tuple[str, ...], kind: str, db: Path | None,
            results_db: Path | None, memory_limit: str | None, temp_directory: Path | None,
            query_timeout: float, project: str | None, dataset: str, location: str | None,
            maximum_bytes_billed: int | None, registry: str | None, out: str,
            config_root: Path, workers: int | None, recompute: bool, dry_run: bool,
            bill_warning: int) -> None:
    """Analyse experiments for DATE: metrics, statistics, result tables and JSON export.

    On BigQuery (--backend bigquery) every table is created in --dataset; credentials are
    google-auth's application default ones (`gcloud auth application-default login`)."""
    day = date.date()
    console = Console(stderr=True)
    try:
        known: Registry | None = load_registry(registry) if registry else None
    except RegistryError as error:
        raise click.UsageError(str(error)) from error
    repo = load_repository(config_root)
    unknown = [s for s in experiments if s not in repo.experiments]
    if unknown:
        raise click.UsageError(_unknown_experiments(unknown, sorted(repo.experiments)))
    slugs = list(experiments) or sorted(repo.experiments)
    if kind == "duckdb" and results_db is None:
        if out.startswith("gs://"):
            raise click.UsageError("--results-db is required with a gs:// export")
        results_db = Path(out) / "results.duckdb"
    config = BackendConfig(kind, db=db, results_db=results_db, memory_limit=memory_limit,
                           temp_directory=temp_directory, query_timeout=query_timeout,
                           project=project, dataset=dataset, location=location,
                           maximum_bytes_billed=maximum_bytes_billed)
    if not out.startswith("gs://"):
        Path(out).mkdir(parents=True, exist_ok=True)
    try:
        backend = connect(config)
    except ValueError as error:
        raise click.UsageError(str(error)) from error
    if dry_run:
        try:
            table, failed = bill_table(run_bills(config_root, slugs, day, backend, known, repo,
                                                 recompute), backend, bill_warning)
        finally:
            backend.close()
        Console().print(table)
        raise SystemExit(1 if failed else 0)
    try:
        outcomes = analyse_repository(config_root, slugs, day, backend, open_sink(out), known,
                                      console, repo, workers, recompute)
    finally:
        backend.close()
    console.print(summary_table(outcomes))
    for line in summary_notes(outcomes):
        console.print(line, highlight=False, soft_wrap=True)
    click.echo(f"results exported to {out}; browse with "
               f"`jetstream serve --pages-only --results-dir {out}`")
    raise SystemExit(1 if any(o.status == "failed" for o in outcomes) else 0)


def _unknown_experiments(unknown: list[str], known: list[str]) -> str:
    hints = [f"{s!r} (did you mean {', '.join(repr(m) for m in close)}?)"
             if (close := difflib.get_close_matches(s, known, n=2)) else repr(s) for s in unknown]
    return (f"unknown experiment {', '.join(hints)}; the config repository has: "
            + (", ".join(known) or "no experiments"))
