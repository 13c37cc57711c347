"""The BigQuery backend against a local server speaking BigQuery's REST shapes."""
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
    return BigQueryBackend("proj", "results", client=client, timeout=30)


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


def test_dry_run_error_becomes_finding(backend):
    result = backend.dry_run("SELECT nope FROM t")
    assert not result.ok
    assert result.findings[0].code == "sql-unknown-name"
    assert "Unrecognized name: nope" in result.findings[0].message


def test_query_returns_dataframe(fake, backend):
    frame = backend.query("SELECT x, branch FROM t")
    assert frame.to_dict("records") == [{"x": 1, "branch": "control"}, {"x": 2, "branch": "treatment"}]
    (insert,) = _job_inserts(fake)
    assert "dryRun" not in insert["body"]["configuration"] or not insert["body"]["configuration"]["dryRun"]


def test_materialize_writes_destination_with_truncate(fake, backend):
    backend.materialize("my_exp_enrollments_weekly_1", "SELECT 1 AS x")
    (insert,) = _job_inserts(fake)
    query = insert["body"]["configuration"]["query"]
    assert query["destinationTable"] == {"projectId": "proj", "datasetId": "results",
                                         "tableId": "my_exp_enrollments_weekly_1"}
    assert query["writeDisposition"] == "WRITE_TRUNCATE"
    assert backend.table_exists("my_exp_enrollments_weekly_1")
    assert backend.list_tables("my_exp") == ["my_exp_enrollments_weekly_1"]
    backend.drop_table("my_exp_enrollments_weekly_1")
    assert not backend.table_exists("my_exp_enrollments_weekly_1")
    backend.drop_table("my_exp_enrollments_weekly_1")  # absent: no error


def test_non_select_never_reaches_the_server(fake, backend):
    for sql in ["DROP TABLE t", "SELECT 1; SELECT 2", "DELETE FROM t WHERE TRUE"]:
        with pytest.raises(BackendError):
            backend.query(sql)
        assert not backend.dry_run(sql).ok
    assert _job_inserts(fake) == []
    with pytest.raises(ValueError):
        backend.materialize("bad name", "SELECT 1")
