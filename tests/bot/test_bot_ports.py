"""`bot.engine_port.reanalyse`: the `jetstream analyse` child process and how its outcome is read
(published, nothing to publish, failed, not configured). The published case runs end to end in
tests/e2e/test_bot_flow.py."""
from __future__ import annotations

import datetime as dt
import json
import shutil
from dataclasses import replace
from pathlib import Path

from bot.engine_port import analyse_command, analysis_backend, reanalyse
from engine.synthetic.world import generate

SLUG = "fenix-toolbar-redesign"
ENGINE = Path(__file__).resolve().parents[2] / "engine"


def _root(tmp_path: Path, outcome: bool = True) -> Path:
    """Our definitions and defaults; the outcome the registry names unless `outcome` is False."""
    root = tmp_path / ("tree" if outcome else "tree-without-outcome")
    for kind in ("definitions", "defaults"):
        shutil.copytree(ENGINE / kind, root / "engine" / kind)
    (root / "experiments").mkdir(parents=True)
    (root / "experiments" / f"{SLUG}.toml").write_text('[experiment]\nreference_branch = "control"\n')
    if outcome:
        (root / "outcomes" / "fenix").mkdir(parents=True)
        (root / "outcomes" / "fenix" / "mobile_stability.toml").write_text(
            'friendly_name = "Stability"\ndescription = "Crashes."\n')
    return root


def test_not_configured_is_unavailable(settings, tmp_path):
    outcome = reanalyse(SLUG, config_root=_root(tmp_path), date=dt.date(2024, 2, 1), settings=settings)
    assert outcome.status == "unavailable" and "JETSTREAM_DB" in outcome.detail
    assert "JETSTREAM_BIGQUERY_PROJECT" in outcome.detail


def test_command_names_the_tree_the_database_and_a_table_file_per_experiment(settings, tmp_path):
    configured = replace(settings, telemetry_db=Path("tele.duckdb"), results_dir=tmp_path / "results",
                         registry="reg.json", engine_args=("--an-extra-option", "2"))
    command = analyse_command(SLUG, tmp_path / "tree", dt.date(2024, 2, 1), configured,
                              analysis_backend(SLUG, configured))
    options = dict(zip(command[4::2], command[5::2]))
    assert options["--backend"] == "duckdb"
    assert command[1:4] == ["-m", "engine.cli", "analyse"]
    assert options["--date"] == "2024-02-01" and options["--experiment"] == SLUG
    assert options["--config-root"] == str((tmp_path / "tree").resolve())
    assert options["--db"] == str(Path("tele.duckdb").resolve())
    assert options["--results-db"] == str((tmp_path / "results" / "tables" / f"{SLUG}.duckdb").resolve())
    assert options["--out"] == str((tmp_path / "results").resolve()) and options["--registry"] == "reg.json"
    assert command[-2:] == ["--an-extra-option", "2"]


def test_without_a_database_re_analyses_run_on_bigquery_under_the_byte_cap(settings, tmp_path):
    configured = replace(settings, bigquery_project="proj", bigquery_dataset="jet",
                         bigquery_location="EU", maximum_bytes_billed=10**12,
                         results_dir=tmp_path / "results")
    command = analyse_command(SLUG, tmp_path / "tree", dt.date(2024, 2, 1), configured,
                              analysis_backend(SLUG, configured))
    options = dict(zip(command[4::2], command[5::2]))
    assert (options["--backend"], options["--project"], options["--dataset"]) == ("bigquery", "proj", "jet")
    assert options["--location"] == "EU" and options["--maximum-bytes-billed"] == str(10**12)
    assert options["--out"] == str((tmp_path / "results").resolve()) and "--db" not in options
    # the command is one the engine's own CLI accepts
    from engine.commands.analyse import command as analyse_cli
    assert analyse_cli.make_context("analyse", command[4:], resilient_parsing=True).params["kind"] == "bigquery"


def test_nothing_published_is_skipped_and_a_failure_says_why(settings, tmp_path):
    db = tmp_path / "tele.duckdb"
    world = generate(db, clients=60, days=8, seed=3)
    registry = tmp_path / "registry.json"
    registry.write_text(world.registry_json())
    configured = replace(settings, telemetry_db=db, registry=str(registry), results_dir=tmp_path / "results")
    start = dt.date.fromisoformat(next(e["startDate"] for e in json.loads(world.registry_json())
                                       if e["slug"] == SLUG))
    early = reanalyse(SLUG, config_root=_root(tmp_path), date=start - dt.timedelta(days=3), settings=configured)
    assert early.status == "skipped" and "nothing to publish" in early.detail
    assert not (tmp_path / "results" / f"metadata_{SLUG}.json").exists()

    failed = reanalyse(SLUG, config_root=_root(tmp_path, outcome=False), date=start, settings=configured)
    assert failed.status == "failed"  # the reason comes from the errors file the engine exported
    assert "unknown-outcome: outcome 'mobile_stability' does not exist" in failed.detail


def test_engine_errors_reach_a_pr_as_kind_and_location_only():
    from bot.engine_port import error_kind
    leaked = "Conversion Error: Could not convert string 'client-aaaa-1111,client-bbbb-2222' to INT64"
    record = {"experiment": SLUG, "stage": "metrics", "message": leaked, "exception_type": "BackendError",
              "period": "weekly", "window_index": 1, "metric": "clicks"}
    text = error_kind(record)
    assert "client-aaaa" not in text and "Conversion" not in text
    assert text == (f"metrics failed (BackendError: period weekly, window index 1, metric clicks); "
                    f"the message is in errors_{SLUG}.json")
    config = {"experiment": SLUG, "stage": "config", "message": "unknown-outcome: outcome 'x' does not exist"}
    assert error_kind(config) == "unknown-outcome: outcome 'x' does not exist"  # config text, no data
