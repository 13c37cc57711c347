"""The synthetic world: deterministic, shaped like the tables our definitions read, with the
planted effects visible in its Python truth, and every SQL fragment of our own configs
executing against it on the DuckDB backend."""
from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest
import sqlglot
from sqlglot import exp

from engine.backends.duckdb import DuckDBBackend
from engine.config.repository import load_repository
from engine.config.resolve.experiment import resolve
from engine.experimenter import parse_registry
from engine.synthetic.design import DESIGNS
from engine.synthetic.world import SyntheticWorld, generate, simulate

ROOT = Path(__file__).resolve().parents[1]
START = dt.date(2024, 3, 1)


@pytest.fixture(scope="module")
def world_db(tmp_path_factory: pytest.TempPathFactory) -> tuple[SyntheticWorld, Path]:
    path = tmp_path_factory.mktemp("synth") / "telemetry.duckdb"
    return generate(path, clients=6000, days=45, seed=7, start_date=START), path


@pytest.fixture(scope="module")
def world(world_db: tuple[SyntheticWorld, Path]) -> SyntheticWorld:
    return world_db[0]


def _open(path: Path) -> duckdb.DuckDBPyConnection:
    """The file attached as `world` (a file named telemetry.duckdb would clash with the
    schema `telemetry` if opened directly)."""
    con = duckdb.connect()
    con.execute(f"ATTACH '{path}' AS world (READ_ONLY)")
    con.execute("USE world")
    return con


def test_same_seed_same_world_other_seed_other_world() -> None:
    a, b, c = simulate(500, 12, seed=1), simulate(500, 12, seed=1), simulate(500, 12, seed=2)
    assert a.tables.keys() == b.tables.keys()
    assert all(a.tables[k].equals(b.tables[k]) for k in a.tables)
    assert all(a.enrollments[s].equals(b.enrollments[s]) for s in a.enrollments)
    assert a.registry == b.registry
    assert not a.tables["telemetry.clients_daily"].equals(c.tables["telemetry.clients_daily"])


def test_rewriting_replaces_the_file(tmp_path: Path) -> None:
    path = tmp_path / "t.duckdb"
    generate(path, clients=400, days=10, seed=1)
    second = generate(path, clients=300, days=10, seed=1)
    con = _open(path)
    rows = con.execute("SELECT COUNT(*) FROM telemetry.clients_daily").fetchone()[0]
    con.close()
    assert rows == second.tables["telemetry.clients_daily"].num_rows


def test_duckdb_tables_hold_exactly_the_truth_rows(world_db: tuple[SyntheticWorld, Path]) -> None:
    world, path = world_db
    con = _open(path)
    listed = {f"{s}.{t}" for s, t in con.execute(
        "SELECT schema_name, table_name FROM duckdb_tables()").fetchall()}
    assert listed == set(world.tables)
    for name, table in world.tables.items():
        stored = con.sql(f"SELECT * FROM {name}").to_arrow_table()
        assert stored.num_rows == table.num_rows > 0, name
        assert stored.column_names == table.column_names, name
    daily = world.daily("telemetry.clients_daily")
    stored = con.execute("SELECT SUM(active_hours_sum), SUM(search_count_all) "
                         "FROM telemetry.clients_daily").fetchone()
    con.close()
    assert stored[0] == pytest.approx(daily["active_hours_sum"].sum())
    assert stored[1] == daily["search_count_all"].sum()


