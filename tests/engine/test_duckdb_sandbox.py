"""The hardened DuckDB backend refuses or interrupts hostile statements, each asserted."""
import time
from concurrent.futures import ThreadPoolExecutor

import duckdb
import pandas as pd
import pytest

from engine.backends.base import BackendError
from engine.backends.duckdb import DuckDBBackend

SECRET = "s3cr3t-content"


@pytest.fixture(scope="module")
def backend(tmp_path_factory):
    root = tmp_path_factory.mktemp("sandbox")
    con = duckdb.connect(str(root / "tele.duckdb"))
    con.execute("CREATE SCHEMA telemetry; CREATE TABLE telemetry.events AS SELECT 1 AS a")
    con.close()
    (root / "secret.csv").write_text(f"x\n{SECRET}\n")
    b = DuckDBBackend(root / "tele.duckdb", root / "results.duckdb", timeout=1.0)
    b.root = root
    yield b
    b.close()


def hostile(root):
    secret, out = str(root / "secret.csv"), str(root / "out.csv")
    return {
        "read_csv": f"SELECT * FROM read_csv('{secret}')",
        "read_csv_auto": f"SELECT * FROM read_csv_auto('{secret}')",
        "read_text": f"SELECT * FROM read_text('{secret}')",
        "read_blob": f"SELECT * FROM read_blob('{secret}')",
        "replacement scan": f"SELECT * FROM '{secret}'",
        "read_parquet url": "SELECT * FROM read_parquet('https://example.com/x.parquet')",
        "glob": f"SELECT * FROM glob('{root}/*')",
        "read_json": f"SELECT * FROM read_json('{secret}')",
        "copy to": f"COPY (SELECT 1) TO '{out}'",
        "export": f"EXPORT DATABASE '{root}/dump'",
        "attach": f"ATTACH '{root}/other.duckdb' AS other",
        "install": "INSTALL httpfs",
        "load": "LOAD httpfs",
        "set": "SET enable_external_access = true",
        "reset": "RESET enable_external_access",
        "pragma": "PRAGMA enable_profiling",
        "create table": "CREATE TABLE t AS SELECT 1",
        "drop": "DROP TABLE warehouse.telemetry.events",
        "delete": "DELETE FROM telemetry.events WHERE TRUE",
        "multiple statements": "SELECT 1; SELECT 2",
        "select then copy": f"SELECT 1; COPY (SELECT 1) TO '{out}'",
        "call": "CALL pragma_version()",
        "update": "UPDATE telemetry.events SET a = 2 WHERE TRUE",
        "write via select into": f"SELECT * INTO t2 FROM telemetry.events",
    }


def test_hostile_catalogue_is_refused(backend):
    catalogue = hostile(backend.root)
    assert len(catalogue) >= 20
    for name, sql in catalogue.items():
        with pytest.raises(BackendError) as err:
            backend.query(sql)
        assert err.value.finding.is_error, name
        assert SECRET not in err.value.finding.message, name
    assert not (backend.root / "out.csv").exists()
    assert not (backend.root / "dump").exists()
    assert backend.query("SELECT a FROM telemetry.events")["a"].tolist() == [1]
    assert backend.list_tables() == []


def test_configuration_is_locked(backend):
    with pytest.raises(duckdb.Error):
        backend._con.execute("SET enable_external_access = true")
    setting = backend._con.execute(
        "SELECT value FROM duckdb_settings() WHERE name = 'enable_external_access'").fetchone()[0]
    assert setting == "false"


def test_runaway_query_is_interrupted(backend):
    endless = ("SELECT COUNT(*) FROM UNNEST(GENERATE_ARRAY(1, 100000)) AS a "
               "CROSS JOIN UNNEST(GENERATE_ARRAY(1, 100000)) AS b "
               "CROSS JOIN UNNEST(GENERATE_ARRAY(1, 100000)) AS c")
    with pytest.raises(BackendError) as err:
        backend.query(endless)
    assert err.value.finding.code == "sql-timeout"
    assert backend.query("SELECT 41 + 1 AS x")["x"][0] == 42  # still usable afterwards


def test_names_and_udfs_are_mapped(backend):
    sql = ("SELECT mozfun.map.get_key([STRUCT('k' AS key, 5 AS value)], 'k') AS v, a "
           "FROM `moz-fx-data-shared-prod.telemetry.events`")
    assert backend.query(sql).to_dict("records") == [{"v": 5, "a": 1}]


