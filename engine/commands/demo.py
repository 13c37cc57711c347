"""`jetstream demo`: the whole product on synthetic data, end to end.

synthetic telemetry -> validate the repository's configs -> analyse every experiment in
`experiments/` for the last simulated day (every ended experiment ended by then; the live one is
analysed as of that day) -> JSON export -> a summary saying where the JSON and pages are.
"""
from __future__ import annotations

import time
from pathlib import Path

import click
from rich.console import Console

from engine.backends.duckdb import DuckDBBackend
from engine.check.render import render, summary
from engine.check.validate import validate
from engine.commands.analyse import analyse_repository
from engine.config.repository import load_repository
from engine.experimenter import parse_registry
from engine.results.export import DirectorySink
from engine.run.experiment import ExperimentOutcome
from engine.synthetic.world import DEFAULT_CLIENTS, DEFAULT_DAYS, generate

_STAGES = ("metrics", "statistics", "tables", "export")


def _breakdown(outcomes: list[ExperimentOutcome]) -> str:
    """Plain text (fits 100 columns whatever the terminal): status, windows and seconds per
    stage of each experiment."""
    lines = [f"{'experiment':<28} {'status':<7} {'windows':>7} {'errors':>6} {'seconds':>8}"
             + "".join(f" {s:>10}" for s in _STAGES)]
    for o in outcomes:
        took = dict(o.stages)
        lines.append(f"{o.slug:<28} {o.status:<7} {o.windows:>7} {len(o.errors):>6} "
                     f"{o.seconds:>8.1f}"
                     + "".join(f" {took[s]:>10.1f}" if s in took else f" {'':>10}"
                               for s in _STAGES))
    return "\n".join(lines)


@click.command("demo")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path),
              default=Path("demo-output"), show_default=True,
              help="Directory for telemetry, registry, result tables and the JSON export.")
@click.option("--clients", default=DEFAULT_CLIENTS, show_default=True, type=click.IntRange(min=100),
              help="Synthetic clients over all platforms.")
@click.option("--days", default=DEFAULT_DAYS, show_default=True, type=click.IntRange(min=30),
              help="Days of synthetic telemetry.")
@click.option("--seed", default=0, show_default=True, type=int)
@click.option("--config-root", type=click.Path(file_okay=False, path_type=Path),
              default=Path("."), show_default=True,
              help="Config repository to validate and analyse.")
@click.option("--workers", type=click.IntRange(min=1),
              help="Processes for the statistics [default: one per core, at most 4].")
def command(out: Path, clients: int, days: int, seed: int, config_root: Path,
            workers: int | None) -> None:
    """Generate synthetic telemetry, validate the configs, analyse every experiment, export."""
    console = Console(stderr=True)
    timings: list[tuple[str, float]] = []
    started = time.perf_counter()

    def lap(step: str) -> None:
        timings.append((step, time.perf_counter() - started - sum(s for _, s in timings)))

    out.mkdir(parents=True, exist_ok=True)
    telemetry, json_dir = out / "telemetry.duckdb", out / "json"
    click.echo(f"generating synthetic telemetry: {clients:,d} clients x {days} days")
    world = generate(telemetry, clients=clients, days=days, seed=seed)
    (out / "registry.json").write_text(world.registry_json() + "\n", encoding="utf-8")
    registry = parse_registry(list(world.registry))
    click.echo(f"synthetic telemetry: {clients:,d} clients x {days} days "
               f"({world.first_day} .. {world.last_day}) -> {telemetry}")
    lap("synthetic telemetry")

    click.echo("validating the configs")
    repo = load_repository(config_root)
    report = validate(config_root, registry=registry, repository=repo)
    problems = [f for f in report.findings if f.code != "resolved-on"]
    if problems:
        click.echo(render(problems, "text"))
    passed = sum(r.ok for r in report.experiments.values())
    click.echo(summary(report.findings, len(report.experiments), passed, report.files_checked))
    lap("validate configs")

    day = world.last_day
    click.echo(f"analysing {len(repo.experiments)} experiments as of {day}")
    backend = DuckDBBackend(telemetry, out / "results.duckdb")
    try:
        outcomes = analyse_repository(config_root, sorted(repo.experiments), day, backend,
                                      DirectorySink(json_dir), registry, console, repo, workers)
    finally:
        backend.close()
    lap("analyse and export")

    click.echo(_breakdown(outcomes))
    for step, seconds in timings:
        click.echo(f"  {step:<22} {seconds:6.1f} s")
    click.echo(f"  {'total':<22} {time.perf_counter() - started:6.1f} s")
    for outcome in outcomes:
        for error in outcome.errors[:3]:
            click.echo(f"{outcome.slug}: {error.stage}: {error.message.splitlines()[0][:120]}")
    click.echo(f"JSON export:   {json_dir.resolve()}")
    click.echo(f"result tables: {(out / 'results.duckdb').resolve()}")
    click.echo(f"result pages:  .venv/bin/jetstream serve --pages-only --results-dir {json_dir.resolve()}\n"
               "               then open http://127.0.0.1:8080/experiments/")
    failed = not report.ok or any(o.status == "failed" for o in outcomes)
    raise SystemExit(1 if failed else 0)
