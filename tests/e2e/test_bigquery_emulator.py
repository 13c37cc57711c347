"""`jetstream analyse --backend bigquery` end to end against bqemulator, a server that executes
the BigQuery SQL it receives: synthetic telemetry loaded into it by parquet loads, one demo
experiment analysed there and on DuckDB from the same telemetry, and the records compared.

The emulator's gaps are shimmed in `bigquery_emulator` (the harness), never in the product; what
the product sent is asserted on the recorded jobs (labels, maximumBytesBilled, DDL, loads).
"""
from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
from bigquery_emulator import Emulator, client_for, load_telemetry

from engine.backends.open import BackendConfig
from engine.commands.analyse import analyse_argv
from engine.synthetic.world import generate

ROOT = Path(__file__).resolve().parents[2]
SLUG = "desktop-search-shortcuts"
CLIENTS, DAYS, SEED = 4_000, 40, 5
BUDGET = 10**12  # --maximum-bytes-billed

# bqemulator transpiles each summary query with sqlglot in Python: a run takes minutes there
pytestmark = [pytest.mark.slow, pytest.mark.timeout(2400)]


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("bigquery")
    emulator = Emulator(root / "emulator")
    try:
        world = generate(root / "telemetry.duckdb", clients=CLIENTS, days=DAYS, seed=SEED)
        (root / "registry.json").write_text(world.registry_json(), encoding="utf-8")
        client = client_for(emulator, "test")
        client.create_dataset("test.jetstream")
        load_telemetry(client, dict(world.tables))
        yield root, world, emulator, client
    finally:
        emulator.close()


def _analyse(root: Path, day, out: str, backend: BackendConfig, env: dict | None = None):
    argv = analyse_argv(SLUG, day, ROOT, str(root / out), backend,
                        registry=str(root / "registry.json"), extra=("--workers", "1"))
    return subprocess.run(argv, capture_output=True, text=True, env=env, cwd=ROOT, timeout=2000)


@pytest.fixture(scope="module")
def runs(world):
    root, synthetic, emulator, _ = world
    env = dict(os.environ, BIGQUERY_EMULATOR_HOST=emulator.host)
    bigquery = _analyse(root, synthetic.last_day, "bigquery", BackendConfig(
        "bigquery", project="test", dataset="jetstream", maximum_bytes_billed=BUDGET), env)
    assert bigquery.returncode == 0, bigquery.stderr[-3000:]
    duckdb = _analyse(root, synthetic.last_day, "duckdb",
                      BackendConfig("duckdb", db=root / "telemetry.duckdb"))
    assert duckdb.returncode == 0, duckdb.stderr[-3000:]
    return root / "bigquery", root / "duckdb"


def _statistics(directory: Path) -> dict[str, list[dict]]:
    return {p.name: json.loads(p.read_text()) for p in sorted(directory.glob("statistics_*.json"))}


def _assert_same_records(got_dir: Path, want_dir: Path) -> None:
    """Every record equal; floats to 1e-9 relative, 1e-8 absolute (warehouses add floats in
    any order: a perfect fit's residual variance, e.g. a pre-enrollment window adjusted by
    itself, is rounding noise of that size)."""
    got_all, want_all = _statistics(got_dir), _statistics(want_dir)
    assert got_all.keys() == want_all.keys() and len(want_all) >= 2
    compared = 0
    for name, records in want_all.items():
        assert len(got_all[name]) == len(records) > 0
        for want, got in zip(records, got_all[name]):
            assert got.keys() == want.keys()
            for key, value in want.items():
                if isinstance(value, float) and got[key] is not None:
                    assert math.isclose(got[key], value, rel_tol=1e-9, abs_tol=1e-8), (name, key)
                    compared += 1
                else:
                    assert got[key] == value, (name, key, want)
    assert compared > 1000


def test_bigquery_records_equal_the_duckdb_run(runs):
    _assert_same_records(runs[0], runs[1])
    for kind in ("metadata", "errors"):
        name = f"{kind}_{SLUG}.json"
        assert json.loads((runs[0] / name).read_text()) == json.loads((runs[1] / name).read_text())
    assert json.loads((runs[0] / f"errors_{SLUG}.json").read_text()) == []


