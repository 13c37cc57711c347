"""A minimal real-DuckDB implementation of the backend protocol the results sinks use.

Stands in for `engine.backends.duckdb` in these tests so they exercise real tables and SQL.
"""
from __future__ import annotations

from pathlib import Path

import duckdb
import pandas as pd
import sqlglot
import sqlglot.expressions as exp


class DuckTables:
    def __init__(self, path: Path) -> None:
        self.connection = duckdb.connect(str(path))

    def query(self, sql: str) -> pd.DataFrame:
        return self.connection.execute(sqlglot.transpile(sql, read="bigquery", write="duckdb")[0]).df()

    def write_table(self, name: str, frame: pd.DataFrame) -> None:
        con = self.connection
        con.register("incoming", frame)
        con.execute("BEGIN")
        create = exp.Create(this=exp.to_table(name, quoted=True), kind="TABLE", replace=True,
                            expression=exp.select("*").from_("incoming"))
        con.execute(create.sql(dialect="duckdb"))
        con.execute("COMMIT")
        con.unregister("incoming")

    def table_exists(self, name: str) -> bool:
        return name in self.list_tables()

    def list_tables(self) -> list[str]:
        return [r[0] for r in self.connection.execute("SELECT table_name FROM duckdb_tables()").fetchall()]
