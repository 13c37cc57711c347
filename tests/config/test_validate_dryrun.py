"""Dry-run tier of `jetstream validate`: binder errors on the config line that caused them,
against a real synthetic DuckDB file and against a local server speaking BigQuery's REST API."""
import importlib.util
import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from engine.check.bill import human_bytes
from engine.commands.validate import command
from engine.synthetic.world import generate

REPO = Path(__file__).resolve().parents[2]

BROKEN = '''[experiment]
reference_branch = "control"
start_date = "2024-03-01"
enrollment_period = 7

[metrics]
weekly = ["broken_hours", "active_hours"]

[metrics.broken_hours]
friendly_name = "Broken"
data_source = "clients_daily"
select_expression = """
SUM(no_such_column)
"""
statistics = { bootstrap_mean = {} }
'''

ENROLLMENT = '''[experiment]
reference_branch = "control"
start_date = "2024-03-01"
enrollment_query = """
SELECT client_id, branch FROM `moz-fx-data-shared-prod.telemetry.no_such_table`
"""
'''


@pytest.fixture(scope="module")
def db(tmp_path_factory):
    path = tmp_path_factory.mktemp("tele") / "tele.duckdb"
    generate(path, clients=200, days=8, seed=2)
    return path


@pytest.fixture
def root(tmp_path):
    """Our own definitions, defaults and outcomes, plus the experiments a test writes."""
    for part in ("engine/definitions", "engine/defaults", "outcomes"):
        shutil.copytree(REPO / part, tmp_path / part)
    (tmp_path / "experiments").mkdir()
    return tmp_path


def _json(args):
    result = CliRunner().invoke(command, [*args, "--format", "json"])
    return result.exit_code, json.loads(result.output or "[]"), result.output


def test_unknown_column_points_at_the_select_expression(root, db):
    (root / "experiments" / "broken.toml").write_text(BROKEN)
    code, findings, _ = _json(["--config-root", str(root), "--platform", "firefox_desktop",
                               "--db", str(db)])
    errors = [f for f in findings if f["severity"] == "error"]
    assert code == 1
    assert [(f["path"], f["line"], f["code"]) for f in errors] == [
        ("experiments/broken.toml", 12, "sql-binder")]
    assert "broken_hours" in errors[0]["message"] and "no_such_column" in errors[0]["message"]


def test_clean_configs_and_offline_validation_are_unchanged(root, db):
    # a custom enrollment query and a segment on desktop tables; Glean tables on fenix
    for slug in ("desktop-search-shortcuts", "fenix-toolbar-redesign"):
        shutil.copy(REPO / "experiments" / f"{slug}.toml", root / "experiments" / f"{slug}.toml")
    code, findings, output = _json(["--config-root", str(root), "--db", str(db)])
    assert code == 0, output
    assert not [f for f in findings if f["severity"] == "error"]
    (root / "experiments" / "broken.toml").write_text(BROKEN)
    code, findings, _ = _json(["--config-root", str(root), "--platform", "firefox_desktop"])
    assert code == 0 and not any(f["code"].startswith("sql-") for f in findings)  # no backend, no dry run


def test_unknown_table_in_enrollment_query_points_at_its_key(root, db):
    (root / "experiments" / "enrol.toml").write_text(ENROLLMENT)
    code, findings, _ = _json(["--config-root", str(root), "--platform", "firefox_desktop",
                               "--db", str(db), str(root / "experiments" / "enrol.toml")])
    (error,) = [f for f in findings if f["severity"] == "error"]
    assert code == 1
    assert (error["path"], error["line"], error["code"]) == ("experiments/enrol.toml", 4, "sql-unknown-name")
    assert "no_such_table" in error["message"]


def test_usage_errors(root, tmp_path):
    runner = CliRunner()
    missing = runner.invoke(command, ["--config-root", str(root), "--db", str(tmp_path / "none.duckdb")])
    assert missing.exit_code == 2 and "no DuckDB telemetry file" in missing.output
    no_project = runner.invoke(command, ["--config-root", str(root), "--backend", "bigquery"])
    assert no_project.exit_code == 2 and "--project" in no_project.output


def _fake_bigquery():
    spec = importlib.util.spec_from_file_location("fake_bigquery", REPO / "tests/engine/fake_bigquery.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_bigquery_dry_runs_report_bytes_and_map_errors(root, monkeypatch):
    fake_bigquery = _fake_bigquery()
    (root / "experiments" / "bad-metric.toml").write_text(BROKEN.replace("no_such_column", "nope"))
    clean = REPO / "experiments" / "desktop-newtab-layout.toml"
    dated = clean.read_text().replace("[experiment]\n", "[experiment]\nstart_date = \"2024-01-01\"\n"
                                      "enrollment_period = 7\nend_date = \"2024-02-20\"\n", 1)
    (root / "experiments" / clean.name).write_text(dated)
    with fake_bigquery.FakeBigQuery() as fake:
        monkeypatch.setenv("BIGQUERY_EMULATOR_HOST", fake.url)
        code, findings, output = _json(["--config-root", str(root), "--platform", "firefox_desktop",
                                        "--backend", "bigquery", "--project", "proj",
                                        "--bill-warning", str(fake_bigquery.BYTES)])
        inserts = [r["body"] for r in fake.requests if r["method"] == "POST"]
    assert code == 1, output
    assert inserts and all(body["configuration"]["dryRun"] is True for body in inserts)
    assert all(body["configuration"]["query"]["defaultDataset"]["datasetId"] == "jetstream"
               for body in inserts)
    (error,) = [f for f in findings if f["severity"] == "error"]
    assert (error["path"], error["line"], error["code"]) == (
        "experiments/bad-metric.toml", 12, "sql-unknown-name")
    # the bill: enrollments + the one per-client query of every window ready at the end date
    (estimate,) = [f for f in findings if f["code"] == "dry-run-bytes"]
    assert estimate["path"] == "experiments/desktop-newtab-layout.toml"
    assert "for 2024-02-20 reads 246.9 MB (246913578 bytes) on BigQuery in 2 queries" in estimate["message"]
    assert "client_windows_desktop_newtab_layout: 123.5 MB" in estimate["hint"]
    (warning,) = [f for f in findings if f["code"] == "dry-run-bill"]  # above --bill-warning
    assert warning["severity"] == "warning" and warning["path"] == estimate["path"]
    assert "would bill 246.9 MB" in warning["message"] and "threshold of 123.5 MB" in warning["message"]


def test_human_bytes():
    assert [human_bytes(n) for n in (0, 999, 1000, 123456789, 5 * 10**15)] == [
        "0 B", "999 B", "1.0 KB", "123.5 MB", "5000.0 TB"]


class _BrokenWarehouse:
    """A backend whose every dry run fails unexpectedly (e.g. a dropped connection)."""

    name = "duckdb"

    def dry_run(self, sql):
        raise ConnectionError("connection reset")


def test_a_failing_dry_run_is_a_finding_not_a_crash(root):
    from engine.check.validate import validate
    (root / "experiments" / "broken.toml").write_text(BROKEN)
    report = validate(root, platform="firefox_desktop", backend=_BrokenWarehouse())
    (finding,) = [f for f in report.findings if f.code == "dry-run-failed"]
    assert (finding.path, finding.line, finding.is_error) == ("experiments/broken.toml", 1, True)
    assert "ConnectionError: connection reset" in finding.message
    assert not report.experiments["broken"].ok
