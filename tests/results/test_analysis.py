"""One experiment end to end on a small telemetry file: tables, export, reruns, failures."""
from __future__ import annotations

import dataclasses
import datetime as dt
import json
import shutil
from pathlib import Path

import jsonschema
import pytest

from engine.backends.duckdb import DuckDBBackend
from engine.config.spec import Metric, StatisticSpec
from engine.results.export import DirectorySink
from engine.run.experiment import analyse_experiment, check_runnable
from tests.engine import minitelemetry as mt
from tests.snapshots import assert_same_snapshot
from tests.snapshots import snapshot as take_snapshot

SCHEMAS = Path(__file__).resolve().parents[2] / "schemas" / "results"
MEAN = StatisticSpec("bootstrap_mean", {"num_samples": 200})
PERIODS = ("weekly", "overall", "preenrollment_weekly")


def _metric(metric: Metric, *stats: StatisticSpec) -> Metric:
    return dataclasses.replace(metric, statistics=stats)


def make_spec(**experiment_changes):
    hours, days, max_uri = mt.METRICS
    metrics = (_metric(hours, MEAN, StatisticSpec("deciles")),
               _metric(days, MEAN, StatisticSpec("linear_model_mean", {
                   "covariate_adjustment": {"period": "preenrollment_weekly"}})),
               _metric(max_uri, StatisticSpec("count")))
    spec = mt.make_spec()
    experiment = dataclasses.replace(spec.experiment, **experiment_changes)
    return dataclasses.replace(spec, experiment=experiment,
                               metrics={p: metrics for p in PERIODS})


@pytest.fixture(scope="module")
def telemetry(tmp_path_factory):
    path = tmp_path_factory.mktemp("tele") / "tele.duckdb"
    mt.write_world(mt.make_world(), path)
    return path


@pytest.fixture(scope="module")
def analysed(telemetry, tmp_path_factory):
    """One complete analysis at the end date; tests work on copies of its files."""
    base = tmp_path_factory.mktemp("analysed")
    backend, outcome = run(telemetry, base, make_spec())
    backend.close()
    return base, outcome


@pytest.fixture
def copy(analysed, telemetry, tmp_path):
    base, _ = analysed
    shutil.copy(base / "results.duckdb", tmp_path / "results.duckdb")
    shutil.copytree(base / "out", tmp_path / "out")
    backend = DuckDBBackend(telemetry, tmp_path / "results.duckdb")
    yield backend
    backend.close()


def snapshot(backend, out: Path) -> dict:
    return take_snapshot(backend, out, "statistics_")


def run(telemetry, tmp_path, spec, date=mt.END, backend=None):
    backend = backend or DuckDBBackend(telemetry, tmp_path / "results.duckdb")
    return backend, analyse_experiment(spec, backend, date, DirectorySink(tmp_path / "out"))


def test_analysis_writes_tables_and_valid_export(analysed, copy):
    base, outcome = analysed
    assert outcome.status == "ok", outcome.errors
    assert outcome.windows == 5  # weekly 1-3, overall, preenrollment_weekly
    out = base / "out"
    assert sorted(p.name for p in out.iterdir()) == [
        "errors_mini-exp.json", "metadata_mini-exp.json",
        "statistics_mini-exp_overall.json", "statistics_mini-exp_preenrollment_weekly.json",
        "statistics_mini-exp_weekly.json"]
    for kind, name in (("statistics", "statistics_mini-exp_weekly.json"),
                       ("metadata", "metadata_mini-exp.json"), ("errors", "errors_mini-exp.json")):
        schema = json.loads((SCHEMAS / f"{kind}.json").read_text())
        jsonschema.validate(json.loads((out / name).read_text()), schema)
    weekly = json.loads((out / "statistics_mini-exp_weekly.json").read_text())
    assert sorted({r["window_index"] for r in weekly}) == ["1", "2", "3"]
    assert {r["segment"] for r in weekly} == {"all", "us_users"}
    assert {r["statistic"] for r in weekly} == {"bootstrap_mean", "deciles", "linear_model_mean",
                                                "count"}
    assert any(r["p_value_holm"] is not None for r in weekly)
    assert copy.table_exists("statistics_mini_exp_weekly_3")
    assert len(copy.query("SELECT * FROM statistics_mini_exp_weekly")) == len(weekly)
    meta = json.loads((out / "metadata_mini-exp.json").read_text())
    counts = meta["enrollment"]["enrollments"]
    assert sum(counts.values()) == len(mt.truth_enrollments(mt.make_world(), False))
    assert meta["sample_ratio"]["enrollments"]["mismatch"] is False


