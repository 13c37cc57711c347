"""Daily runs compute only the windows that became complete that day and keep the others'
results; over the experiment's life they leave exactly the records a full recompute writes."""
from __future__ import annotations

import dataclasses
import datetime as dt
import json

import pytest

from engine.backends.duckdb import DuckDBBackend
from engine.config.spec import StatisticSpec
from engine.results.export import DirectorySink
from engine.results.tables import read_period_frame
from engine.run.experiment import analyse_experiment
from tests.engine import minitelemetry as mt
from tests.snapshots import assert_same, assert_same_frame, canonical_rows

PERIODS = ("daily", "weekly", "overall", "preenrollment_weekly")


def _spec():
    hours, days, max_uri = mt.METRICS
    with_stats = (
        dataclasses.replace(hours, statistics=(StatisticSpec("bootstrap_mean", {"num_samples": 100}),)),
        dataclasses.replace(days, statistics=(StatisticSpec("linear_model_mean", {
            "covariate_adjustment": {"period": "preenrollment_weekly"}}),)),  # carried covariates
        dataclasses.replace(max_uri, statistics=(StatisticSpec("count"),)))
    return dataclasses.replace(mt.make_spec(), metrics={p: with_stats for p in PERIODS})


def _records(backend, out):
    tables = {p: read_period_frame(backend, mt.SLUG, p) for p in PERIODS}
    tables = {p: canonical_rows(f) for p, f in tables.items()}
    files = {p.name: json.loads(p.read_text()) for p in sorted(out.glob("statistics_*.json"))}
    key = lambda r: json.dumps({k: v for k, v in r.items()  # noqa: E731
                                if not isinstance(v, float)}, sort_keys=True)
    return tables, {name: sorted(rows, key=key) for name, rows in files.items()}


@pytest.fixture(scope="module")
def telemetry(tmp_path_factory):
    path = tmp_path_factory.mktemp("tele") / "tele.duckdb"
    mt.write_world(mt.make_world(), path)
    return path


def test_daily_runs_over_the_life_equal_a_full_recompute(telemetry, tmp_path):
    spec = _spec()
    full = DuckDBBackend(telemetry, tmp_path / "full.duckdb")
    outcome = analyse_experiment(spec, full, mt.END, DirectorySink(tmp_path / "full"))
    assert outcome.status == "ok", outcome.errors
    daily = DuckDBBackend(telemetry, tmp_path / "daily.duckdb")
    computed = {}
    day = mt.TIMELINE.last_enrollment_date
    while day <= mt.END:
        outcome = analyse_experiment(spec, daily, day, DirectorySink(tmp_path / "daily"),
                                     recompute=False)
        assert outcome.status == "ok", (day, outcome.errors)
        computed[day] = outcome.windows
        day += dt.timedelta(days=1)
    first = mt.TIMELINE.last_enrollment_date
    assert computed[first] == 2  # daily 1 and the pre-enrollment week
    assert computed[first + dt.timedelta(days=1)] == 1  # daily 2 only
    assert computed[first + dt.timedelta(days=6)] == 2  # daily 7 and weekly 1
    assert computed[mt.END] == 2  # the last daily window and overall
    full_tables, full_files = _records(full, tmp_path / "full")
    daily_tables, daily_files = _records(daily, tmp_path / "daily")
    assert sum(len(f) for f in full_tables.values()) > 500
    for period in PERIODS:
        assert_same_frame(full_tables[period], daily_tables[period], name=period)
    assert_same(full_files, daily_files)
    # a rerun of a day replaces that day's windows, keeps the others and changes nothing
    again = analyse_experiment(spec, daily, mt.END, DirectorySink(tmp_path / "daily"),
                               recompute=False)
    assert again.windows == 2
    assert_same(_records(daily, tmp_path / "daily")[1], full_files)
    ended = analyse_experiment(spec, daily, mt.END + dt.timedelta(days=3), DirectorySink(
        tmp_path / "daily"), recompute=False)  # after the end: nothing new, results kept
    assert ended.status == "ok" and ended.windows == 0
    assert_same(_records(daily, tmp_path / "daily")[1], full_files)


def test_a_missed_day_is_caught_up_and_recompute_redoes_everything(telemetry, tmp_path):
    spec = _spec()
    backend = DuckDBBackend(telemetry, tmp_path / "results.duckdb")
    sink = DirectorySink(tmp_path / "out")
    first = mt.TIMELINE.last_enrollment_date
    assert analyse_experiment(spec, backend, first, sink, recompute=False).windows == 2
    later = first + dt.timedelta(days=3)  # two days missed: daily 2..4 computed now
    assert analyse_experiment(spec, backend, later, sink, recompute=False).windows == 3
    assert analyse_experiment(spec, backend, later, sink).windows == 5  # every ready window
