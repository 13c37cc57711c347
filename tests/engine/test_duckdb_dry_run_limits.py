"""The dry-run DuckDB connection: EXPLAIN only (nothing read, so no value in a message), constant
array and string builders sized from their literals before DuckDB evaluates them."""
import duckdb
import pytest

from engine.backends.duckdb import DuckDBBackend
from engine.backends.duckdb_limits import DRY_RUN


@pytest.fixture(scope="module")
def backend(tmp_path_factory):
    path = tmp_path_factory.mktemp("limits") / "tele.duckdb"
    con = duckdb.connect(str(path))
    con.execute("CREATE SCHEMA t; CREATE TABLE t.events AS SELECT 'client-' || i AS client_id, i AS n "
                "FROM range(3) r(i)")
    con.close()
    b = DuckDBBackend(path, **DRY_RUN)
    yield b
    b.close()


@pytest.mark.parametrize("sql", [
    "SELECT GENERATE_ARRAY(1, 100000000)",
    "SELECT x FROM UNNEST(GENERATE_ARRAY(1, 5000000, 2)) AS x",
    "SELECT GENERATE_TIMESTAMP_ARRAY('2020-01-01', '2024-01-01', INTERVAL 1 SECOND)",
    "SELECT REPEAT('ab', 600000)",
    "SELECT LPAD('a', 2000000, 'b')",
    "SELECT FORMAT('%*d', 1000000000, 1)",
    "SELECT GENERATE_ARRAY(1, CAST('100000000' AS INT64))",  # not given by literals
])
def test_constant_builders_too_big_are_refused(backend, sql):
    [finding] = backend.dry_run(sql).findings
    assert finding.code == "sql-limit"


@pytest.mark.parametrize("sql", [
    "SELECT GENERATE_ARRAY(1, 1000)",
    "SELECT GENERATE_DATE_ARRAY('2020-01-01', '2024-01-01')",
    "SELECT REPEAT('x', 10)",
    "SELECT GENERATE_ARRAY(1, n) FROM t.events",  # per row: a plan never evaluates it
    "SELECT ARRAY_LENGTH(GENERATE_ARRAY(1, (SELECT 100000000)))",  # no optimizer: not folded
    "SELECT CAST((SELECT STRING_AGG(client_id, ',') FROM t.events) AS INT64)",  # nothing executes
])
def test_bounded_or_column_dependent_queries_bind_cleanly(backend, sql):
    assert backend.dry_run(sql).findings == ()


def test_binder_errors_are_still_found(backend):
    [finding] = backend.dry_run("SELECT nope FROM t.events").findings
    assert finding.code == "sql-binder" and "client-" not in finding.message