def test_tables_are_replaced_atomically(backend):
    backend.write_table("t_atomic", pd.DataFrame({"x": [1, 2]}))
    backend.write_table("t_atomic", pd.DataFrame({"x": [3]}))
    assert backend.query("SELECT x FROM t_atomic")["x"].tolist() == [3]
    with pytest.raises(BackendError):
        backend.materialize("t_atomic", "SELECT x, no_such_column FROM t_atomic")
    with pytest.raises(BackendError):
        backend.materialize("t_atomic", "SELECT CAST('nope' AS INT64) AS x FROM t_atomic")
    assert backend.query("SELECT x FROM t_atomic")["x"].tolist() == [3]
    backend.materialize("t_atomic", "SELECT x * 2 AS x FROM t_atomic")
    assert backend.query("SELECT x FROM t_atomic")["x"].tolist() == [6]
    assert backend.table_exists("t_atomic")
    backend.drop_table("t_atomic")
    assert not backend.table_exists("t_atomic")
    with pytest.raises(ValueError):
        backend.drop_table("x; DROP TABLE y")


def test_a_table_in_pieces_is_their_union_and_atomic(backend):
    """Pieces may read the table they replace; a piece whose column is NULL does not type the
    column (the union's type does); a failing piece leaves the old table and no scratch one."""
    backend.write_table("t_pieces", pd.DataFrame({"x": [1.5, 2.5]}))
    backend.materialize("t_pieces", "SELECT NULL AS x",
                        more=["SELECT x * 2 AS x FROM t_pieces", "SELECT 0.25 AS x"])
    assert sorted(backend.query("SELECT x FROM t_pieces")["x"].dropna()) == [0.25, 3.0, 5.0]
    with pytest.raises(BackendError):
        backend.materialize("t_pieces", "SELECT x FROM t_pieces",
                            more=["SELECT CAST('nope' AS INT64) AS x FROM t_pieces"])
    assert len(backend.query("SELECT x FROM t_pieces")) == 4
    assert backend.list_tables("t_pieces") == ["t_pieces"]


def test_dry_run_reports_binder_errors(backend):
    assert backend.dry_run("SELECT a FROM telemetry.events").ok
    bad = backend.dry_run("SELECT nope FROM telemetry.events")
    assert not bad.ok and bad.findings[0].code == "sql-binder"
    missing = backend.dry_run("SELECT 1 FROM telemetry.nope")
    assert missing.findings[0].code == "sql-unknown-name"


def test_a_reader_is_as_locked_down_and_runs_beside_the_backend(backend):
    """A reader (another thread's connection to the same database) refuses the same hostile
    statements, has the UDF macros and the timeout, sees our tables, and its query runs while
    the backend's own does: the backend's runaway query is interrupted, the reader's is not."""
    reader = backend.reader()
    try:
        for name, sql in hostile(backend.root).items():
            with pytest.raises(BackendError):
                reader.query(sql)
        assert not (backend.root / "out.csv").exists()
        sql = ("SELECT mozfun.map.get_key([STRUCT('k' AS key, 5 AS value)], 'k') AS v, a "
               "FROM `moz-fx-data-shared-prod.telemetry.events`")
        assert reader.query(sql).to_dict("records") == [{"v": 5, "a": 1}]
        backend.write_table("t_reader", pd.DataFrame({"x": [7]}))
        assert reader.query("SELECT x FROM t_reader")["x"].tolist() == [7]
        endless = ("SELECT COUNT(*) FROM UNNEST(GENERATE_ARRAY(1, 100000)) AS a "
                   "CROSS JOIN UNNEST(GENERATE_ARRAY(1, 100000)) AS b")
        with ThreadPoolExecutor(max_workers=1) as pool:
            running = pool.submit(backend.query, endless)
            time.sleep(0.2)  # the endless query is running
            assert reader.query("SELECT 41 + 1 AS x")["x"][0] == 42
            assert not running.done()  # the reader's query was not queued behind it
            with pytest.raises(BackendError) as err:
                running.result()
        assert err.value.finding.code == "sql-timeout"
    finally:
        reader.close()
    assert backend.query("SELECT x FROM t_reader")["x"].tolist() == [7]
    backend.drop_table("t_reader")


def test_a_dry_run_backend_has_no_reader(tmp_path):
    """Its optimizer (which would evaluate constants while planning) is off per connection."""
    dry = DuckDBBackend(None, tmp_path / "r.duckdb", optimizer=False)
    with pytest.raises(ValueError, match="dry-run"):
        dry.reader()
    dry.close()
