"""Window semantics on hand-worked calendars."""
import datetime as dt

import pytest

from engine.config.spec import AnalysisSpec, Branch, DataSource, ExperimentSpec, Metric
from engine.plan.analysis_plan import plan
from engine.plan.windows import (
    Timeline,
    Window,
    is_ready,
    ready_windows,
    timeline_of,
    window,
)

D = dt.date


def experiment(start=D(2024, 3, 1), period=7, end=D(2024, 4, 1)):
    return ExperimentSpec(
        slug="my-exp", normandy_slug="my-exp", app_name="firefox_desktop", app_id=None,
        start_date=start, end_date=end, enrollment_period=period, reference_branch="control",
        branches=(Branch("control"), Branch("treatment")),
    )


# Enrollment Mar 1..Mar 7 (7 days), experiment ends Apr 1.
TL = Timeline(D(2024, 3, 1), D(2024, 3, 7), D(2024, 4, 1))


def test_window_day_ranges():
    assert window("daily", 3) == Window("daily", 3, 3, 3)
    assert window("weekly", 0) == Window("weekly", 0, 0, 6)
    assert window("weekly", 2) == Window("weekly", 2, 14, 20)
    assert window("days28", 1) == Window("days28", 1, 28, 55)
    assert window("28_day", 0) == Window("days28", 0, 0, 27)
    assert window("preenrollment_weekly") == Window("preenrollment_weekly", 0, -7, -1)
    assert window("preenrollment_days28") == Window("preenrollment_days28", 0, -28, -1)
    # overall: Apr 1 - Mar 7 = 25 days -> days 0..25 inclusive (26 days for the last enrollee)
    assert window("overall", 0, TL) == Window("overall", 0, 0, 25)
    assert window("weekly", 2).number == 3


def test_unknown_period_and_overall_without_end():
    with pytest.raises(ValueError):
        window("monthly")
    with pytest.raises(ValueError):
        window("overall", 0, Timeline(D(2024, 3, 1), D(2024, 3, 7), None))


def test_last_enrollment_day_and_staggered_clients():
    # The client enrolled on Mar 7 (last day) has its week 0 on Mar 7..Mar 13;
    # week 0 is ready on Mar 13, not Mar 12, although the Mar 1 enrollee finished on Mar 7.
    week0 = window("weekly", 0)
    assert not is_ready(week0, TL, D(2024, 3, 12))
    assert is_ready(week0, TL, D(2024, 3, 13))
    assert ready_windows("weekly", TL, D(2024, 3, 12)) == ()
    assert [w.index for w in ready_windows("weekly", TL, D(2024, 3, 20))] == [0, 1]


def test_daily_windows_grow_one_per_day_after_enrollment_closes():
    assert ready_windows("daily", TL, D(2024, 3, 6)) == ()  # enrollment still open
    assert [w.index for w in ready_windows("daily", TL, D(2024, 3, 7))] == [0]
    assert [w.index for w in ready_windows("daily", TL, D(2024, 3, 9))] == [0, 1, 2]


def test_windows_stop_at_experiment_end():
    # 25 days after the last enrollment day: days 0..25 fit, week 3 (21..27) does not.
    late = D(2024, 6, 1)
    assert [w.index for w in ready_windows("weekly", TL, late)] == [0, 1, 2]
    assert len(ready_windows("daily", TL, late)) == 26
    assert ready_windows("days28", TL, late) == ()


def test_overall_ready_only_at_end():
    assert ready_windows("overall", TL, D(2024, 3, 31)) == ()
    assert ready_windows("overall", TL, D(2024, 4, 1)) == (Window("overall", 0, 0, 25),)
    running = Timeline(D(2024, 3, 1), D(2024, 3, 7), None)
    assert ready_windows("overall", running, D(2025, 1, 1)) == ()


def test_preenrollment_ready_when_enrollment_closes():
    assert ready_windows("preenrollment_weekly", TL, D(2024, 3, 6)) == ()
    assert ready_windows("preenrollment_days28", TL, D(2024, 3, 7)) == (
        Window("preenrollment_days28", 0, -28, -1),
    )


def test_timeline_from_the_specs_final_dates():
    assert timeline_of(experiment(period=3)) == Timeline(D(2024, 3, 1), D(2024, 3, 3), D(2024, 4, 1))
    assert timeline_of(experiment(period=None)) is None


def test_plan_crosses_periods_windows_bases():
    ds = DataSource("clients_daily", "telemetry.clients_daily")
    both = Metric("active_hours", "SUM(active_hours_sum)", ds)
    enrol_only = Metric("uri", "SUM(uri)", ds, analysis_bases=("enrollments",))
    derived = Metric("ratio", None, None, depends_on=("active_hours", "uri"))
    spec = AnalysisSpec(experiment(), "firefox_desktop",
                        metrics={"weekly": (both, enrol_only, derived), "overall": (both,)})
    p = plan(spec, D(2024, 3, 20))
    names = [(t.window.period, t.window.number, t.basis) for t in p.tasks]
    assert names == [("weekly", 1, "enrollments"), ("weekly", 1, "exposures"),
                     ("weekly", 2, "enrollments"), ("weekly", 2, "exposures")]
    assert [m.name for m in p.tasks[0].metrics] == ["active_hours", "uri"]
    assert [m.name for m in p.tasks[1].metrics] == ["active_hours"]
    assert p.segments == ("all",)
    assert len(plan(spec, D(2024, 4, 1)).tasks_for("overall")) == 2
    assert plan(spec, D(2024, 3, 5)).tasks == ()
