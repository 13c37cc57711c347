"""The bill of a run is the dry runs of exactly the queries the run executes (BigQuery's REST
shapes from the local server, which answers every dry run with BYTES)."""
import datetime as dt

import minitelemetry as mt
from fake_bigquery import BYTES
from test_bigquery_backend import backend, fake  # noqa: F401 - the same fixtures

from engine.backends.duckdb import DuckDBBackend
from engine.check.bill import bill
from engine.plan.analysis_plan import plan
from engine.run.client_metrics import compute_client_metrics
from engine.sql.queries import run_queries


def _sent(fake):
    return [r["body"]["configuration"] for r in fake.requests if r["method"] == "POST"]


def test_a_full_run_is_billed_query_by_query(fake, backend):
    spec = mt.make_spec()
    estimate = bill(spec, backend, mt.END + dt.timedelta(days=30))  # clamped to the end date
    assert estimate.date == mt.END
    assert [q.table for q in estimate.queries] == ["enrollments_mini_exp", "client_windows_mini_exp"]
    assert estimate.total == 2 * BYTES
    assert "daily 1-25" in estimate.queries[1].what and "overall 1" in estimate.queries[1].what
    sent = _sent(fake)
    assert all(c["dryRun"] for c in sent) and len(sent) == 2
    p = plan(spec, mt.END)
    (_, windows) = run_queries(p, p.tasks, inline_enrollments=True)
    assert sent[1]["query"]["query"] == windows.query.sql(dialect="bigquery")


def test_a_daily_run_bills_only_its_new_windows(fake, backend):
    spec = mt.make_spec()
    day = dt.date(2024, 3, 12)
    done = {(t.window.period, t.window.number) for t in plan(spec, day).tasks}
    estimate = bill(spec, backend, day, done=done, has_previous=True)
    assert estimate.queries[1].what.startswith("daily 8 (+ carried preenrollment")
    sent = _sent(fake)[1]["query"]["query"]
    assert "FROM client_windows_mini_exp WHERE period IN ('preenrollment_weekly'" in sent
    nothing = bill(spec, backend, mt.START, done=set())  # enrollment still open: nothing runs
    assert nothing.queries == () and nothing.total is None


def test_duckdb_dry_runs_the_same_queries_without_bytes(tmp_path):
    mt.write_world(mt.make_world(), tmp_path / "tele.duckdb")
    backend = DuckDBBackend(tmp_path / "tele.duckdb", tmp_path / "results.duckdb")
    estimate = bill(mt.make_spec(), backend, mt.END)
    assert len(estimate.queries) == 2 and all(not q.findings for q in estimate.queries)
    assert estimate.total is None and backend.list_tables() == []  # nothing was run
    compute_client_metrics(mt.make_spec(), backend, mt.END)
    assert backend.list_tables() == ["client_windows_mini_exp", "enrollments_mini_exp"]
