"""BigQuery backend (google-cloud-bigquery): dry runs with byte estimates, queries read as Arrow,
our tables created with `CREATE OR REPLACE TABLE … AS SELECT` and written with parquet loads.

Our own tables live in one dataset (`project.dataset`), which is also the queries' default
dataset, so one-part names (enrollments_<slug>, per-client tables) resolve there. Every job
carries the same labels (and the job kind) and, when set, `maximum_bytes_billed`: a query that
would bill more fails before it reads anything. `CREATE OR REPLACE TABLE` and a WRITE_TRUNCATE
load both replace a table atomically.
"""
from __future__ import annotations

import importlib.util
import io
from typing import Mapping, Sequence

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
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

LABELS = {"application": "jetstream"}
# Arrow -> pandas as DuckDB's own frames have it: nullable integers and booleans stay so.
_NULLABLE = {pa.int64(): pd.Int64Dtype(), pa.bool_(): pd.BooleanDtype()}
# Arrow types of our written frames -> BigQuery column types (an all-null column is a STRING).
_BIGQUERY_TYPES = ((pa.types.is_integer, "INT64"), (pa.types.is_floating, "FLOAT64"),
                   (pa.types.is_boolean, "BOOL"), (pa.types.is_string, "STRING"),
                   (pa.types.is_large_string, "STRING"), (pa.types.is_date, "DATE"),
                   (pa.types.is_timestamp, "TIMESTAMP"), (pa.types.is_null, "STRING"))


def _finding(err: api_exceptions.GoogleAPICallError):
    message = getattr(err, "message", None) or str(err)
    lowered = message.lower()
    if "unrecognized name" in lowered or "not found: table" in lowered or "not found: dataset" in lowered:
        code = "sql-unknown-name"
    elif "function not found" in lowered or "no matching signature" in lowered:
        code = "sql-unknown-function"
    elif "bytes billed" in lowered:
        code = "sql-over-budget"
    else:
        code = "sql-error"
    return sql_finding(code, message)


def storage_read_api_installed() -> bool:
    """The Storage Read API (google-cloud-bigquery-storage) reads results as Arrow streams over
    gRPC; over REST the client converts JSON rows to Arrow in Python."""
    return importlib.util.find_spec("google.cloud.bigquery_storage") is not None


def _bigquery_schema(table: pa.Table) -> tuple[pa.Table, list[bigquery.SchemaField]]:
    """`table` with all-null columns as strings, and its BigQuery schema."""
    fields = []
    for index, field in enumerate(table.schema):
        kind = next((name for test, name in _BIGQUERY_TYPES if test(field.type)), None)
        if kind is None:
            raise ValueError(f"column {field.name!r} of type {field.type} has no BigQuery type here")
        if pa.types.is_null(field.type):
            table = table.set_column(index, field.name, table.column(index).cast(pa.string()))
        fields.append(bigquery.SchemaField(field.name, kind, mode="NULLABLE"))
    return table, fields


class BigQueryBackend:
    name = "bigquery"
    rows_per_statement: int | None = None

    def __init__(self, project: str, dataset: str, client: bigquery.Client | None = None,
                 location: str | None = None, timeout: float = 3600.0,
                 maximum_bytes_billed: int | None = None,
                 labels: Mapping[str, str] | None = None, storage_read_api: bool = False):
        self.project = project
        self.dataset = dataset
        self.timeout = timeout
        self.maximum_bytes_billed = maximum_bytes_billed
        self.labels = dict(LABELS if labels is None else labels)
        self.storage_read_api = storage_read_api
        self.client = client or bigquery.Client(project=project, location=location)

    def close(self) -> None:
        self.client.close()

    def reader(self) -> BigQueryBackend:
        """This backend: the client runs jobs from several threads at once."""
        return self

    def _table_id(self, name: str) -> str:
        return ".".join((self.project, self.dataset, check_table_name(name)))

    def _table(self, name: str) -> exp.Table:
        parts = (self.project, self.dataset, check_table_name(name))
        catalog, db, this = (exp.to_identifier(p, quoted=True) for p in parts)
        return exp.Table(this=this, db=db, catalog=catalog)

    def _config(self, kind: str, **kwargs) -> bigquery.QueryJobConfig:
        return bigquery.QueryJobConfig(
            default_dataset=f"{self.project}.{self.dataset}", use_legacy_sql=False,
            maximum_bytes_billed=self.maximum_bytes_billed,
            labels={**self.labels, "jetstream_job": kind}, **kwargs)

    def _job(self, statement: exp.Expression, config: bigquery.QueryJobConfig) -> bigquery.QueryJob:
        try:
            job = self.client.query(statement.sql(dialect="bigquery"), job_config=config)
            if not config.dry_run:
                job.result(timeout=self.timeout)
            return job
        except api_exceptions.GoogleAPICallError as err:
            raise BackendError(_finding(err)) from err

    def dry_run(self, sql: str | exp.Query) -> DryRunResult:
        try:
            job = self._job(parse_select(sql), self._config("dry_run", dry_run=True,
                                                             use_query_cache=False))
        except BackendError as err:
            return DryRunResult(None, (err.finding,))
        return DryRunResult(job.total_bytes_processed, ())

    def query(self, sql: str | exp.Query) -> pd.DataFrame:
        rows = self._job(parse_select(sql), self._config("query")).result(timeout=self.timeout)
        try:
            arrow = rows.to_arrow(create_bqstorage_client=self.storage_read_api)
        except api_exceptions.GoogleAPICallError as err:
            raise BackendError(_finding(err)) from err
        return arrow.to_pandas(types_mapper=_NULLABLE.get)

    def materialize(self, name: str, sql: str | exp.Query, cluster_by: Sequence[str] = (),
                    more: Sequence[str | exp.Query] = ()) -> None:
        """`CREATE OR REPLACE TABLE project.dataset.name [CLUSTER BY …] AS <one SELECT>`, the
        UNION ALL of `sql` and `more` in one job (the service spreads it)."""
        properties = ([exp.ClusterProperty(expressions=[exp.column(c) for c in cluster_by])]
                      if cluster_by else [])
        select = parse_select(sql)
        if more:
            select = exp.union(*(exp.select("*").from_(parse_select(q).subquery("piece"))
                                 for q in (select, *more)), distinct=False)
        create = exp.Create(this=self._table(name), kind="TABLE", replace=True,
                            expression=select,
                            properties=exp.Properties(expressions=properties) if properties else None)
        self._job(create, self._config("materialize"))

    def write_table(self, name: str, frame: pd.DataFrame) -> None:
        """A parquet load with an explicit schema, WRITE_TRUNCATE (replaces atomically)."""
        table, schema = _bigquery_schema(pa.Table.from_pandas(frame, preserve_index=False))
        data = io.BytesIO()
        pq.write_table(table, data)
        data.seek(0)
        config = bigquery.LoadJobConfig(
            source_format=bigquery.SourceFormat.PARQUET, schema=schema,
            write_disposition=bigquery.WriteDisposition.WRITE_TRUNCATE,
            create_disposition=bigquery.CreateDisposition.CREATE_IF_NEEDED,
            labels={**self.labels, "jetstream_job": "write_table"})
        try:
            self.client.load_table_from_file(data, self._table_id(name), job_config=config
                                             ).result(timeout=self.timeout)
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
