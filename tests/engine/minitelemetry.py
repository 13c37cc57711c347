"""A small hand-built telemetry DuckDB file and its per-client truth computed in plain Python.

Independent of the SQL builders: the truth below re-states the semantics of
`docs/engine-semantics.md` with loops over the same rows that were written to DuckDB.
"""
from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass, field

import duckdb
import pandas as pd

from engine.config.spec import (
    AnalysisSpec,
    Branch,
    DataSource,
    ExperimentSpec,
    ExposureSignal,
    Metric,
    Segment,
    SegmentDataSource,
)
from engine.plan.windows import Timeline, Window

SLUG = "mini-exp"
START = dt.date(2024, 3, 1)
PERIOD = 5
END = dt.date(2024, 3, 29)
TIMELINE = Timeline(START, START + dt.timedelta(days=PERIOD - 1), END)
DAY = dt.timedelta(days=1)


@dataclass
class World:
    enroll_events: list[tuple[str, str, dt.date]] = field(default_factory=list)  # client, branch, date
    expose_events: list[tuple[str, dt.date]] = field(default_factory=list)
    assignments: list[tuple[str, str, dt.date]] = field(default_factory=list)  # custom enrollment
    daily: list[dict] = field(default_factory=list)


def make_world(seed: int = 7, clients: int = 70) -> World:
    rng = random.Random(seed)
    world = World()
    for i in range(clients):
        cid = f"c{i:03d}"
        branch = rng.choice(["control", "treatment"])
        enrolled = START + dt.timedelta(days=rng.randint(-2, PERIOD + 1))
        if i % 10 != 9:  # 10% never enroll
            world.enroll_events.append((cid, branch, enrolled))
            if i % 7 == 0:  # a repeated enrollment event, later
                world.enroll_events.append((cid, branch, enrolled + 2 * DAY))
            if i % 13 == 0:  # seen in both branches: dropped
                world.enroll_events.append((cid, "treatment" if branch == "control" else "control",
                                            enrolled + DAY))
        if i % 3 != 0:
            world.expose_events.append((cid, enrolled + dt.timedelta(days=rng.randint(-1, 20))))
        if i % 4 != 0:
            world.assignments.append((cid, branch, START + dt.timedelta(days=rng.randint(0, 6))))
        country = rng.choice(["US", "DE", "FR"])
        day = START - dt.timedelta(days=35)
        while day <= END + 5 * DAY:
            if rng.random() < 0.7:
                tagged = day >= enrolled and rng.random() < 0.9
                experiments = [("other-exp", "x")] + ([(SLUG, branch)] if tagged else [])
                world.daily.append(dict(
                    client_id=cid, submission_date=day, active_hours_sum=rng.randint(0, 16) / 4,
                    uri_count=rng.randint(0, 50), country=country if rng.random() < 0.8 else "US",
                    feature_used=rng.random() < 0.2, experiments=experiments))
            day += DAY
    return world


def write_world(world: World, path) -> None:
    events = pd.DataFrame(
        [(c, d, "normandy", "enroll", SLUG, [{"key": "branch", "value": b}])
         for c, b, d in world.enroll_events]
        + [(c, d, "normandy", "expose", SLUG, [{"key": "branch", "value": "?"}])
           for c, d in world.expose_events],
        columns=["client_id", "submission_date", "event_category", "event_method",
                 "event_string_value", "event_map_values"])
    daily = pd.DataFrame(world.daily)
    daily["experiments"] = [[{"key": k, "value": v} for k, v in pairs] for pairs in daily["experiments"]]
    assignments = pd.DataFrame(world.assignments, columns=["client_id", "branch", "enrollment_date"])
    con = duckdb.connect(str(path))
    con.execute("CREATE SCHEMA telemetry; CREATE SCHEMA mydata")
    con.execute("""CREATE TABLE telemetry.events AS SELECT client_id,
        CAST(submission_date AS DATE) AS submission_date, event_category, event_method,
        event_string_value, CAST(event_map_values AS STRUCT(key VARCHAR, value VARCHAR)[])
        AS event_map_values FROM events""")
    con.execute("""CREATE TABLE telemetry.clients_daily AS SELECT client_id,
        CAST(submission_date AS DATE) AS submission_date, active_hours_sum, uri_count, country,
        feature_used, CAST(experiments AS STRUCT(key VARCHAR, value VARCHAR)[]) AS experiments
        FROM daily""")
    con.execute("""CREATE TABLE mydata.assignments AS SELECT client_id, branch,
        CAST(enrollment_date AS DATE) AS enrollment_date FROM assignments""")
    con.close()


