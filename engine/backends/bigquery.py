"""BigQuery backend (google-cloud-bigquery): dry runs with byte estimates, queries, and
destination tables written with WRITE_TRUNCATE (BigQuery swaps a table atomically per job).

Our own tables live in one dataset (`project.dataset`), which is also the queries' default
dataset, so one-part names (enrollments_<slug>, per-client tables) resolve there.
"""
from __future__ import annotations

import pandas as pd
from google.api_core import exceptions as api_exceptions
from google.cloud import bigquery
from sqlglot import exp

from engine.backends.base import (
    BackendError,
    DryRunResult,
    check_table_name,
    parse_select,
    sql_finding,
)


def _finding(err: api_exceptions.GoogleAPICallError):
    message = getattr(err, "message", None) or str(err)
    lowered = message.lower()
    if "unrecognized name" in lowered or "not found: table" in lowered or "not found: dataset" in lowered:
        code = "sql-unknown-name"
    elif "function not found" in lowered or "no matching signature" in lowered:
        code = "sql-unknown-function"
    else:
        code = "sql-error"
    return sql_finding(code, message)


class BigQueryBackend:
    name = "bigquery"

    def __init__(self, project: str, dataset: str, client: bigquery.Client | None = None,
                 location: str | None = None, timeout: float = 3600.0):
        self.project = project
        self.dataset = dataset
        self.timeout = timeout
        self.client = client or bigquery.Client(project=project, location=location)

    def _table_id(self, name: str) -> str:
        return ".".join((self.project, self.dataset, check_table_name(name)))

    def _config(self, **kwargs) -> bigquery.QueryJobConfig:
        return bigquery.QueryJobConfig(
            default_dataset=f"{self.project}.{self.dataset}", use_legacy_sql=False, **kwargs)

    def _job(self, sql: str | exp.Query, config: bigquery.QueryJobConfig) -> bigquery.QueryJob:
        tree = parse_select(sql)  # one SELECT, as on DuckDB
        if not isinstance(sql, str):
            sql = tree.sql(dialect="bigquery")
        try:
            job = self.client.query(sql, job_config=config)
            if not config.dry_run:
                job.result(timeout=self.timeout)
            return job
        except api_exceptions.GoogleAPICallError as err:
            raise BackendError(_finding(err)) from err

    def dry_run(self, sql: str | exp.Query) -> DryRunResult:
        try:
            job = self._job(sql, self._config(dry_run=True, use_query_cache=False))
        except BackendError as err:
            return DryRunResult(None, (err.finding,))
        return DryRunResult(job.total_bytes_processed, ())

    def query(self, sql: str | exp.Query) -> pd.DataFrame:
        rows = self._job(sql, self._config()).result(timeout=self.timeout)
        # built from rows directly: to_dataframe would need the db-dtypes package
        return pd.DataFrame([dict(row.items()) for row in rows],
                            columns=[field.name for field in rows.schema])

    def materialize(self, name: str, sql: str | exp.Query) -> None:
        self._job(sql, self._config(
            destination=self._table_id(name),
            write_disposition=bigquery.WriteDisposition.WRITE_TRUNCATE,
            create_disposition=bigquery.CreateDisposition.CREATE_IF_NEEDED))

    def write_table(self, name: str, frame: pd.DataFrame) -> None:
        config = bigquery.LoadJobConfig(write_disposition=bigquery.WriteDisposition.WRITE_TRUNCATE)
        try:
            self.client.load_table_from_dataframe(
                frame, self._table_id(name), job_config=config).result(timeout=self.timeout)
        except api_exceptions.GoogleAPICallError as err:
            raise BackendError(_finding(err)) from err

    def table_exists(self, name: str) -> bool:
        try:
            self.client.get_table(self._table_id(name))
        except api_exceptions.NotFound:
            return False
        return True

    def list_tables(self, prefix: str = "") -> list[str]:
        tables = self.client.list_tables(f"{self.project}.{self.dataset}")
        return sorted(t.table_id for t in tables if t.table_id.startswith(prefix))

    def drop_table(self, name: str) -> None:
        self.client.delete_table(self._table_id(name), not_found_ok=True)
