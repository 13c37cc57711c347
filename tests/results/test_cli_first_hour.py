"""The first hour with the CLI: usage errors that say what to do, one window numbering,
output readable at 80 columns and in CI logs."""
from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner

from engine.cli import main

ROOT = Path(__file__).resolve().parents[2]
REGISTRY = [{"slug": "desktop-newtab-layout", "appName": "firefox_desktop",
             "branches": [{"slug": "control", "ratio": 0.5}, {"slug": "treatment-a", "ratio": 0.25},
                          {"slug": "treatment-b", "ratio": 0.25}],
             "referenceBranch": "control", "startDate": "2024-01-29", "endDate": "2024-02-29",
             "proposedEnrollment": 7, "userFacingName": "Desktop Newtab Layout"}]


def run(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


@pytest.fixture
def empty_db(tmp_path) -> Path:
    path = tmp_path / "telemetry.duckdb"
    duckdb.connect(str(path)).close()
    return path


def test_misspelled_experiment_is_a_usage_error(empty_db, tmp_path):
    out = tmp_path / "out"
    result = run("analyse", "--date", "2024-02-28", "--db", str(empty_db), "--out", str(out),
                 "--config-root", str(ROOT), "--experiment", "nope",
                 "--experiment", "desktop-newtab-layou")
    assert result.exit_code == 2
    assert "unknown experiment 'nope', 'desktop-newtab-layou' (did you mean " \
           "'desktop-newtab-layout'?)" in result.output
    assert "desktop-search-shortcuts" in result.output  # the known slugs are listed
    assert "results exported" not in result.output
    assert not out.exists() or not list(out.iterdir())  # no errors_nope.json, nothing


def test_analyse_output_fits_80_columns_and_logs_stages(empty_db, tmp_path):
    result = run("analyse", "--date", "2024-02-28", "--db", str(empty_db),
                 "--out", str(tmp_path / "out"), "--config-root", str(ROOT),
                 "--experiment", "desktop-newtab-layout", "--workers", "1")
    assert result.exit_code == 1  # no registry: no start date, recorded as a failure
    lines = result.output.splitlines()
    assert "desktop-newtab-layout: resolving" in lines  # a line per stage, not on a terminal
    assert any(line.startswith("desktop-newtab-layout: failed in ") for line in lines)
    table = [line for line in lines if "│" in line or "┃" in line]
    assert table and max(len(line) for line in table) <= 80
    assert any("│ desktop-newtab-layout │" in line for line in table)  # the slug in full
    note = "desktop-newtab-layout: no start date (neither configured nor in the registry)"
    assert lines.count(note) == 1  # once, though it is both the reason and the error


def test_sql_needs_a_registry_and_says_so():
    result = run("sql", "desktop-newtab-layout", "--period", "weekly", "--config-root", str(ROOT))
    assert result.exit_code == 2 and "--registry" in result.output


@pytest.mark.parametrize("window, days", [("1", (0, 6)), ("2", (7, 13))])
def test_sql_windows_are_numbered_like_tables_and_json(tmp_path, window, days):
    registry = tmp_path / "registry.json"
    registry.write_text(json.dumps(REGISTRY))
    result = run("sql", "desktop-newtab-layout", "--period", "weekly", "--window", window,
                 "--registry", str(registry), "--config-root", str(ROOT))
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert f"{window} AS window_index, {days[0]} AS window_start, {days[1]} AS window_end" in text


def test_sql_window_zero_is_a_usage_error(tmp_path):
    registry = tmp_path / "registry.json"
    registry.write_text(json.dumps(REGISTRY))
    result = run("sql", "desktop-newtab-layout", "--period", "weekly", "--window", "0",
                 "--registry", str(registry), "--config-root", str(ROOT))
    assert result.exit_code == 2


def test_misspelled_platform_suggests_the_right_one():
    result = run("validate", "--config-root", str(ROOT), "--platform", "firefox_desktp")
    assert result.exit_code == 2
    assert "did you mean 'firefox_desktop'?" in result.output
