"""The embedded default backend: DuckDB, hardened.

Layout: the connection's own database (a results file, or memory) holds our tables (enrollments,
per-client metrics, results); the telemetry file is attached READ_ONLY as catalog `warehouse`.
BigQuery names with a dataset (`project.dataset.table`, `dataset.table`) map to
`warehouse.dataset.table`; one-part names are our own tables or CTEs.

Hardening, applied right after attaching: external access off (no file/URL reads or writes, no
ATTACH), extension install/autoload off, configuration locked. Every user-facing statement must
be exactly one SELECT (checked on the sqlglot tree and again by DuckDB's own statement parser),
and runs under a timer that interrupts it after `timeout` seconds.

Scale: `memory_limit` caps DuckDB's memory and `temp_directory` is where it spills what does not
fit (sorts, joins, aggregates), so an experiment larger than the machine's memory still runs;
both are set before the configuration is locked.
"""
from __future__ import annotations

import copy
import threading
from pathlib import Path
from typing import Sequence

import duckdb
import pandas as pd
import sqlglot
from sqlglot import exp

from engine.backends.base import (
    BackendError,
    DryRunResult,
    check_table_name,
    parse_select,
    sql_finding,
)
from engine.backends.duckdb_limits import constant_size_finding
from engine.backends.duckdb_udfs import MACROS, rename_udfs

WAREHOUSE = "warehouse"
DEFAULT_TIMEOUT = 600.0  # seconds one statement may run before it is interrupted (dry runs, PRs)
# Per-client rows one statement builds per GiB of DuckDB's memory limit (bench/engine_scale at
# 5M clients: one window of 900k rows ran out of memory at 1 GB, two windows' 1.8M fit 2 GB).
ROWS_PER_GIB = 600_000
_UNITS = {"KiB": 2 ** -20, "MiB": 2 ** -10, "GiB": 1, "TiB": 2 ** 10}
_HARDENING = (
    "SET enable_external_access = false",
    "SET autoinstall_known_extensions = false",
    "SET autoload_known_extensions = false",
    "SET allow_community_extensions = false",
    "SET lock_configuration = true",
)
_ATTACH = sqlglot.parse_one("ATTACH :path AS warehouse (READ_ONLY)", read="duckdb")


def _map_table(node: exp.Expression) -> exp.Expression:
    if isinstance(node, exp.Table) and node.args.get("db") is not None:
        node.set("catalog", exp.to_identifier(WAREHOUSE))  # on transform()'s own copy
    return node


def to_duckdb_tree(tree: exp.Expression) -> exp.Expression:
    """Warehouse names mapped and mozfun UDFs renamed, on a copy."""
    return tree.transform(lambda node: rename_udfs(_map_table(node)))


def to_duckdb(tree: exp.Expression) -> str:
    """A BigQuery-dialect tree as DuckDB SQL."""
    return to_duckdb_tree(tree).sql(dialect="duckdb")


