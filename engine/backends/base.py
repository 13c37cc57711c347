"""The one backend protocol (DuckDB, BigQuery) and the query helpers every caller shares.

Queries are BigQuery-dialect sqlglot trees (`exp.Query`); text from outside (a user's query, a
test) becomes a tree through `parse_select`, which admits exactly one SELECT. Backends also
accept such text and parse it the same way, so the one-SELECT rule holds on every path."""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Protocol, Sequence, runtime_checkable

import pandas as pd
import sqlglot
from sqlglot import exp

from engine.findings import Finding, Severity

_TABLE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,1000}$")


@dataclass(frozen=True)
class DryRunResult:
    """A dry run either estimates the bytes a query reads or explains why it cannot run."""

    bytes_processed: int | None = None
    findings: tuple[Finding, ...] = ()

    @property
    def ok(self) -> bool:
        return not any(f.is_error for f in self.findings)


class BackendError(RuntimeError):
    """A refused or failed statement; `finding` says why in the common currency."""

    def __init__(self, finding: Finding):
        super().__init__(finding.message)
        self.finding = finding


def sql_finding(code: str, message: str, hint: str | None = None) -> Finding:
    return Finding("<sql>", None, None, Severity.ERROR, code, message, hint)


def check_table_name(name: str) -> str:
    """Our own result tables have plain names; anything else is a programming error."""
    if not _TABLE_NAME.match(name):
        raise ValueError(f"invalid table name {name!r}")
    return name


def parse_select(sql: str | exp.Query) -> exp.Query:
    """Exactly one SELECT in BigQuery dialect, or a BackendError saying what was refused.
    Trees built by our SQL builders are accepted as they are (no render/parse round trip)."""
    if isinstance(sql, exp.Query):
        return sql
    try:
        statements = [s for s in sqlglot.parse(sql, read="bigquery") if s is not None]
    except sqlglot.errors.ParseError as err:
        raise BackendError(sql_finding("sql-parse", f"SQL does not parse: {err}")) from err
    if len(statements) != 1:
        raise BackendError(sql_finding(
            "sql-not-single-select", f"expected exactly one statement, got {len(statements)}"))
    tree = statements[0]
    if not isinstance(tree, exp.Query):
        raise BackendError(sql_finding(
            "sql-not-single-select", f"only SELECT statements run here, got {tree.key.upper()}"))
    return tree


@runtime_checkable
class Backend(Protocol):
    """Where telemetry lives and our own tables (enrollments, per-client metrics, results) are
    created: DuckDB (`engine.backends.duckdb`) or BigQuery (`engine.backends.bigquery`)."""

    name: str

    def dry_run(self, query: exp.Query) -> DryRunResult:
        """Bind and plan `query` without reading data (bytes estimated where the warehouse can)."""

    def query(self, query: exp.Query) -> pd.DataFrame:
        """The result of `query` as a frame (for small results; BigQuery reads it as Arrow)."""

    rows_per_statement: int | None
    """Rows one statement creating a per-client table should produce at most, so that its
    joins and aggregates fit the engine's memory; None: no bound (the warehouse spreads them)."""

    def materialize(self, name: str, query: exp.Query, cluster_by: Sequence[str] = (),
                    more: Sequence[exp.Query] = ()) -> None:
        """CREATE OR REPLACE TABLE `name` AS `query` (UNION ALL each of `more`), atomically;
        `cluster_by` columns are a storage hint where the warehouse has clustering."""

    def write_table(self, name: str, frame: pd.DataFrame) -> None:
        """Create or replace table `name` with `frame`, atomically."""

    def reader(self) -> Backend:
        """A backend for `query` from another thread while this one runs queries too."""

    def table_exists(self, name: str) -> bool: ...

    def list_tables(self, prefix: str = "") -> list[str]: ...

    def drop_table(self, name: str) -> None: ...

    def close(self) -> None: ...


def select_all(table: str, order_by: Sequence[str] = ()) -> exp.Select:
    """`SELECT * FROM table [ORDER BY ...]`: warehouses only promise an order when asked for one
    (nulls first, BigQuery's default, spelled out for every dialect)."""
    tree = exp.select("*").from_(exp.to_table(check_table_name(table)))
    if order_by:
        tree = tree.order_by(*(exp.Ordered(this=exp.column(c), nulls_first=True) for c in order_by))
    return tree


def read_table(backend: Backend, table: str, order_by: Sequence[str] = ()) -> pd.DataFrame:
    """Every row of one of our tables, in the given order."""
    return backend.query(select_all(table, order_by))


def count_by(backend: Backend, table: str, column: str) -> dict[Any, int]:
    """Rows of `table` per value of `column`, in the column's order."""
    tree = (exp.select(exp.column(column), exp.func("COUNT", exp.Star()).as_("n"))
            .from_(exp.to_table(check_table_name(table)))
            .group_by(exp.column(column)).order_by(exp.column(column)))
    frame = backend.query(tree)
    return {key: int(n) for key, n in zip(frame[column], frame["n"])}
