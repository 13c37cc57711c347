"""`jetstream validate`: check configs and print findings; exit 1 on errors, 2 on usage errors
(3 on an internal error, see `engine.cli`)."""
from __future__ import annotations

import datetime as dt
import difflib
from pathlib import Path

import click

from engine.check.bill import DEFAULT_WARNING_BYTES
from engine.check.render import FORMATS, render, summary
from engine.check.validate import validate
from engine.config.layout import LayoutError
from engine.experimenter import RegistryError, load_registry
from engine.isodate import yesterday


@click.command("validate")
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option("--config-root", type=click.Path(file_okay=False, path_type=Path), default=Path("."),
              show_default=True, help="Config repository (ours or metric-hub's layout).")
@click.option("--registry", "registry_source", metavar="FILE|URL",
              help="Experimenter JSON (API v6 or v8) with dates, branches and platforms.")
@click.option("--platform", help="Resolve offline against this platform only.")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="text", show_default=True)
@click.option("--db", type=click.Path(dir_okay=False, path_type=Path),
              help="Dry-run each experiment's queries against this DuckDB telemetry file.")
@click.option("--backend", "backend_kind", type=click.Choice(("duckdb", "bigquery")),
              help="Dry-run backend [default: duckdb with --db]; bigquery reports bytes too.")
@click.option("--project", help="BigQuery project of the dry runs (--backend bigquery).")
@click.option("--dataset", default="jetstream", show_default=True,
              help="BigQuery dataset of our own tables (the dry runs' default dataset).")
@click.option("--date", "date", type=click.DateTime(["%Y-%m-%d"]),
              help="Date of the re-analysis whose queries are billed [default: yesterday, UTC].")
@click.option("--bill-warning", type=click.IntRange(min=0), default=DEFAULT_WARNING_BYTES,
              show_default=True, metavar="BYTES",
              help="Warn when an experiment's re-analysis would bill more (BigQuery).")
def command(paths: tuple[Path, ...], config_root: Path, registry_source: str | None,
            platform: str | None, fmt: str, db: Path | None, backend_kind: str | None,
            project: str | None, dataset: str, date: dt.datetime | None,
            bill_warning: int) -> None:
    """Validate experiment configs, outcomes, defaults and definitions (all of them without PATH).

    With --db or --backend, the enrollment and metric queries of every experiment checked are
    also dry-run, and binder errors are reported on the config line that caused them."""
    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        raise click.UsageError(f"no such file: {', '.join(missing)}")
    backend = None
    if backend_kind or db:
        from engine.backends.open import open_backend
        try:
            backend = open_backend(backend_kind or "duckdb", db, project, dataset)
        except ValueError as error:
            raise click.UsageError(str(error)) from error
    try:
        registry = load_registry(registry_source) if registry_source else None
        day = date.date() if date else yesterday()
        report = validate(config_root, list(paths) or None, registry=registry, platform=platform,
                          backend=backend, date=day, bill_warning=bill_warning)
    except (LayoutError, RegistryError) as error:
        raise click.UsageError(str(error)) from error
    finally:
        if backend is not None and hasattr(backend, "close"):
            backend.close()
    if platform and report.experiments and platform not in _known_platforms(config_root):
        known = _known_platforms(config_root)
        close = difflib.get_close_matches(platform, known, n=1)
        raise click.UsageError(f"unknown platform {platform!r}"
                               + (f" (did you mean {close[0]!r}?)" if close else "")
                               + f"; known platforms: {', '.join(known)}")
    findings = report.findings
    if backend is not None:
        from engine.check.dry_run import bytes_notice
        findings += tuple(bytes_notice(r.path, r.bill) for r in report.experiments.values()
                          if r.bill is not None and r.bill.total is not None)
    output = render(sorted(findings, key=lambda f: (f.path, f.line or 0, f.column or 0, f.code)), fmt)
    if output:
        click.echo(output)
    if fmt == "text":
        passed = sum(r.ok for r in report.experiments.values())
        click.echo(summary(report.findings, len(report.experiments), passed, report.files_checked))
    raise SystemExit(1 if not report.ok else 0)


def _known_platforms(root: Path) -> tuple[str, ...]:
    from engine.config.layout import detect_layout
    return tuple(detect_layout(root).definition_paths())
