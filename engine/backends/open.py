"""Open the backend a command names (`--backend`, `--db`, `--project`, `--dataset`)."""
from __future__ import annotations

import os
from pathlib import Path

from engine.backends.base import Backend

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
