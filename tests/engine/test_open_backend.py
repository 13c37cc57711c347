"""Opening the configured backend: the options round trip through `jetstream analyse`, and a
missing credential is a usage error that says how to authenticate."""
from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

import duckdb

from engine.backends.open import BackendConfig, connect
from engine.commands.analyse import analyse_argv, command

ROOT = Path(__file__).resolve().parents[2]


def _parsed(argv: list[str]) -> dict:
    """What `jetstream analyse` reads from `argv` (click's own parser, nothing run)."""
    return command.make_context("analyse", argv[argv.index("analyse") + 1:]).params


def test_argv_selects_the_configured_backend(tmp_path):
    bigquery = BackendConfig("bigquery", project="p", dataset="d", location="EU",
                             maximum_bytes_billed=10**11, query_timeout=900.0)
    argv = analyse_argv("exp-a", dt.date(2024, 2, 1), tmp_path, "gs://b/x", bigquery,
                        registry="reg.json", extra=("--workers", "2"))
    assert argv[:4] == [sys.executable, "-m", "engine.cli", "analyse"]
    params = _parsed(argv)
    assert (params["kind"], params["project"], params["dataset"], params["location"],
            params["maximum_bytes_billed"], params["query_timeout"]) == ("bigquery", "p", "d", "EU",
                                                                         10**11, 900.0)
    assert (params["experiments"], params["out"], params["registry"], params["workers"]) == (
        ("exp-a",), "gs://b/x", "reg.json", 2)
    duck = BackendConfig("duckdb", db=tmp_path / "t.duckdb", results_db=tmp_path / "r.duckdb",
                         memory_limit="2GB", temp_directory=tmp_path / "spill")
    params = _parsed(analyse_argv("exp-a", dt.date(2024, 2, 1), tmp_path, "out", duck))
    assert (params["kind"], params["db"], params["results_db"], params["memory_limit"],
            params["temp_directory"], params["project"]) == (
        "duckdb", duck.db, duck.results_db, "2GB", duck.temp_directory, None)


def test_duckdb_settings_reach_the_connection(tmp_path):
    duckdb.connect(str(tmp_path / "t.duckdb")).close()
    backend = connect(BackendConfig("duckdb", db=tmp_path / "t.duckdb", memory_limit="64MB",
                                    temp_directory=tmp_path / "spill", query_timeout=42.0))
    try:
        settings = backend.query("SELECT current_setting('memory_limit') AS m, "
                                 "current_setting('temp_directory') AS t")
        assert settings["m"][0].replace(" ", "") in ("61.0MiB", "64.0MB")
        assert settings["t"][0] == str((tmp_path / "spill").resolve())
        assert backend.timeout == 42.0
        # a sort of ~170 MB under a 64 MB limit completes by spilling (hardening allows it)
        backend.materialize("big", "SELECT x, MD5(CAST(x AS STRING)) AS s "
                            "FROM UNNEST(GENERATE_ARRAY(1, 3000000)) AS x ORDER BY s")
        assert backend.query("SELECT COUNT(*) AS n FROM big")["n"][0] == 3_000_000
    finally:
        backend.close()


def test_without_credentials_a_usage_error_says_how_to_authenticate(tmp_path):
    env = {k: v for k, v in os.environ.items()
           if k not in ("GOOGLE_APPLICATION_CREDENTIALS", "BIGQUERY_EMULATOR_HOST")}
    env.update(HOME=str(tmp_path), CLOUDSDK_CONFIG=str(tmp_path), NO_GCE_CHECK="true")
    for args in (["analyse", "--date", "2024-02-01", "--out", str(tmp_path / "out")],
                 ["validate", "experiments/desktop-search-shortcuts.toml"]):
        done = subprocess.run([sys.executable, "-m", "engine.cli", *args, "--backend", "bigquery",
                               "--project", "p"], capture_output=True, text=True, env=env,
                              cwd=ROOT, timeout=120)
        assert done.returncode == 2, done.stderr
        assert "gcloud auth application-default login" in done.stderr
        assert "GOOGLE_APPLICATION_CREDENTIALS" in done.stderr
        assert "Traceback" not in done.stderr
