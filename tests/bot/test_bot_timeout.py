"""The re-analysis child is bounded by `JETSTREAM_ANALYSIS_TIMEOUT`: a run that outlives it is
killed with everything it started, and the PR shows that experiment as failed."""
from __future__ import annotations

import os
import sys
import time
from dataclasses import replace

import pytest

from bot.config import ConfigurationError, Settings
from bot.engine_port import reanalyse, run_bounded
from bot.reports import MARKER
from engine.results.export import metadata_name
from tests.bot.cluster import alive
from tests.bot.harness import Bot, experiment_toml, registry_json, seed_repo

REPO = "octo/experiments"

# The child starts a grandchild that shares its output pipes, then both sleep far past the timeout.
FAMILY = """
import pathlib, subprocess, sys, time
grandchild = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
pathlib.Path(sys.argv[1]).write_text(str(grandchild.pid))
time.sleep(120)
"""


def test_job_deadlines_default_per_kind_and_can_be_set():
    settings = Settings.from_env({"GITHUB_WEBHOOK_SECRET": "s", "JETSTREAM_ANALYSIS_TIMEOUT": "90"})
    assert (settings.deadline("validate"), settings.deadline("reanalyse")) == (600.0, 390.0)
    tuned = Settings.from_env({"GITHUB_WEBHOOK_SECRET": "s", "JETSTREAM_DEADLINES": "validate=30, reanalyse=7200"})
    assert (tuned.deadline("validate"), tuned.deadline("reanalyse"), tuned.deadline("merge")) == (30.0, 7200.0, 600.0)
    for bad in ("validate", "validate=0", "=5", "validate=soon"):
        with pytest.raises(ConfigurationError, match="JETSTREAM_DEADLINES"):
            Settings.from_env({"GITHUB_WEBHOOK_SECRET": "s", "JETSTREAM_DEADLINES": bad})


def test_timeout_setting_defaults_to_half_an_hour_and_must_be_positive():
    assert Settings.from_env({"GITHUB_WEBHOOK_SECRET": "s"}).analysis_timeout == 1800.0
    assert Settings.from_env({"GITHUB_WEBHOOK_SECRET": "s", "JETSTREAM_ANALYSIS_TIMEOUT": "90"}).analysis_timeout == 90.0
    for bad in ("0", "-5", "soon"):
        with pytest.raises(ConfigurationError, match="JETSTREAM_ANALYSIS_TIMEOUT"):
            Settings.from_env({"GITHUB_WEBHOOK_SECRET": "s", "JETSTREAM_ANALYSIS_TIMEOUT": bad})


def test_a_run_past_its_timeout_is_killed_with_its_children(tmp_path):
    pid_file = tmp_path / "grandchild.pid"
    assert run_bounded([sys.executable, "-c", FAMILY, str(pid_file)], os.environ, timeout=3.0) is None
    grandchild = int(pid_file.read_text())
    for _ in range(100):  # SIGKILL is delivered asynchronously: give the kernel a moment
        if not alive(grandchild):
            break
        time.sleep(0.05)
    assert not alive(grandchild)
    done = run_bounded([sys.executable, "-c", "print('ok')"], os.environ, timeout=60.0)
    assert done is not None and (done.returncode, done.stdout) == (0, "ok\n")


def test_reanalysis_timeout_is_a_failed_status_on_the_pr(fake_github, settings, tmp_path):
    telemetry = tmp_path / "telemetry.duckdb"
    telemetry.write_bytes(b"")  # never opened: the child is killed long before it gets there
    bot = Bot(replace(settings, telemetry_db=telemetry, analysis_timeout=0.001),
              registry_json({"alpha": ("fenix", "2024-03-01", None)}), tmp_path, engine=reanalyse)
    try:
        repo, base = seed_repo(fake_github, REPO, ["alpha"])
        head = repo.commit({"experiments/alpha.toml": experiment_toml() + "# edit\n"}, "edit", parent=base)
        merge_sha = bot.merge(repo, 4, base, head)
        bot.work()
        [comment] = [c for c in repo.comments if MARKER in c["body"]]
        assert "| alpha | failed: timed out after 0\\.001 s \\(JETSTREAM\\_ANALYSIS\\_TIMEOUT\\) |  |" in comment["body"]
        [run] = repo.check_run("jetstream/reanalysis", merge_sha)
        assert (run["status"], run["conclusion"]) == ("completed", "failure")
        assert not (tmp_path / "results" / metadata_name("alpha")).exists()  # nothing published
    finally:
        bot.close()
