"""Ground truth: per-client tables from SQL on DuckDB equal the Python truth, window by window."""
import datetime as dt

import minitelemetry as mt
import pandas as pd
import pytest

from engine.backends.duckdb import DuckDBBackend
from engine.run.client_metrics import compute_client_metrics
from engine.sql.metrics import covariate_rows, window_relation

COLUMNS = ["branch", "enrollment_date", "num_enrollment_events", "exposure_date",
           "num_exposure_events", "us_users", "active_hours", "days_of_use", "max_uri"]


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    world = mt.make_world()
    path = tmp_path_factory.mktemp("tele") / "tele.duckdb"
    mt.write_world(world, path)
    return world, path


def _as_python(value):
    if value is None or value is pd.NaT or (isinstance(value, float) and value != value):
        return None
    if isinstance(value, pd.Timestamp):
        return value.date()
    return value.item() if hasattr(value, "item") else value


def _enrolled(backend: DuckDBBackend) -> int:
    return int(backend.query("SELECT COUNT(*) AS n FROM enrollments_mini_exp")["n"].iloc[0])


@pytest.mark.parametrize("rows_per_statement", [None, 1.0, 4.0, 0.3],
                         ids=["one-statement", "1-window", "4-windows", "client-ranges"])
@pytest.mark.parametrize("custom", [False, True], ids=["default", "custom-enrollment-exposure"])
def test_every_window_matches_python_truth(world, custom, rows_per_statement, tmp_path):
    """Whether the table is one statement or pieces (as a memory-bounded backend builds it:
    1 or 4 windows, or one window for each range of a third of the clients), every window
    holds the truth."""
    data, path = world
    backend = DuckDBBackend(path, tmp_path / "results.duckdb")
    if rows_per_statement:  # in enrolled clients' rows
        compute_client_metrics(mt.make_spec(custom), backend, mt.END)
        backend.rows_per_statement = int(rows_per_statement * _enrolled(backend))
    tables = compute_client_metrics(mt.make_spec(custom), backend, mt.END)
    periods = {t.period for t in tables}
    assert periods == {"daily", "weekly", "overall", "preenrollment_weekly", "preenrollment_days28"}
    assert len([t for t in tables if t.period == "daily"]) == 2 * 25  # days 0..24, both bases
    assert {t.basis for t in tables if t.window.is_preenrollment} == {"enrollments"}
    checked = 0
    for table in tables:
        frame = backend.query(table.rows_query())
        got = {row["client_id"]: {c: _as_python(row[c]) for c in COLUMNS}
               for row in frame.to_dict("records")}
        expected = mt.truth_table(data, table.window, table.basis, custom)
        assert got == expected, table.table
        assert table.rows == len(expected)
        checked += len(expected)
    assert checked > 1000


def test_rerun_replaces_tables(world, tmp_path):
    _, path = world
    backend = DuckDBBackend(path, tmp_path / "results.duckdb")
    spec = mt.make_spec()
    first = compute_client_metrics(spec, backend, dt.date(2024, 3, 12))
    again = compute_client_metrics(spec, backend, dt.date(2024, 3, 12))
    assert first == again
    assert backend.list_tables("client_windows_") == ["client_windows_mini_exp"]
    weekly = next(t for t in again if t.period == "weekly" and t.basis == "enrollments")
    assert len(backend.query(weekly.rows_query())) == weekly.rows > 0


def _table(backend: DuckDBBackend) -> pd.DataFrame:
    return backend.query("SELECT * FROM client_windows_mini_exp "
                         "ORDER BY period, window_index, client_id")


def test_a_daily_run_in_pieces_keeps_the_carried_rows(world, tmp_path):
    """A daily run built in pieces reads the previous table's pre-enrollment rows (which it
    does not compute) before replacing it: its table holds a full run's rows of every window
    it lists, new and carried."""
    _, path = world
    spec, day = mt.make_spec(), dt.date(2024, 3, 12)
    full = DuckDBBackend(path, tmp_path / "full.duckdb")
    compute_client_metrics(spec, full, day)
    daily = DuckDBBackend(path, tmp_path / "daily.duckdb")
    before = compute_client_metrics(spec, daily, day - dt.timedelta(days=1))
    daily.rows_per_statement = _enrolled(daily)  # one window per piece
    tables = compute_client_metrics(spec, daily, day,
                                    done={(t.window.period, t.window.number) for t in before})
    assert any(t.carried for t in tables) and any(not t.carried for t in tables)
    listed = {(t.window.period, t.window.number) for t in tables}
    expected = _table(full)
    expected = expected[[k in listed for k in zip(expected["period"], expected["window_index"])]]
    got = _table(daily)
    assert len(got) == sum(t.rows for t in tables if t.basis == "enrollments") > 0
    pd.testing.assert_frame_equal(got, expected.reset_index(drop=True))


def test_covariates_join_each_window_to_its_units_pre_enrollment_values(world, tmp_path):
    """The covariate table (a row per unit) joined to a window gives each of its units the
    pre-enrollment values of that same unit, from both pre-enrollment periods."""
    data, path = world
    backend = DuckDBBackend(path, tmp_path / "results.duckdb")
    tables = compute_client_metrics(mt.make_spec(), backend, mt.END)
    pre = {t.period: t.window for t in tables if t.window.is_preenrollment}
    wanted = [(f"{metric}__{period}", pre[period], metric)
              for period in ("preenrollment_weekly", "preenrollment_days28")
              for metric in ("active_hours", "days_of_use")]
    backend.materialize("covariates", covariate_rows(tables[0].table, wanted))
    weekly = next(t for t in tables if t.period == "weekly" and t.basis == "exposures")
    frame = backend.query(window_relation(weekly.table, weekly.window, weekly.basis,
                                          [alias for alias, _, _ in wanted], "covariates"))
    truth = {p: mt.truth_table(data, w, "enrollments", False) for p, w in pre.items()}
    assert len(frame) == weekly.rows > 0
    for row in frame.to_dict("records"):
        for alias, win, metric in wanted:
            expected = truth[win.period].get(row["client_id"], {}).get(metric)
            assert _as_python(row[alias]) == expected, (row["client_id"], alias)
    assert frame[wanted[0][0]].notna().sum() > len(frame) / 2  # most units have one