def test_enrollment_contract_columns(world_db: tuple[SyntheticWorld, Path]) -> None:
    _, path = world_db
    con = _open(path)

    def columns(table: str) -> dict[str, str]:
        return dict(con.execute(f"SELECT column_name, column_type FROM (DESCRIBE {table})").fetchall())

    events = columns("telemetry.events")
    assert events["submission_date"] == "DATE"
    assert events["event_map_values"] == 'STRUCT("key" VARCHAR, "value" VARCHAR)[]'
    for app in ("fenix", "firefox_ios"):
        stream = columns(f"{app}.events_stream")
        assert stream["submission_timestamp"] == "TIMESTAMP" and stream["event_extra"] == "VARCHAR"
    native = 'STRUCT("key" VARCHAR, "value" STRUCT(branch VARCHAR))[]'
    assert columns("fenix.metrics")["ping_info"] == f"STRUCT(experiments {native})"
    assert columns("telemetry.crash")["environment"] == f"STRUCT(experiments {native})"
    assert columns("telemetry.clients_daily")["experiments"] == events["event_map_values"]
    methods = dict(con.execute("SELECT event_method, COUNT(*) FROM telemetry.events "
                               "GROUP BY 1").fetchall())
    con.close()
    assert set(methods) == {"enroll", "expose", "unenroll"}


def test_registry_matches_designs_and_config_files(world: SyntheticWorld) -> None:
    configs = {p.stem for p in (ROOT / "experiments").glob("*.toml")}
    assert {r["slug"] for r in world.registry} == configs == {d.slug for d in DESIGNS}
    registry = parse_registry(json.loads(world.registry_json()))
    for record in world.registry:
        entry = registry.get(record["slug"])
        assert entry is not None and entry.app_name == record["appName"]
        assert entry.enrollment_period == record["proposedEnrollment"]
        for key in ("appId", "branches", "referenceBranch", "startDate", "endDate",
                    "proposedEnrollment", "enrollmentEndDate", "isRollout", "status",
                    "channel", "outcomes", "segments"):
            assert key in record
        frame = world.enrollments[record["slug"]]
        start = dt.date.fromisoformat(record["startDate"])
        last = dt.date.fromisoformat(record["enrollmentEndDate"])
        assert frame["enrollment_date"].min() == start and frame["enrollment_date"].max() == last
        assert set(frame["branch"]) == {b["slug"] for b in record["branches"]}
        assert record["referenceBranch"] == record["branches"][0]["slug"]
    live = [r for r in world.registry if r["status"] == "Live"]
    assert live and all(r["endDate"] is None for r in live)


def test_unequal_ratios_and_planted_sample_ratio_mismatch(world: SyntheticWorld) -> None:
    newtab = world.enrollments["desktop-newtab-layout"]["branch"].value_counts(normalize=True)
    assert newtab["control"] == pytest.approx(0.5, abs=0.04)
    assert newtab["treatment-a"] == pytest.approx(0.25, abs=0.04)
    shortcuts = world.enrollments["desktop-search-shortcuts"]["branch"]
    ratios = {b["slug"]: b["ratio"] for b in world.registry[1]["branches"]}
    assert ratios == {"control": 0.5, "treatment": 0.5}
    planted = next(d for d in DESIGNS if d.slug == "desktop-search-shortcuts").assignment[0]
    assert planted != 0.5
    share = (shortcuts == "control").mean()
    assert abs(share - planted) < 3 * np.sqrt(0.25 / len(shortcuts)) and share > 0.5


def test_exposures_and_unenrollments_are_consistent(world: SyntheticWorld) -> None:
    for design in DESIGNS:
        frame = world.enrollments[design.slug]
        exposed = frame.dropna(subset=["exposure_date"])
        assert (exposed["exposure_date"] >= exposed["enrollment_date"]).all()
        assert 0.25 < len(exposed) / len(frame) <= design.exposure_rate + 0.05
        left = frame.dropna(subset=["unenrollment_date"])
        assert 0 < len(left) < 0.1 * len(frame)
        assert (left["unenrollment_date"] > left["enrollment_date"]).all()


def test_experiment_annotation_spans_enrollment_to_unenrollment(world: SyntheticWorld) -> None:
    daily = world.daily("telemetry.clients_daily")
    enrolled = pd.concat([world.enrollments[s] for s in ("desktop-newtab-layout",
                                                         "desktop-search-shortcuts")])
    rows = daily.merge(enrolled, on="client_id", how="left")
    expected = (rows["enrollment_date"].notna() & (rows["submission_date"] >= rows["enrollment_date"])
                & (rows["unenrollment_date"].isna() | (rows["submission_date"] <= rows["unenrollment_date"])))
    annotated = rows["experiments"].map(len) == 1
    assert (annotated == expected).all()
    # every enrolled client is active on its enrollment day (segments are read on that day)
    on_day = rows[rows["submission_date"] == rows["enrollment_date"]]
    assert on_day["client_id"].nunique() == len(enrolled)


