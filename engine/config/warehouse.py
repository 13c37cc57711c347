"""Dry-run tier of `jetstream validate`: each resolved experiment's queries compiled by a warehouse.

`engine.config.dryrun` finds which metric, segment, exposure signal or data source a binder error
(unknown column, table or function) comes from and points at its SQL fragment; here the findings
it cannot place (the enrollments query) are put on the experiment config, and on BigQuery the
dry run's byte estimate becomes a notice. Only dry runs touch the warehouse: nothing is read.
"""
from __future__ import annotations

import dataclasses
import os
from pathlib import Path

from engine.backends.base import Backend
from engine.config.dryrun import dry_run_experiment, estimated_bytes
from engine.config.load import Document
from engine.config.spec import AnalysisSpec
from engine.findings import Finding, Severity, has_errors

_ENROLLMENTS = "enrollments query"  # how engine.config.dryrun labels the enrollments query
_EMULATOR = "BIGQUERY_EMULATOR_HOST"  # the client library's own switch for a local endpoint


def open_backend(kind: str, db: Path | None, project: str | None, dataset: str) -> Backend:
    """The backend of `--backend`/`--db`/`--project`; ValueError says what is missing."""
    if kind == "duckdb":
        if db is None or not db.is_file():
            raise ValueError(f"no DuckDB telemetry file at {db}" if db else "--db FILE is required")
        from engine.backends.duckdb import DuckDBBackend
        return DuckDBBackend(db)
    if kind == "bigquery":
        if not project:
            raise ValueError("--backend bigquery needs --project")
        from google.auth.credentials import AnonymousCredentials
        from google.cloud import bigquery

        from engine.backends.bigquery import BigQueryBackend
        # a local emulator takes no credentials; the real service uses the default ones
        credentials = AnonymousCredentials() if os.environ.get(_EMULATOR) else None
        return BigQueryBackend(project, dataset, bigquery.Client(project=project, credentials=credentials))
    raise ValueError(f"unknown backend {kind!r}")


def dry_run_findings(spec: AnalysisSpec, doc: Document, backend: Backend) -> tuple[Finding, ...]:
    """Dry-run findings of one resolved experiment, each on a config line."""
    try:
        found = [_placed(f, spec, doc) for f in dry_run_experiment(spec, backend)]
    except Exception as error:  # noqa: BLE001 - one experiment's dry run never stops the others
        return (Finding(doc.path, 1, None, Severity.ERROR, "dry-run-failed",
                        f"the queries could not be dry-run: {type(error).__name__}: {error}"),)
    if backend.name == "bigquery" and not has_errors(found):
        size = estimated_bytes(spec, backend)
        if size is not None:
            found.append(Finding(doc.path, 1, None, Severity.NOTICE, "dry-run-bytes",
                                 f"the per-client metrics query of one window reads {human_bytes(size)} "
                                 f"({size} bytes) on BigQuery", "a dry-run estimate; every window "
                                 "and analysis basis runs its own query"))
    return tuple(found)


def _placed(finding: Finding, spec: AnalysisSpec, doc: Document) -> Finding:
    if finding.line is not None or finding.path != doc.path:
        return finding
    line = None
    if spec.experiment.enrollment_query and finding.message.startswith(_ENROLLMENTS):
        line = doc.line_of(("experiment", "enrollment_query"))
    return dataclasses.replace(finding, line=line or 1)


def human_bytes(size: int) -> str:
    value = float(size)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if value < 1000 or unit == "TB":
            break
        value /= 1000
    return f"{size} B" if unit == "B" else f"{value:.1f} {unit}"