CLIENTS_DAILY = DataSource("clients_daily", "`moz-fx-data-shared-prod.telemetry.clients_daily`")
METRICS = (
    Metric("active_hours", "COALESCE(SUM(active_hours_sum), 0)", CLIENTS_DAILY),
    Metric("days_of_use", "COUNT(DISTINCT submission_date)", CLIENTS_DAILY),
    Metric("max_uri", "MAX(uri_count)", CLIENTS_DAILY),
)
US_SEGMENT = Segment("us_users", "COALESCE(LOGICAL_OR(country = 'US'), FALSE)", SegmentDataSource(
    "clients_daily_seg", "moz-fx-data-shared-prod.telemetry.clients_daily", -3, 0))
FEATURE_SIGNAL = ExposureSignal("feature", "feature_used", CLIENTS_DAILY, 1, "analysis_window_end")
CUSTOM_ENROLLMENT = "SELECT client_id, branch, enrollment_date FROM `moz-fx-data-shared-prod.mydata.assignments`"


def make_spec(custom: bool = False) -> AnalysisSpec:
    experiment = ExperimentSpec(
        slug=SLUG, normandy_slug=SLUG, app_name="firefox_desktop", app_id=None,
        start_date=START, end_date=END, enrollment_period=PERIOD, reference_branch="control",
        branches=(Branch("control"), Branch("treatment")),
        enrollment_query=CUSTOM_ENROLLMENT if custom else None,
        exposure_signal=FEATURE_SIGNAL if custom else None)
    periods = ("daily", "weekly", "days28", "overall", "preenrollment_weekly", "preenrollment_days28")
    return AnalysisSpec(experiment, "firefox_desktop", metrics={p: METRICS for p in periods},
                        segments=(US_SEGMENT,))


def truth_enrollments(world: World, custom: bool) -> dict[str, tuple[str, dt.date, int]]:
    rows = world.assignments if custom else world.enroll_events
    per: dict[str, list[tuple[str, dt.date]]] = {}
    for cid, branch, day in rows:
        if TIMELINE.start_date <= day <= TIMELINE.last_enrollment_date:
            per.setdefault(cid, []).append((branch, day))
    return {cid: (evs[0][0], min(d for _, d in evs), len(evs))
            for cid, evs in per.items() if len({b for b, _ in evs}) == 1}


def truth_table(world: World, win: Window, basis: str, custom: bool) -> dict[str, dict]:
    """client_id -> expected row of the per-client table."""
    out = {}
    by_client: dict[str, list[dict]] = {}
    for r in world.daily:
        by_client.setdefault(r["client_id"], []).append(r)
    for cid, (branch, enrolled, n) in truth_enrollments(world, custom).items():
        mine = by_client.get(cid, [])
        if custom:
            lo, hi = enrolled + DAY, enrolled + dt.timedelta(days=win.end)
            exposures = [r["submission_date"] for r in mine if r["feature_used"] and lo <= r["submission_date"] <= hi
                         and START + DAY <= r["submission_date"] <= TIMELINE.last_enrollment_date + dt.timedelta(days=win.end)]
        else:
            lo, hi = enrolled, enrolled + dt.timedelta(days=win.end)
            exposures = [d for c, d in world.expose_events if c == cid and lo <= d <= hi
                         and START <= d <= TIMELINE.last_enrollment_date + dt.timedelta(days=win.end)]
        if basis == "exposures" and not exposures:
            continue
        first, last = enrolled + dt.timedelta(days=win.start), enrolled + dt.timedelta(days=win.end)
        rows = [r for r in mine if first <= r["submission_date"] <= last
                and (win.start < 0 or any(k == SLUG for k, _ in r["experiments"]))]
        seg_rows = [r for r in mine if enrolled - 3 * DAY <= r["submission_date"] <= enrolled]
        out[cid] = dict(
            branch=branch, enrollment_date=enrolled, num_enrollment_events=n,
            exposure_date=min(exposures) if exposures else None,
            num_exposure_events=len(exposures),
            us_users=any(r["country"] == "US" for r in seg_rows),
            active_hours=sum(r["active_hours_sum"] for r in rows),
            days_of_use=len({r["submission_date"] for r in rows}),
            max_uri=max((r["uri_count"] for r in rows), default=None),
        )
    return out