def test_segments_follow_client_traits(world: SyntheticWorld) -> None:
    traits = world.clients.set_index("client_id")
    newtab = world.segments["desktop-newtab-layout"]
    assert newtab["us_users"] and set(traits.loc[list(newtab["us_users"]), "country"]) == {"US"}
    assert set(traits.loc[list(newtab["windows_users"]), "os"]) == {"Windows_NT"}
    enrolled = world.enrollments["fenix-toolbar-redesign"].set_index("client_id")
    new = list(world.segments["fenix-toolbar-redesign"]["new_users"])
    assert new and (traits.loc[new, "first_seen_date"] == enrolled.loc[new, "enrollment_date"]).all()


def _post_enrollment(world: SyntheticWorld, table: str, slug: str) -> pd.DataFrame:
    rows = world.daily(table).merge(world.enrollments[slug], on="client_id")
    rows = rows[rows["submission_date"] >= rows["enrollment_date"]]
    return rows.merge(world.clients, on="client_id", suffixes=("", "_client"))


def _ratio(rows: pd.DataFrame, value: str, level: str, branch: str, scale: float = 1.0) -> float:
    """sum(value) / sum(expected value without effect): 1 + the branch's realised effect."""
    rows = rows[rows["branch"] == branch]
    return rows[value].sum() / (rows[level].sum() * scale)


def test_planted_effects_are_visible_in_the_truth(world: SyntheticWorld) -> None:
    effects = world.planted_effects["desktop-newtab-layout"]
    assert effects["active_hours"] == {"treatment-a": 0.05, "treatment-b": 0.0}
    assert effects["uri_count"] == {"treatment-a": 0.0, "treatment-b": 0.0}
    rows = _post_enrollment(world, "telemetry.clients_daily", "desktop-newtab-layout")
    for branch, expected in (("control", 1.0), ("treatment-a", 1.05), ("treatment-b", 1.0)):
        assert _ratio(rows, "active_hours_sum", "hours_level", branch) == pytest.approx(expected, abs=0.02)
        uri = "scalar_parent_browser_engagement_total_uri_count_normal_and_private_mode_sum"
        assert _ratio(rows, uri, "uri_level", branch) == pytest.approx(1.0, abs=0.02)

    assert world.planted_effects["desktop-search-shortcuts"]["ad_clicks"] == {"treatment": 0.06}
    search = _post_enrollment(world, "telemetry.clients_daily", "desktop-search-shortcuts")
    for branch, expected in (("control", 1.0), ("treatment", 1.06)):
        assert _ratio(search, "search_count_all", "search_level", branch) == pytest.approx(expected, abs=0.035)

    fenix = _post_enrollment(world, "fenix.baseline_clients_daily", "fenix-toolbar-redesign")
    for branch, expected in (("control", 1.0), ("compact", 0.97), ("expanded", 1.0)):
        assert _ratio(fenix, "durations", "hours_level", branch, 3600) == pytest.approx(expected, abs=0.025)
    assert world.planted_effects["ios-onboarding-cards"]["days_of_use"] == {"cards": 0.08}
    for branch, expected in _activity_ratios(world, "ios-onboarding-cards").items():
        assert expected == pytest.approx({"control": 1.0, "cards": 1.08}[branch], abs=0.04)


