"""The one backend protocol (DuckDB, BigQuery). SQL handed in is BigQuery dialect text or a
BigQuery-dialect sqlglot tree (`exp.Query`)."""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

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
    name: str

    def dry_run(self, sql: str | exp.Query) -> DryRunResult: ...

    def query(self, sql: str | exp.Query) -> pd.DataFrame: ...

    def materialize(self, name: str, sql: str | exp.Query) -> None:
        """Create or replace table `name` from a query, atomically."""

    def write_table(self, name: str, frame: pd.DataFrame) -> None:
        """Create or replace table `name` with `frame`, atomically."""

    def table_exists(self, name: str) -> bool: ...

    def list_tables(self, prefix: str = "") -> list[str]: ...

    def drop_table(self, name: str) -> None: ...
