"""The run's per-client query, read as a BigQuery engineer would: each data source is scanned
once, under a constant `submission_date` range BigQuery prunes partitions on; windows come from
day arithmetic, never from a join on a date range."""
import datetime as dt

import minitelemetry as mt
from sqlglot import exp

from engine.plan.analysis_plan import enrollments_table, plan
from engine.sql.metrics import client_windows_query

WAREHOUSE = "moz-fx-data-shared-prod"


def _query(custom=False, date=mt.END):
    p = plan(mt.make_spec(custom), date)
    return client_windows_query(p.spec, p.tasks, p.timeline, enrollments_table(mt.SLUG)), p


def _reads_nothing(select):
    where = select.args.get("where")
    return where is not None and isinstance(where.this, exp.Boolean) and not where.this.this


def _scans(tree, empty=False):
    """Warehouse table name -> the SELECTs that read it (`empty`: those that read nothing,
    WHERE FALSE: the aggregates over no rows)."""
    found = {}
    for table in tree.find_all(exp.Table):
        select = table.find_ancestor(exp.Select)
        if table.catalog == WAREHOUSE and _reads_nothing(select) == empty:
            found.setdefault(table.name, []).append(select)
    return found


def _date_range(select, column="submission_date"):
    """The constant (first, last) of `column BETWEEN DATE a AND DATE b` in the WHERE."""
    where = select.args.get("where")
    for between in (where.find_all(exp.Between) if where else ()):
        if between.this.name == column and all(isinstance(b, exp.Cast) and b.this.is_string
                                               for b in (between.args["low"], between.args["high"])):
            return (dt.date.fromisoformat(between.args["low"].this.name),
                    dt.date.fromisoformat(between.args["high"].this.name))
    return None


def test_one_scan_per_data_source_for_every_period_and_both_bases():
    tree, p = _query()
    assert {t.window.period for t in p.tasks} == {"daily", "weekly", "overall",
                                                 "preenrollment_weekly", "preenrollment_days28"}
    assert {t.basis for t in p.tasks} == {"enrollments", "exposures"}
    scans = _scans(tree)
    assert {name: len(selects) for name, selects in scans.items()} == {
        "clients_daily": 1, "events": 1}  # metrics + segment in one scan; exposures once
    # the aggregates a unit without rows gets come from a read of nothing
    assert {n: len(s) for n, s in _scans(tree, empty=True).items()} == {"clients_daily": 1}


def test_every_scan_has_a_constant_partition_range():
    for custom in (False, True):
        tree, p = _query(custom)
        for name, selects in _scans(tree).items():
            for select in selects:
                assert _date_range(select) is not None, (name, select.sql("bigquery")[:200])
    tree, p = _query()
    (select,) = _scans(tree)["clients_daily"]
    # pre-enrollment 28 days before the first enrollment .. the overall window's last day
    assert _date_range(select) == (mt.START - dt.timedelta(days=28), mt.END)


def test_a_daily_run_reads_only_the_days_of_its_new_windows():
    day = dt.date(2024, 3, 11)  # last enrollment 03-05: daily 7 (day 6) and weekly 1 complete
    p = plan(mt.make_spec(), day)
    new = p.new_tasks(done={(t.window.period, t.window.number) for t in p.tasks})
    assert {(t.window.period, t.window.number) for t in new} == {("daily", 7), ("weekly", 1)}
    tree = client_windows_query(p.spec, new, p.timeline, enrollments_table(mt.SLUG))
    (select,) = _scans(tree)["clients_daily"]
    # segments: days -3..0; weekly 1: days 0..6, of clients enrolled 2024-03-01..05
    assert _date_range(select) == (mt.START - dt.timedelta(days=3), day)
    weeks_later = plan(mt.make_spec(), day + dt.timedelta(days=13))
    new = weeks_later.new_tasks(done={(t.window.period, t.window.number) for t in weeks_later.tasks})
    assert {(t.window.period, t.window.number) for t in new} == {("daily", 20)}
    tree = client_windows_query(p.spec, new, p.timeline, enrollments_table(mt.SLUG))
    # day 19 is weeks after the segment's days: two scans, each of its own days only
    assert sorted(_date_range(s) for s in _scans(tree)["clients_daily"]) == [
        (mt.START - dt.timedelta(days=3), dt.date(2024, 3, 5)),
        (dt.date(2024, 3, 20), dt.date(2024, 3, 24))]


def test_windows_by_day_arithmetic_not_date_range_joins():
    tree, _ = _query()
    (select,) = _scans(tree)["clients_daily"]
    for join in select.args.get("joins", []):
        on = join.args.get("on")
        assert on is None or not list(on.find_all(exp.Between)), join.sql("bigquery")
    assert any(isinstance(d.this, exp.DateDiff) for d in tree.find_all(exp.IntDiv))
    assert "DIV(DATE_DIFF(ds.submission_date, _e_en.enrollment_date, DAY), 7)" in tree.sql("bigquery")