def test_tables_live_in_the_dataset(world, runs):
    _, _, _, client = world
    tables = {t.table_id for t in client.list_tables("test.jetstream")}
    table_slug = SLUG.replace("-", "_")
    assert f"enrollments_{table_slug}" in tables
    assert f"statistics_{table_slug}_overall" in tables and f"statistics_{table_slug}_weekly_1" in tables
    assert f"client_windows_{table_slug}" in tables  # every window and basis of the run, one table
    # density curves are thinned in the JSON export only; every other record is in both
    rows = client.query(f"SELECT COUNT(*) AS n FROM `test.jetstream.statistics_{table_slug}_overall`"
                        " WHERE statistic NOT IN ('kernel_density_estimate', 'empirical_cdf')"
                        ).result().to_arrow(create_bqstorage_client=False).to_pylist()
    overall = json.loads((runs[0] / f"statistics_{SLUG}_overall.json").read_text())
    curves = {"kernel_density_estimate", "empirical_cdf"}
    assert rows == [{"n": sum(r["statistic"] not in curves for r in overall)}]


def test_every_job_is_labelled_and_guarded(world, runs):
    _, _, emulator, _ = world
    ours = [job["configuration"] for job in emulator.proxy.jobs
            if job["configuration"].get("labels", {}).get("application") == "jetstream"]
    kinds = {config["labels"]["jetstream_job"] for config in ours}
    assert kinds == {"materialize", "query", "write_table"}
    for config in ours:
        if "query" in config:
            assert config["query"]["maximumBytesBilled"] == str(BUDGET)
            assert config["query"]["defaultDataset"] == {"projectId": "test", "datasetId": "jetstream"}
            assert "destinationTable" not in config["query"]
        else:
            assert config["load"]["sourceFormat"] == "PARQUET"
            assert config["load"]["writeDisposition"] == "WRITE_TRUNCATE"
    statements = [c["query"]["query"] for c in ours if c["labels"]["jetstream_job"] == "materialize"]
    assert all(s.startswith("CREATE OR REPLACE TABLE `test`.`jetstream`.`") for s in statements)
    assert any(" CLUSTER BY period, window_index AS " in s for s in statements)



def test_validate_dry_runs_on_the_emulator(world, tmp_path):
    root, _, emulator, _ = world
    env = dict(os.environ, BIGQUERY_EMULATOR_HOST=emulator.host)
    before = len(emulator.proxy.jobs)
    done = subprocess.run(
        [sys.executable, "-m", "engine.cli", "validate", f"experiments/{SLUG}.toml", "--backend",
         "bigquery", "--project", "test", "--registry", str(root / "registry.json")],
        capture_output=True, text=True, env=env, cwd=ROOT, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    dry_runs = [j["configuration"] for j in emulator.proxy.jobs[before:]]
    assert dry_runs and all(c["dryRun"] is True for c in dry_runs)
    assert "dry-run-bytes" in done.stdout  # the emulator estimates 0 bytes: real BigQuery more


def test_the_bots_merge_leg_re_analyses_on_bigquery(world, runs, tmp_path, monkeypatch):
    """Without JETSTREAM_DB the bot's re-analysis runs on the configured BigQuery project, under
    its byte cap, and publishes the same records as the direct BigQuery run."""
    from bot.config import Settings
    from bot.engine_port import reanalyse

    root, synthetic, emulator, _ = world
    monkeypatch.setenv("BIGQUERY_EMULATOR_HOST", emulator.host)
    settings = Settings(webhook_secret=b"s", bigquery_project="test", bigquery_dataset="jetstream",
                        maximum_bytes_billed=BUDGET, registry=str(root / "registry.json"),
                        results_dir=tmp_path / "published", work_dir=tmp_path / "work",
                        engine_args=("--workers", "1"), analysis_timeout=2000)
    outcome = reanalyse(SLUG, config_root=ROOT, date=synthetic.last_day, settings=settings)
    assert outcome.status == "succeeded", outcome.detail
    _assert_same_records(tmp_path / "published", runs[0])
    assert not (tmp_path / "work" / "tables").exists() or not any((tmp_path / "work" / "tables").iterdir())