def _activity_ratios(world: SyntheticWorld, slug: str) -> dict[str, float]:
    """Active days after enrollment / expected active days without effect, per branch, over the
    days that are not forced active (exposure, unenrollment, repeated enrollment)."""
    frame = world.enrollments[slug].merge(world.clients, on="client_id")
    events = world.daily("firefox_ios.events_stream")
    events = events[events["client_id"].isin(frame["client_id"])]
    forced = set(zip(events["client_id"], events["submission_date"]))
    rows = world.daily("firefox_ios.baseline_clients_daily").merge(frame, on="client_id")
    after = rows[rows["submission_date"] > rows["enrollment_date"]]
    free = [key not in forced for key in zip(after["client_id"], after["submission_date"])]
    active = after[free].groupby("branch").size()
    forced_after = pd.DataFrame(list(forced), columns=["client_id", "day"]).merge(frame, on="client_id")
    forced_after = forced_after[forced_after["day"] > forced_after["enrollment_date"]]
    n_forced = forced_after.groupby("client_id").size()
    free_days = (np.array([(world.last_day - d).days for d in frame["enrollment_date"]])
                 - frame["client_id"].map(n_forced).fillna(0).to_numpy())
    expected = (frame["p_active"] * free_days).groupby(frame["branch"]).sum()
    return (active / expected).to_dict()


def _table_of(text: str) -> exp.Expression:
    """A from_expression (table name or parenthesised query) as a FROM-able node."""
    return exp.select("*").from_(text, dialect="bigquery").args["from_"].this


def _fragment_queries(spec) -> list[tuple[str, exp.Query]]:
    queries: list[tuple[str, exp.Query]] = []

    def add(label: str, select_expression: str, from_expression: str, client_id: str) -> None:
        source = _table_of(from_expression)
        source = source.subquery("ds") if isinstance(source, exp.Query) else exp.alias_(source, "ds")
        query = exp.select(
            exp.alias_(sqlglot.parse_one(client_id, read="bigquery"), "client_id"),
            exp.alias_(sqlglot.parse_one(select_expression, read="bigquery"), "value"),
        ).from_(source).group_by("1")
        queries.append((label, query))

    for metrics in spec.metrics.values():
        for metric in metrics:
            if metric.select_expression and metric.data_source:
                add(metric.name, metric.select_expression, metric.data_source.from_expression,
                    metric.data_source.client_id_column)
    for segment in spec.segments:
        add(segment.name, segment.select_expression, segment.data_source.from_expression,
            segment.data_source.client_id_column)
    signal = spec.experiment.exposure_signal
    if signal is not None:
        add(signal.name, signal.select_expression, signal.data_source.from_expression,
            signal.data_source.client_id_column)
    if spec.experiment.enrollment_query:
        queries.append(("enrollment_query", sqlglot.parse_one(spec.experiment.enrollment_query,
                                                               read="bigquery")))
    return queries


def test_every_fragment_of_our_configs_runs_on_the_synthetic_tables(
        world_db: tuple[SyntheticWorld, Path]) -> None:
    world, path = world_db
    repo = load_repository(ROOT)
    registry = parse_registry(list(world.registry))
    backend = DuckDBBackend(telemetry=path, timeout=60)
    checked: set[str] = set()
    try:
        for slug, doc in repo.experiments.items():
            resolution = resolve(doc, repo, registry.get(slug))
            assert resolution.spec is not None, (slug, resolution.findings)
            for label, query in _fragment_queries(resolution.spec):
                frame = backend.query(query.sql(dialect="bigquery"))
                assert len(frame) > 0, (slug, label)
                checked.add(label)
            if resolution.spec.experiment.enrollment_query:
                enrolled = backend.query(resolution.spec.experiment.enrollment_query)
                truth = world.enrollments[slug]
                assert sorted(enrolled["client_id"]) == sorted(truth["client_id"])
                merged = enrolled.merge(truth, on="client_id")
                assert (merged["branch_x"] == merged["branch_y"]).all()
                assert (pd.to_datetime(merged["enrollment_date_x"]).dt.date
                        == merged["enrollment_date_y"]).all()
    finally:
        backend.close()
    assert {"active_hours", "main_crashes", "unenroll", "uri_count", "is_default_browser",
            "startup_crashes", "heavy_user", "new_users", "windows_users",
            "onboarding_card_viewed", "enrollment_query"} <= checked