class DuckDBBackend:
    name = "duckdb"

    def __init__(self, telemetry: str | Path | None = None, results: str | Path = ":memory:",
                 timeout: float = DEFAULT_TIMEOUT, threads: int | None = None,
                 memory_limit: str | None = None, temp_directory: str | Path | None = None,
                 optimizer: bool = True):
        self.timeout = timeout
        self._con = duckdb.connect(str(results))
        self._optimizer = optimizer
        if not optimizer:  # dry runs: the optimizer folds constants (evaluates them) while planning
            self._con.execute("PRAGMA disable_optimizer")
        if threads:
            self._con.execute("SET threads = ?", [threads])
        if memory_limit:
            self._con.execute("SET memory_limit = ?", [memory_limit])
            # Every read that needs an order says ORDER BY; keeping scan order costs memory
            # in large CREATE TABLE AS (DuckDB's own advice when a limit is hit).
            self._con.execute("SET preserve_insertion_order = false")
        if temp_directory is not None:
            Path(temp_directory).mkdir(parents=True, exist_ok=True)
            self._con.execute("SET temp_directory = ?", [str(Path(temp_directory).resolve())])
        if telemetry is not None:
            path = exp.Literal.string(str(Path(telemetry).resolve()))
            self._con.execute(exp.replace_placeholders(_ATTACH.copy(), path=path).sql("duckdb"))
        for statement in _HARDENING:
            self._con.execute(statement)
        self.rows_per_statement: int | None = int(ROWS_PER_GIB * self._memory_gib())
        for macro in MACROS.values():
            self._con.execute(macro)

    def close(self) -> None:
        self._con.close()

    def reader(self) -> DuckDBBackend:
        """A backend on the same database with a connection of its own, for queries from
        another thread: one DuckDB connection runs one statement at a time, two run at once.
        Settings, the attached telemetry and the hardening are the database's; the UDF macros
        are per connection, so they are made again. A dry-run backend has none: its optimizer
        is off per connection, and a new one could not turn it off once locked."""
        if not self._optimizer:
            raise ValueError("a dry-run backend (optimizer off) has no reader")
        other = copy.copy(self)
        other._con = self._con.cursor()
        for macro in MACROS.values():
            other._con.execute(macro)
        return other

    def _memory_gib(self) -> float:
        """DuckDB's memory limit (as it reports it: "953.6 MiB", "18.8 GiB") in GiB."""
        setting = self._con.execute("SELECT current_setting('memory_limit')").fetchone()[0]
        value, unit = setting.split()
        return float(value) * _UNITS.get(unit, 2 ** -30)

    # -- statements -------------------------------------------------------------------------
    def _checked(self, sql: str | exp.Query) -> str:
        return self._checked_tree(sql)[1]

    def _checked_tree(self, sql: str | exp.Query) -> tuple[exp.Expression, str]:
        tree = to_duckdb_tree(parse_select(sql))
        duck_sql = tree.sql(dialect="duckdb")
        statements = self._con.extract_statements(duck_sql)
        if len(statements) != 1 or statements[0].type != duckdb.StatementType.SELECT:
            raise BackendError(sql_finding("sql-not-single-select",
                                           "the transpiled statement is not a single SELECT"))
        return tree, duck_sql

    def _run(self, duck_sql: str, fetch: bool = True) -> pd.DataFrame | None:
        timer = threading.Timer(self.timeout, self._con.interrupt)
        timer.start()
        try:
            cursor = self._con.execute(duck_sql)
            return cursor.df() if fetch else None
        except duckdb.InterruptException as err:
            raise BackendError(sql_finding(
                "sql-timeout", f"query interrupted after {self.timeout:g} s")) from err
        except duckdb.Error as err:
            raise BackendError(sql_finding(_error_code(err), str(err))) from err
        finally:
            timer.cancel()

    def dry_run(self, sql: str | exp.Query) -> DryRunResult:
        """Bind and plan without reading data (EXPLAIN: nothing is executed, so no value of the
        telemetry can reach an error message); constant array and string builders too big to
        evaluate safely are refused first (`duckdb_limits`)."""
        try:
            tree = parse_select(sql)
            too_big = constant_size_finding(tree)
            if too_big is not None:
                return DryRunResult(None, (too_big,))
            explain = exp.Command(this="EXPLAIN", expression=exp.Literal.string(self._checked(tree)))
            self._run(explain.sql(dialect="duckdb"))
        except BackendError as err:
            return DryRunResult(None, (err.finding,))
        return DryRunResult(None, ())

    def query(self, sql: str | exp.Query) -> pd.DataFrame:
        return self._run(self._checked(sql))

    # -- our own tables ---------------------------------------------------------------------
    def materialize(self, name: str, sql: str | exp.Query, cluster_by: Sequence[str] = (),
                    more: Sequence[str | exp.Query] = ()) -> None:
        """CREATE OR REPLACE inside one transaction: a failure leaves the old table intact.
        DuckDB has no clustering: `cluster_by` is ignored (an ORDER BY in `sql` orders storage).
        With `more`, one statement per piece (see `_replace_in_pieces`)."""
        select, _ = self._checked_tree(sql)
        if more:
            self._replace_in_pieces(name, [select, *(self._checked_tree(q)[0] for q in more)])
        else:
            self._replace(name, select)

    def write_table(self, name: str, frame: pd.DataFrame) -> None:
        view = f"_frame_{threading.get_ident()}"
        self._con.register(view, frame)
        try:
            self._replace(name, exp.select("*").from_(view))
        finally:
            self._con.unregister(view)

    def _replace(self, name: str, select: exp.Expression) -> None:
        """CREATE OR REPLACE TABLE `name` AS `select`, in one transaction."""
        create = exp.Create(this=exp.to_table(check_table_name(name)), kind="TABLE",
                            replace=True, expression=select)
        self._transaction([create])

    def _replace_in_pieces(self, name: str, pieces: list[exp.Expression]) -> None:
        """Table `name` as the UNION ALL of `pieces`, one INSERT per piece so that DuckDB holds
        one piece's joins and aggregates at a time: a new table of the union's columns (bound,
        not run: an always-false filter plans to an empty result), the inserts (a piece may
        read the old table), then the swap, in one transaction."""
        building = exp.to_table(check_table_name(f"{name}_pieces"))
        union = exp.union(*(exp.select("*").from_(p.subquery("piece")) for p in pieces),
                          distinct=False)
        empty = exp.select("*").from_(union.subquery("pieces")).where(exp.false())
        self._transaction([
            exp.Create(this=building, kind="TABLE", replace=True, expression=empty),
            *(exp.Insert(this=building.copy(), expression=piece, by_name=True) for piece in pieces),
            exp.Drop(tables=[exp.to_table(name)], kind="TABLE", exists=True),
            exp.Alter(this=building.copy(), kind="TABLE",
                      actions=[exp.AlterRename(this=exp.to_table(name))])])

    def _transaction(self, statements: list[exp.Expression]) -> None:
        self._con.execute("BEGIN TRANSACTION")
        try:
            for statement in statements:
                self._run(statement.sql(dialect="duckdb"), fetch=False)
        except BaseException:
            self._con.execute("ROLLBACK")
            raise
        self._con.execute("COMMIT")

    def table_exists(self, name: str) -> bool:
        return name in self.list_tables()

    def list_tables(self, prefix: str = "") -> list[str]:
        rows = self._con.execute(
            "SELECT table_name FROM duckdb_tables() "
            "WHERE database_name = current_database() AND schema_name = 'main' ORDER BY 1"
        ).fetchall()
        return [r[0] for r in rows if r[0].startswith(prefix)]

    def drop_table(self, name: str) -> None:
        drop = exp.Drop(tables=[exp.to_table(check_table_name(name))], kind="TABLE", exists=True)
        self._con.execute(drop.sql(dialect="duckdb"))


def _error_code(err: duckdb.Error) -> str:
    if isinstance(err, duckdb.CatalogException):
        return "sql-unknown-name"
    if isinstance(err, duckdb.BinderException):
        return "sql-binder"
    if isinstance(err, duckdb.ParserException):
        return "sql-parse"
    if isinstance(err, duckdb.PermissionException):
        return "sql-refused"
    return "sql-error"
