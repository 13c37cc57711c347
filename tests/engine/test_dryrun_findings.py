"""Dry runs map binder errors back to the metric / segment / signal and its config line."""
import dataclasses

import minitelemetry as mt
import pytest

from engine.backends.duckdb import DuckDBBackend
from engine.check.dry_run import dry_run_experiment
from engine.config.spec import DataSource, Metric, Source


@pytest.fixture(scope="module")
def backend(tmp_path_factory):
    path = tmp_path_factory.mktemp("dry") / "tele.duckdb"
    mt.write_world(mt.make_world(clients=5), path)
    b = DuckDBBackend(path)
    yield b
    b.close()


def _with_metrics(spec, *extra):
    return dataclasses.replace(spec, metrics={"weekly": mt.METRICS + extra})


def test_clean_spec_has_no_findings(backend):
    assert dry_run_experiment(mt.make_spec(), backend) == []
    assert dry_run_experiment(mt.make_spec(custom=True), backend) == []


def test_unknown_column_table_and_function_point_at_their_metric(backend):
    where = Source("outcomes/firefox_desktop/x.toml", 12)
    bad_column = Metric("bad_col", "SUM(no_such_column)", mt.CLIENTS_DAILY, source=where)
    bad_table = Metric("bad_table", "COUNT(*)", DataSource("ghost", "`p.telemetry.ghost`",
                       source=Source("engine/definitions/firefox_desktop.toml", 40)))
    bad_function = Metric("bad_fn", "SUM(mozfun.map.no_such_udf(experiments))", mt.CLIENTS_DAILY,
                          source=Source("experiments/mini-exp.toml", 7))
    findings = dry_run_experiment(_with_metrics(mt.make_spec(), bad_column, bad_table, bad_function), backend)
    by_place = {(f.path, f.line): f for f in findings}
    assert set(by_place) == {("outcomes/firefox_desktop/x.toml", 12),
                             ("engine/definitions/firefox_desktop.toml", 40),
                             ("experiments/mini-exp.toml", 7)}
    assert "no_such_column" in by_place[("outcomes/firefox_desktop/x.toml", 12)].message
    assert by_place[("engine/definitions/firefox_desktop.toml", 40)].code == "sql-unknown-name"
    assert "bad_fn" in by_place[("experiments/mini-exp.toml", 7)].message
    assert all(f.is_error for f in findings)


def test_bad_segment_and_enrollment_query(backend):
    spec = mt.make_spec()
    segment = dataclasses.replace(mt.US_SEGMENT, select_expression="LOGICAL_OR(nope = 'US')",
                                  source=Source("engine/definitions/firefox_desktop.toml", 99))
    (finding,) = dry_run_experiment(dataclasses.replace(spec, segments=(segment,)), backend)
    assert (finding.path, finding.line) == ("engine/definitions/firefox_desktop.toml", 99)
    assert finding.message.startswith("segment us_users")
    broken = dataclasses.replace(spec, config_path="experiments/mini-exp.toml", experiment=dataclasses.replace(
        spec.experiment, enrollment_query="SELECT client_id, branch FROM `p.mydata.assignments`"))
    (finding,) = dry_run_experiment(broken, backend)
    assert finding.path == "experiments/mini-exp.toml"
    assert "enrollment" in finding.message
