"""`jetstream demo`: for now, validate every config of this repository and print a summary."""
from __future__ import annotations

from pathlib import Path

import click

from engine.config.render import render, summary
from engine.config.validate import validate


@click.command("demo")
@click.option("--config-root", type=click.Path(file_okay=False, path_type=Path), default=Path("."),
              show_default=True, help="Config repository to validate.")
def command(config_root: Path) -> None:
    """Validate every config in the repository and print a summary."""
    report = validate(config_root)
    problems = [f for f in report.findings if f.code != "resolved-on"]
    if problems:
        click.echo(render(problems, "text"))
    for result in sorted(report.experiments.values(), key=lambda r: r.slug):
        platforms = ", ".join(result.resolved_on) or "nowhere"
        click.echo(f"{'ok ' if result.ok else 'ERR'} {result.slug}: resolves on {platforms}")
    passed = sum(r.ok for r in report.experiments.values())
    click.echo(summary(report.findings, len(report.experiments), passed, report.files_checked))
    raise SystemExit(0 if report.ok else 1)
