"""The demo pipeline end to end on synthetic telemetry: generate, validate, analyse, export.

The repository's own configs are resolved against the synthetic registry and analysed by the
same `analyse_experiment` the demo runs, at a reduced size: fewer clients and days than the
demo, and per experiment only the periods and metrics the assertions look at (with their
configured statistics, segments and both bases), so the test stays fast. The truth comes from
the generator (`world.planted_effects`), not from SQL.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import json
from pathlib import Path

import pytest

from engine.backends.duckdb import DuckDBBackend
from engine.check.validate import validate
from engine.config.repository import load_repository
from engine.config.resolve.platforms import resolve_experiment
from engine.experimenter import parse_registry
from engine.results.export import DirectorySink
from engine.results.metadata import metadata_context
from engine.run.experiment import analyse_experiment
from engine.synthetic.world import generate
from tests.results.upstream import validate_upstream
from tests.snapshots import assert_same_snapshot, snapshot

ROOT = Path(__file__).resolve().parents[2]
CLIENTS, DAYS, SEED = 40_000, 40, 5
# experiment -> period -> metrics kept (pre-enrollment week: covariates of linear_model_mean)
KEEP = {
    "desktop-newtab-layout": {"overall": ("active_hours", "uri_count"),
                              "preenrollment_weekly": ("active_hours", "uri_count")},
    "desktop-search-shortcuts": {"overall": ("search_count",),
                                 "preenrollment_weekly": ("search_count",)},
    "ios-onboarding-cards": {"weekly": ("days_of_use",),
                             "preenrollment_weekly": ("days_of_use",)},
}
POINT_STATISTICS = ("bootstrap_mean", "linear_model_mean")


def reduced(spec):
    keep = KEEP[spec.experiment.slug]
    metrics = {period: tuple(m for m in spec.metrics.get(period, ()) if m.name in names)
               for period, names in keep.items()}
    return dataclasses.replace(spec, metrics=metrics)


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("demo")
    world = generate(tmp / "telemetry.duckdb", clients=CLIENTS, days=DAYS, seed=SEED)
    registry = parse_registry(list(world.registry))
    report = validate(ROOT, registry=registry)
    specs = {}
    for slug in KEEP:
        spec, findings = resolve_experiment(ROOT, slug, registry=registry)
        assert spec is not None, findings
        specs[slug] = reduced(spec)
    backend = DuckDBBackend(tmp / "telemetry.duckdb", tmp / "results.duckdb")
    sink = DirectorySink(tmp / "json")

    repo = load_repository(ROOT)
    contexts = {slug: metadata_context(repo, spec.platform, slug, registry.get(slug).name)
                for slug, spec in specs.items()}

    def analyse() -> dict:  # as `jetstream analyse` does, with the metadata's context
        return {slug: analyse_experiment(spec, backend, world.last_day, sink,
                                         context=contexts[slug])
                for slug, spec in specs.items()}

    first = analyse()
    before = snapshot(backend, tmp / "json")
    again = analyse()
    after = snapshot(backend, tmp / "json")
    yield dict(world=world, report=report, outcomes=first, rerun=again, before=before,
               after=after, out=tmp / "json", telemetry=tmp / "telemetry.duckdb")
    backend.close()


def statistics(out: Path, slug: str, period: str) -> list[dict]:
    return json.loads((out / f"statistics_{slug}_{period}.json").read_text())


def uplift(rows, metric, branch, statistic, basis="enrollments", window="1"):
    found = [r for r in rows if r["metric"] == metric and r["branch"] == branch
             and r["statistic"] == statistic and r["comparison"] == "relative_uplift"
             and r["segment"] == "all" and r["analysis_basis"] == basis
             and r["window_index"] == window]
    assert len(found) == 1, (metric, branch, statistic, basis)
    return found[0]


def test_configs_validate_and_every_experiment_is_analysed(demo):
    assert demo["report"].ok
    for slug, outcome in demo["outcomes"].items():
        assert outcome.status == "ok", (slug, outcome.errors)
        assert outcome.errors == ()
        assert outcome.windows >= 2


def test_planted_effects_lie_inside_their_intervals(demo):
    planted = demo["world"].planted_effects
    checked = 0
    for slug, metric in (("desktop-newtab-layout", "active_hours"),
                         ("desktop-search-shortcuts", "search_count")):
        rows = statistics(demo["out"], slug, "overall")
        for branch, effect in planted[slug][metric].items():
            for statistic in POINT_STATISTICS:
                for basis in ("enrollments", "exposures"):
                    record = uplift(rows, metric, branch, statistic, basis)
                    assert record["lower"] <= effect <= record["upper"], record
                    checked += 1
    assert planted["desktop-newtab-layout"]["active_hours"]["treatment-a"] == 0.05
    assert checked == 2 * 2 * 2 + 1 * 2 * 2


def test_no_effect_metric_intervals_cover_zero(demo):
    planted = demo["world"].planted_effects["desktop-newtab-layout"]["uri_count"]
    assert planted == {"treatment-a": 0.0, "treatment-b": 0.0}
    rows = statistics(demo["out"], "desktop-newtab-layout", "overall")
    for branch in planted:
        record = uplift(rows, "uri_count", branch, "linear_model_mean")
        assert record["lower"] < 0 < record["upper"], record


def test_planted_sample_ratio_mismatch_is_flagged(demo):
    out = demo["out"]
    flagged = json.loads((out / "metadata_desktop-search-shortcuts.json").read_text())
    balanced = json.loads((out / "metadata_desktop-newtab-layout.json").read_text())
    assert flagged["sample_ratio"]["enrollments"]["mismatch"] is True
    assert flagged["sample_ratio"]["enrollments"]["p_value"] < 0.001
    assert balanced["sample_ratio"]["enrollments"]["mismatch"] is False


def test_live_experiment_is_analysed_as_of_the_date(demo):
    world, out = demo["world"], demo["out"]
    entry = next(e for e in world.registry if e["slug"] == "ios-onboarding-cards")
    assert entry["endDate"] is None
    last_enrollment = dt.date.fromisoformat(entry["enrollmentEndDate"])
    ready = (world.last_day - last_enrollment).days + 1  # days of data of the last enrollee
    windows = {r["window_index"] for r in statistics(out, "ios-onboarding-cards", "weekly")}
    assert windows == {str(n + 1) for n in range(ready // 7)}
    assert not (out / "statistics_ios-onboarding-cards_overall.json").exists()


def test_rerun_for_the_same_date_leaves_identical_tables_and_files(demo):
    before, after = demo["before"], demo["after"]
    assert [o.status for o in demo["rerun"].values()] == ["ok"] * len(KEEP)
    assert before["tables"].keys() == after["tables"].keys()
    assert any(t.startswith("statistics_") for t in before["tables"])
    assert_same_snapshot(before, after)


def test_every_exported_file_validates_against_the_upstream_models(demo):
    """Statistics, metadata and errors as Experimenter reads them (mozilla-nimbus-schemas)."""
    checked = validate_upstream(demo["out"])
    exported = sorted(p.name for p in demo["out"].glob("*.json"))
    assert sum(checked.values()) == len(exported)
    assert checked["metadata"] == checked["errors"] == len(KEEP) and checked["statistics"] >= 4
    meta = json.loads((demo["out"] / "metadata_desktop-newtab-layout.json").read_text())
    assert meta["schema_version"] == 4 and meta["name"] == "Desktop Newtab Layout"
    assert meta["outcomes"]["search_engagement"]["friendly_name"] == "Search engagement"
    assert "urlbar_searches" in meta["outcomes"]["search_engagement"]["metrics"]


def test_analyse_dry_run_prints_the_bill_and_runs_nothing(demo, tmp_path):
    from click.testing import CliRunner

    from engine.commands.analyse import command
    registry = tmp_path / "registry.json"
    registry.write_text(demo["world"].registry_json())
    out = tmp_path / "out"
    result = CliRunner(env={"COLUMNS": "250"}).invoke(command, [
        "--date", demo["world"].last_day.isoformat(), "--db", str(demo["telemetry"]),
        "--registry", str(registry), "--out", str(out), "--config-root", str(ROOT),
        "--experiment", "desktop-newtab-layout", "--experiment", "ios-onboarding-cards",
        "--dry-run"])
    assert result.exit_code == 0, result.output
    for table in ("enrollments_desktop_newtab_layout", "client_windows_desktop_newtab_layout",
                  "client_windows_ios_onboarding_cards"):
        assert table in result.output
    assert "no estimate on duckdb" in result.output and "2 queries" in result.output
    backend = DuckDBBackend(demo["telemetry"], out / "results.duckdb")
    assert backend.list_tables() == []  # nothing ran
    backend.close()