def test_rerun_same_date_is_identical(telemetry, copy, tmp_path):
    first = snapshot(copy, tmp_path / "out")
    _, again = run(telemetry, tmp_path, make_spec(), backend=copy)
    assert again.status == "ok"
    assert_same_snapshot(first, snapshot(copy, tmp_path / "out"))


def test_interrupted_run_leaves_previous_results(copy, tmp_path):
    before = snapshot(copy, tmp_path / "out")

    class Killed(BaseException):
        pass

    writes = []
    original = copy.write_table

    def dying_write(name, frame):
        if name.startswith("statistics_"):
            writes.append(name)
            if len(writes) == 3:
                raise Killed()
        original(name, frame)

    copy.write_table = dying_write
    changed_spec = make_spec()  # other bootstrap replicates: every number differs
    changed_spec = dataclasses.replace(changed_spec, metrics={p: tuple(
        dataclasses.replace(m, statistics=tuple(
            dataclasses.replace(s, params={"num_samples": 300}) if s.name == "bootstrap_mean"
            else s for s in m.statistics)) for m in ms) for p, ms in changed_spec.metrics.items()})
    with pytest.raises(Killed):
        analyse_experiment(changed_spec, copy, mt.END, DirectorySink(tmp_path / "out"))
    after = snapshot(copy, tmp_path / "out")
    assert after["files"] == before["files"]
    changed = {t for t in after["tables"] if not after["tables"][t].equals(before["tables"][t])}
    assert changed == set(writes[:2])  # the two windows written before the kill, replaced whole
    for table in changed:
        assert len(copy.query(f"SELECT * FROM {table}")) == len(before["tables"][table])


def test_failing_statistic_is_recorded_and_others_go_on(telemetry, tmp_path):
    hours = _metric(mt.METRICS[0], MEAN)
    broken = _metric(mt.METRICS[2], StatisticSpec("population_ratio", {
        "numerator": "nope", "denominator": "max_uri"}))
    spec = dataclasses.replace(make_spec(), metrics={"overall": (hours, broken)})
    _, outcome = run(telemetry, tmp_path, spec)
    assert outcome.status == "failed"
    errors = json.loads((tmp_path / "out" / "errors_mini-exp.json").read_text())
    assert len(errors) == 4  # 2 bases x 2 segments
    assert {(e["metric"], e["stage"], e["exception_type"]) for e in errors} == {
        ("max_uri", "statistics", "ValueError")}
    overall = json.loads((tmp_path / "out" / "statistics_mini-exp_overall.json").read_text())
    assert {r["metric"] for r in overall} == {"active_hours"}


def test_missing_dates_fail_without_touching_results(telemetry, tmp_path):
    _, outcome = run(telemetry, tmp_path, make_spec(start_date=None))
    assert outcome.status == "failed" and "start date" in outcome.reason
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["errors_mini-exp.json"]


@pytest.mark.parametrize("changes, date, status, words", [
    ({"skip": True}, mt.END, "skipped", "skip"),
    ({"is_rollout": True}, mt.END, "skipped", "rollout"),
    ({}, mt.START - dt.timedelta(days=1), "skipped", "not started"),
    ({}, mt.START + dt.timedelta(days=2), "skipped", "enrollment not complete"),
    ({"enrollment_period": None}, mt.END, "failed", "enrollment period"),
    ({}, mt.END + dt.timedelta(days=30), "run", "ended"),
])
def test_runnable_checks(changes, date, status, words):
    check = check_runnable(dataclasses.replace(make_spec().experiment, **changes), date)
    assert check.status == status and words in check.reason
    if status == "run":
        assert check.date == mt.END
