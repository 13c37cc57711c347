"""`jetstream synth`: write a synthetic telemetry DuckDB file and its experiment registry."""
from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

import click

from engine.synthetic.world import (
    DEFAULT_CLIENTS,
    DEFAULT_DAYS,
    DEFAULT_START,
    generate,
)


@click.command("synth")
@click.option("--db", "db_path", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="DuckDB file to (re)create.")
@click.option("--clients", default=DEFAULT_CLIENTS, show_default=True,
              type=click.IntRange(min=10), help="Clients over all platforms.")
@click.option("--days", default=DEFAULT_DAYS, show_default=True, type=click.IntRange(min=6),
              help="Days of telemetry.")
@click.option("--seed", default=0, show_default=True, type=int, help="Random seed.")
@click.option("--start-date", default=DEFAULT_START.isoformat(), show_default=True,
              type=click.DateTime(formats=["%Y-%m-%d"]), help="First simulated day.")
@click.option("--registry-out", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the Experimenter-style registry JSON of the simulated experiments here.")
def command(db_path: Path, clients: int, days: int, seed: int, start_date: dt.datetime,
            registry_out: Path | None) -> None:
    """Generate synthetic telemetry with planted experiment effects."""
    started = time.perf_counter()
    db_path.parent.mkdir(parents=True, exist_ok=True)
    world = generate(db_path, clients=clients, days=days, seed=seed, start_date=start_date.date())
    if registry_out is not None:
        registry_out.parent.mkdir(parents=True, exist_ok=True)
        registry_out.write_text(world.registry_json() + "\n", encoding="utf-8")
    for name, table in world.tables.items():
        click.echo(f"{name:55s} {table.num_rows:>10,d} rows")
    for slug, frame in world.enrollments.items():
        counts = ", ".join(f"{b}={n}" for b, n in frame["branch"].value_counts().sort_index().items())
        click.echo(f"experiment {slug}: {len(frame):,d} enrolled ({counts})")
    click.echo(f"wrote {db_path} in {time.perf_counter() - started:.1f}s"
               + (f"; registry {registry_out}" if registry_out else ""))
