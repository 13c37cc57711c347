"""`enrollments_query_type` picks the enrollments source, run for real on DuckDB tables shaped
like the Glean pings each type reads."""
import datetime as dt

import duckdb
import pytest

from engine.backends.duckdb import DuckDBBackend
from engine.config.spec import ExperimentSpec
from engine.plan.windows import Timeline
from engine.sql.enrollments import enrollments_query, query_type

TIMELINE = Timeline(dt.date(2024, 1, 1), dt.date(2024, 1, 7), None)


@pytest.fixture(scope="module")
def backend(tmp_path_factory):
    path = tmp_path_factory.mktemp("eqt") / "tele.duckdb"
    con = duckdb.connect(str(path))
    con.execute("""
    CREATE SCHEMA fenix;
    CREATE TABLE fenix.baseline AS SELECT * FROM (VALUES
     ({'client_id': 'early'}, {'experiments': [{'key': 's', 'value': {'branch': 'control'}}]},
      TIMESTAMP '2023-12-29 10:00:00'),
     ({'client_id': 'early'}, {'experiments': [{'key': 's', 'value': {'branch': 'control'}}]},
      TIMESTAMP '2024-01-02 10:00:00'),
     ({'client_id': 'a'}, {'experiments': [{'key': 's', 'value': {'branch': 'treatment'}}]},
      TIMESTAMP '2024-01-03 10:00:00'),
     ({'client_id': 'b'}, {'experiments': [{'key': 'other', 'value': {'branch': 'x'}}]},
      TIMESTAMP '2024-01-03 10:00:00')) t(client_info, ping_info, submission_timestamp);
    CREATE TABLE fenix.enrollment AS SELECT * FROM (VALUES
     ('cirrus_events', 'enrollment', '{"user_id": "u1", "branch": "control", "experiment": "s"}',
      TIMESTAMP '2024-01-02 10:00:00'),
     ('nimbus_events', 'enrollment', '{"user_id": "u2", "branch": "control", "experiment": "s"}',
      TIMESTAMP '2024-01-02 10:00:00')) t(event_category, event_name, event_extra, submission_timestamp);
    """)
    con.close()
    b = DuckDBBackend(path)
    yield b
    b.close()


def _experiment(kind, app="fenix"):
    return ExperimentSpec("s", "s", app, None, dt.date(2024, 1, 1), None, 7, "control", (),
                          enrollments_query_type=kind)


def _enrolled(backend, kind):
    rows = backend.query(enrollments_query(_experiment(kind), TIMELINE)).to_dict("records")
    return {(r["client_id"], r["branch"]) for r in rows}


def test_fenix_fallback_reads_baseline_annotations_and_drops_clients_enrolled_before(backend):
    assert _enrolled(backend, "fenix-fallback") == {("a", "treatment")}


def test_cirrus_reads_the_user_id_of_cirrus_enrollment_events_only(backend):
    assert _enrolled(backend, "cirrus") == {("u1", "control")}


def test_default_type_is_the_platforms_own():
    assert query_type(_experiment(None, "firefox_desktop")) == "normandy"
    assert query_type(_experiment(None, "fenix")) == "glean-event"
    assert query_type(_experiment("normandy", "fenix")) == "normandy"
