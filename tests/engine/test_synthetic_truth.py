"""Ground truth on the synthetic telemetry: our definitions, resolved from the repository, run on
DuckDB and equal the generator's Python truth for every ready window and both bases."""
import datetime as dt
from pathlib import Path

import pandas as pd
import pytest

from engine.backends.duckdb import DuckDBBackend
from engine.config.resolve.platforms import resolve_experiment
from engine.experimenter import parse_registry
from engine.run.client_metrics import compute_client_metrics
from engine.synthetic.world import generate

ROOT = Path(__file__).resolve().parents[2]
SLUG = "desktop-newtab-layout"


@pytest.fixture(scope="module")
def computed(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("synth")
    world = generate(tmp / "tele.duckdb", clients=1500, days=40, seed=3)
    registry = parse_registry(list(world.registry))
    spec, findings = resolve_experiment(ROOT, SLUG, registry=registry)
    assert spec is not None, findings
    date = spec.experiment.last_enrollment_date + dt.timedelta(days=7)
    backend = DuckDBBackend(tmp / "tele.duckdb", tmp / "results.duckdb")
    tables = compute_client_metrics(spec, backend, date)
    return world, backend, tables


def _truth(world, window, basis):
    enrolled = world.enrollments[SLUG].set_index("client_id")
    daily = world.daily("telemetry.clients_daily")
    daily = daily[daily["client_id"].isin(enrolled.index)].copy()
    daily["enrolled"] = daily["client_id"].map(enrolled["enrollment_date"])
    offset = (pd.to_datetime(daily["submission_date"]) - pd.to_datetime(daily["enrolled"])).dt.days
    tagged = daily["experiments"].map(lambda pairs: any(p["key"] == SLUG for p in pairs))
    rows = daily[(offset >= window.start) & (offset <= window.end) & (tagged | (window.start < 0))]
    per = rows.groupby("client_id").agg(active_hours=("active_hours_sum", "sum"),
                                        days_of_use=("submission_date", "nunique"))
    truth = enrolled[["branch"]].join(per).fillna({"active_hours": 0.0, "days_of_use": 0})
    if basis == "exposures":
        exposed = pd.to_datetime(enrolled["exposure_date"])
        lag = (exposed - pd.to_datetime(enrolled["enrollment_date"])).dt.days
        truth = truth[exposed.notna() & (lag >= 0) & (lag <= window.end)]
    truth["us_users"] = truth.index.isin(world.segments[SLUG]["us_users"])
    return truth.sort_index()


def test_every_ready_window_matches_generator_truth(computed):
    world, backend, tables = computed
    assert {t.period for t in tables} >= {"daily", "weekly", "preenrollment_weekly"}
    assert {t.basis for t in tables} == {"enrollments", "exposures"}
    checked_days = set()
    for table in tables:
        got = backend.query(table.rows_query()).set_index("client_id").sort_index()
        want = _truth(world, table.window, table.basis)
        assert list(got.index) == list(want.index), table.table
        assert (got["branch"] == want["branch"]).all(), table.table
        assert (got["us_users"] == want["us_users"]).all(), table.table
        assert "active_hours" in table.metrics
        # float sums in a different order: equal to the last few ulps
        assert got["active_hours"].to_numpy() == pytest.approx(want["active_hours"].to_numpy(), rel=1e-12)
        if "days_of_use" in table.metrics:
            checked_days.add(table.period)
            assert (got["days_of_use"].astype(int) == want["days_of_use"].astype(int)).all(), table.table
    assert checked_days
