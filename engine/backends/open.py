"""Open the backend a command names: one `BackendConfig` (`--backend`, `--db`, `--project`, …)
for the CLI, the bot and the tests; `cli_args()` turns it back into command-line options."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from engine.backends.base import Backend

_EMULATOR = "BIGQUERY_EMULATOR_HOST"  # the client library's own switch for a local endpoint
KINDS = ("duckdb", "bigquery")
DEFAULT_DATASET = "jetstream"
AUTHENTICATE = ("run `gcloud auth application-default login`, or set "
                "GOOGLE_APPLICATION_CREDENTIALS to a service-account key file")


@dataclass(frozen=True)
class BackendConfig:
    """Where an analysis reads telemetry and writes its tables."""

    kind: str = "duckdb"
    db: Path | None = None  # duckdb: the telemetry file (read only)
    results_db: Path | None = None  # duckdb: per-client and result tables (default: in memory)
    memory_limit: str | None = None  # duckdb: e.g. "4GB" (default: DuckDB's, 80 % of RAM)
    temp_directory: Path | None = None  # duckdb: where to spill (default: beside results_db)
    query_timeout: float | None = None  # seconds a statement may run (default: the backend's)
    project: str | None = None  # bigquery: billing project and project of `dataset`
    dataset: str = DEFAULT_DATASET  # bigquery: our tables, and the queries' default dataset
    location: str | None = None  # bigquery: job location
    maximum_bytes_billed: int | None = None  # bigquery: every job fails beyond this

    def cli_args(self) -> list[str]:
        """The `jetstream analyse` options that select this backend (what the bot passes)."""
        values = {"backend": self.kind, "db": self.db, "results-db": self.results_db,
                  "memory-limit": self.memory_limit, "temp-directory": self.temp_directory,
                  "query-timeout": self.query_timeout}
        if self.kind == "bigquery":
            values = {"backend": self.kind, "project": self.project, "dataset": self.dataset,
                      "location": self.location, "maximum-bytes-billed": self.maximum_bytes_billed,
                      "query-timeout": self.query_timeout}
        args: list[str] = []
        for option, value in values.items():
            if value is not None:
                args += [f"--{option}", f"{value:g}" if isinstance(value, float) else str(value)]
        return args


def open_backend(kind: str, db: Path | None, project: str | None,
                 dataset: str = DEFAULT_DATASET) -> Backend:
    """The backend of `--backend`/`--db`/`--project`/`--dataset` for dry runs (the rest default;
    DuckDB with the dry-run connection's limits: `engine.backends.duckdb_limits`)."""
    if kind == "duckdb":
        if db is None or not db.is_file():
            raise ValueError(f"no DuckDB telemetry file at {db}" if db else "--db FILE is required")
        from engine.backends.duckdb import DuckDBBackend
        from engine.backends.duckdb_limits import DRY_RUN
        return DuckDBBackend(db, **DRY_RUN)
    return connect(BackendConfig(kind, db=db, project=project, dataset=dataset))


def connect(config: BackendConfig) -> Backend:
    """Open `config`'s backend; a ValueError says what is missing (file, project, credentials)."""
    if config.kind == "duckdb":
        return _duckdb(config)
    if config.kind == "bigquery":
        return _bigquery(config)
    raise ValueError(f"unknown backend {config.kind!r}")


def _duckdb(config: BackendConfig) -> Backend:
    db = config.db
    if db is None or not db.is_file():
        raise ValueError(f"no DuckDB telemetry file at {db}" if db else "--db FILE is required")
    from engine.backends.duckdb import DuckDBBackend
    timeout = {} if config.query_timeout is None else {"timeout": config.query_timeout}
    return DuckDBBackend(db, config.results_db or ":memory:", memory_limit=config.memory_limit,
                         temp_directory=config.temp_directory, **timeout)


def _bigquery(config: BackendConfig) -> Backend:
    from google.cloud import bigquery

    from engine.backends.bigquery import BigQueryBackend, storage_read_api_installed
    if not config.project:
        raise ValueError("--backend bigquery needs --project")
    credentials = _credentials()
    timeout = {} if config.query_timeout is None else {"timeout": config.query_timeout}
    client = bigquery.Client(project=config.project, credentials=credentials,
                             location=config.location)
    # the Storage Read API where installed, but not on an emulator: BIGQUERY_EMULATOR_HOST
    # redirects REST only, and bqemulator's gRPC cannot read query results (see tests/e2e)
    storage = storage_read_api_installed() and not os.environ.get(_EMULATOR)
    return BigQueryBackend(config.project, config.dataset, client, location=config.location,
                           maximum_bytes_billed=config.maximum_bytes_billed,
                           storage_read_api=storage, **timeout)


def _credentials():
    """Anonymous for a local emulator, else google-auth's application default credentials."""
    if os.environ.get(_EMULATOR):
        from google.auth.credentials import AnonymousCredentials
        return AnonymousCredentials()
    import google.auth
    from google.auth.exceptions import DefaultCredentialsError
    try:
        credentials, _ = google.auth.default(scopes=["https://www.googleapis.com/auth/bigquery"])
    except DefaultCredentialsError as error:
        raise ValueError(f"no Google credentials for BigQuery: {AUTHENTICATE} ({error})") from error
    return credentials

