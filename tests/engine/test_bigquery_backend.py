"""The BigQuery backend against a local server speaking BigQuery's REST shapes: what every job
sends (dryRun, labels, maximumBytesBilled, the DDL of our tables, parquet loads)."""
import io

import pandas as pd
import pyarrow.parquet as pq
import pytest
from fake_bigquery import BYTES, FakeBigQuery
from google.api_core.client_options import ClientOptions
from google.auth.credentials import AnonymousCredentials
from google.cloud import bigquery

from engine.backends.base import BackendError
from engine.backends.bigquery import BigQueryBackend


@pytest.fixture
def fake():
    with FakeBigQuery() as server:
        yield server


@pytest.fixture
def backend(fake):
    client = bigquery.Client(project="proj", credentials=AnonymousCredentials(),
                             client_options=ClientOptions(api_endpoint=fake.url))
    return BigQueryBackend("proj", "results", client=client, timeout=30,
                           maximum_bytes_billed=10**12)


def _job_inserts(fake):
    return [r for r in fake.requests if r["method"] == "POST" and r["path"].startswith("/bigquery/v2/projects/proj/jobs")]


def test_dry_run_sends_dry_run_flag_and_reports_bytes(fake, backend):
    sql = "SELECT client_id FROM `moz-fx-data-shared-prod.telemetry.events`"
    result = backend.dry_run(sql)
    assert result.ok and result.bytes_processed == BYTES
    (insert,) = _job_inserts(fake)
    config = insert["body"]["configuration"]
    assert config["dryRun"] is True
    assert config["query"]["query"] == sql
    assert config["query"]["useLegacySql"] is False
    assert config["query"]["defaultDataset"] == {"projectId": "proj", "datasetId": "results"}
    assert config["query"]["maximumBytesBilled"] == str(10**12)
    assert config["labels"] == {"application": "jetstream", "jetstream_job": "dry_run"}


def test_dry_run_error_becomes_finding(backend):
    result = backend.dry_run("SELECT nope FROM t")
    assert not result.ok
    assert result.findings[0].code == "sql-unknown-name"
    assert "Unrecognized name: nope" in result.findings[0].message


def test_query_returns_dataframe(fake, backend):
    frame = backend.query("SELECT x, branch FROM t")
    assert frame.to_dict("records") == [{"x": 1, "branch": "control"}, {"x": 2, "branch": "treatment"}]
    assert str(frame["x"].dtype) == "Int64"  # read through Arrow, integers nullable as on DuckDB
    (insert,) = _job_inserts(fake)
    assert "dryRun" not in insert["body"]["configuration"] or not insert["body"]["configuration"]["dryRun"]


def test_pieces_are_one_job_of_their_union(fake, backend):
    """BigQuery spreads a large statement itself: pieces become one UNION ALL, one job."""
    assert backend.rows_per_statement is None
    backend.materialize("t", "SELECT 1 AS x", more=["SELECT 2 AS x"])
    (insert,) = _job_inserts(fake)
    assert insert["body"]["configuration"]["query"]["query"] == (
        "CREATE OR REPLACE TABLE `proj`.`results`.`t` AS SELECT * FROM (SELECT 1 AS x) AS piece "
        "UNION ALL SELECT * FROM (SELECT 2 AS x) AS piece")


def test_materialize_is_create_or_replace_with_labels_and_cost_guard(fake, backend):
    backend.materialize("my_exp_enrollments_weekly_all", "SELECT 1 AS window_index",
                        cluster_by=("window_index",))
    (insert,) = _job_inserts(fake)
    config = insert["body"]["configuration"]
    assert config["query"]["query"] == ("CREATE OR REPLACE TABLE `proj`.`results`.`my_exp_enrollments"
                                        "_weekly_all` CLUSTER BY window_index AS SELECT 1 AS window_index")
    assert "destinationTable" not in config["query"]  # a DDL job names its table itself
    assert config["query"]["maximumBytesBilled"] == str(10**12)
    assert config["labels"] == {"application": "jetstream", "jetstream_job": "materialize"}
    assert backend.table_exists("my_exp_enrollments_weekly_all")
    assert backend.list_tables("my_exp") == ["my_exp_enrollments_weekly_all"]
    backend.drop_table("my_exp_enrollments_weekly_all")
    assert not backend.table_exists("my_exp_enrollments_weekly_all")
    backend.drop_table("my_exp_enrollments_weekly_all")  # absent: no error


def test_write_table_is_a_parquet_load_with_its_schema(fake, backend):
    frame = pd.DataFrame({"metric": ["a", "b"], "point": [1.5, None], "comparison": [None, None],
                          "n": pd.array([3, None], dtype="Int64")})
    backend.write_table("statistics_my_exp_weekly_1", frame)
    (insert,) = [r for r in fake.requests if r["method"] == "POST" and r["path"].startswith("/upload/")]
    load = insert["body"]["configuration"]["load"]
    assert load["sourceFormat"] == "PARQUET"
    assert load["writeDisposition"] == "WRITE_TRUNCATE"
    assert load["createDisposition"] == "CREATE_IF_NEEDED"
    assert load["destinationTable"] == {"projectId": "proj", "datasetId": "results",
                                        "tableId": "statistics_my_exp_weekly_1"}
    assert [(f["name"], f["type"]) for f in load["schema"]["fields"]] == [
        ("metric", "STRING"), ("point", "FLOAT64"), ("comparison", "STRING"), ("n", "INT64")]
    assert insert["body"]["configuration"]["labels"]["jetstream_job"] == "write_table"
    (data,) = fake.uploads.values()
    uploaded = pq.read_table(io.BytesIO(data)).to_pydict()
    assert uploaded == {"metric": ["a", "b"], "point": [1.5, None], "comparison": [None, None],
                        "n": [3, None]}
    assert backend.table_exists("statistics_my_exp_weekly_1")


def test_non_select_never_reaches_the_server(fake, backend):
    for sql in ["DROP TABLE t", "SELECT 1; SELECT 2", "DELETE FROM t WHERE TRUE"]:
        with pytest.raises(BackendError):
            backend.query(sql)
        assert not backend.dry_run(sql).ok
    assert _job_inserts(fake) == []
    with pytest.raises(ValueError):
        backend.materialize("bad name", "SELECT 1")
