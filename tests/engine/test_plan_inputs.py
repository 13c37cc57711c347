"""Metrics computed from others (population_ratio, depends_on) get their inputs in the same
per-client table, even when the period does not list those inputs."""
import dataclasses

import minitelemetry as mt

from engine.backends.duckdb import DuckDBBackend
from engine.config.spec import Metric, StatisticSpec
from engine.plan.analysis_plan import metrics_for_basis, plan
from engine.run.client_metrics import compute_client_metrics

HOURS, DAYS, MAX_URI = mt.METRICS
RATIO = Metric("hours_per_day", None, None, statistics=(StatisticSpec(
    "population_ratio", {"numerator": "active_hours", "denominator": "days_of_use"}),))
DERIVED = Metric("uri_score", None, None, depends_on=("max_uri",))
DEFINITIONS = {m.name: m for m in (*mt.METRICS, RATIO, DERIVED)}


def test_inputs_come_from_the_definitions_transitively_once():
    chained = Metric("chained", None, None, depends_on=("uri_score", "active_hours"))
    definitions = {**DEFINITIONS, "chained": chained}
    chosen = metrics_for_basis((HOURS, chained, RATIO), "enrollments", definitions)
    assert [m.name for m in chosen] == ["active_hours", "days_of_use", "max_uri"]


def test_without_definitions_or_on_another_basis_nothing_is_added():
    assert metrics_for_basis((RATIO,), "enrollments") == ()
    enrollments_only = dataclasses.replace(RATIO, analysis_bases=("enrollments",))
    assert metrics_for_basis((enrollments_only,), "exposures", DEFINITIONS) == ()


def test_ratio_inputs_are_columns_of_the_period_table(tmp_path):
    world = mt.make_world()
    mt.write_world(world, tmp_path / "tele.duckdb")
    spec = dataclasses.replace(mt.make_spec(), metrics={"overall": (RATIO, DERIVED)},
                               metric_definitions=DEFINITIONS)
    assert [tuple(m.name for m in t.metrics) for t in plan(spec, mt.END).tasks] == [
        ("active_hours", "days_of_use", "max_uri")] * 2
    backend = DuckDBBackend(tmp_path / "tele.duckdb", tmp_path / "results.duckdb")
    tables = compute_client_metrics(spec, backend, mt.END)
    frame = backend.query(tables[0].rows_query()).set_index("client_id")
    truth = mt.truth_table(world, tables[0].window, "enrollments", False)
    assert {c: frame.loc[c, "days_of_use"] for c in truth} == {
        c: row["days_of_use"] for c, row in truth.items()}
    assert frame["active_hours"].sum() == sum(r["active_hours"] for r in truth.values())
