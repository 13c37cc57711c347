"""`jetstream sql SLUG --period P`: print the queries an analysis would run, for debugging."""
from __future__ import annotations

from pathlib import Path

import click

from engine.config.spec import ANALYSIS_BASES, PERIODS
from engine.experimenter import RegistryError, load_registry
from engine.plan.analysis_plan import WindowTask, metrics_for_basis
from engine.plan.windows import canonical_period, timeline_of, window
from engine.sql.dialect import render
from engine.sql.enrollments import enrollments_query
from engine.sql.metrics import client_windows_query


@click.command("sql")
@click.argument("slug")
@click.option("--period", required=True, type=click.Choice(PERIODS + ("28_day",)))
@click.option("--window", "number", default=1, show_default=True, type=click.IntRange(min=1),
              help="Window number, 1-based as in table names and results (week 1 = days 0..6).")
@click.option("--basis", type=click.Choice(ANALYSIS_BASES), default="enrollments", show_default=True)
@click.option("--dialect", type=click.Choice(["bigquery", "duckdb"]), default="bigquery",
              show_default=True, help="duckdb prints the tree as the DuckDB backend runs it.")
@click.option("--config-root", type=click.Path(file_okay=False, path_type=Path),
              default=Path("."), show_default=True)
@click.option("--registry", help="Experimenter registry JSON: a file or an http(s) URL.")
@click.option("--enrollments", "show_enrollments", is_flag=True, help="Print the enrollments query only.")
def command(slug: str, period: str, number: int, basis: str, dialect: str, config_root: Path,
            registry: str | None, show_enrollments: bool) -> None:
    """Print the per-client query of one window of SLUG (enrollments inline; both bases: the
    exposures basis is its rows with an exposure_date)."""
    from engine.backends.duckdb import to_duckdb
    from engine.config.resolve.platforms import resolve_experiment

    try:
        known = load_registry(registry) if registry else None
    except RegistryError as error:
        raise click.UsageError(str(error)) from error
    spec, findings = resolve_experiment(config_root, slug, registry=known)
    if spec is None:
        for f in findings:
            if f.is_error:
                click.echo(f"{f.path}:{f.line or '?'}: {f.code}: {f.message}", err=True)
        raise click.exceptions.Exit(1)
    timeline = timeline_of(spec.experiment)
    if timeline is None:
        raise click.UsageError(
            f"{slug} has no start date or enrollment period in its config; pass the "
            "Experimenter registry with --registry FILE|URL (e.g. the registry.json that "
            "`jetstream synth --registry-out` or `make demo` writes)")
    if show_enrollments:
        tree = enrollments_query(spec.experiment, timeline)
    else:
        period = canonical_period(period)
        metrics = metrics_for_basis(spec.metrics.get(period, ()), basis)
        if not metrics:
            raise click.UsageError(f"{slug} has no {basis} metrics in period {period}")
        task = WindowTask(slug, window(period, number - 1, timeline), basis, metrics)
        tree = client_windows_query(spec, (task,), timeline)
    click.echo(render(tree) if dialect == "bigquery" else to_duckdb(tree))
