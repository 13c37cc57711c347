"""BigQuery byte estimates in the PR plan, against the local server speaking BigQuery's REST API;
fork PRs never reach it."""
from __future__ import annotations

from dataclasses import replace

import pytest

from bot.engine_port import dry_run_backend, validate_tree
from bot.reports import MARKER
from engine.experimenter import parse_registry
from tests.bot import payloads
from tests.bot.fake_github import FakePull
from tests.bot.harness import Bot, base_files, experiment_toml, registry_json, seed_repo
from tests.engine.fake_bigquery import (
    FakeBigQuery,  # answers every dry run with 123,456,789 bytes
)

REPO = "octo/experiments"


@pytest.fixture
def bigquery(monkeypatch):
    with FakeBigQuery() as server:
        monkeypatch.setenv("BIGQUERY_EMULATOR_HOST", server.url)  # the client library's own switch
        yield server


def _sticky(repo):
    [comment] = [c for c in repo.comments if MARKER in c["body"]]
    return comment["body"]


def test_plan_shows_dry_run_bytes_per_experiment_and_forks_never_reach_bigquery(
        fake_github, settings, tmp_path, bigquery):
    registry = registry_json({"alpha": ("fenix", "2024-03-01", None), "bravo": ("fenix", "2024-03-01", None)})
    bot = Bot(replace(settings, bigquery_project="proj"), registry, tmp_path)
    try:
        repo, base = seed_repo(fake_github, REPO, ["alpha", "bravo"])
        head = repo.commit({"experiments/alpha.toml": experiment_toml() + "# edit\n"}, "edit", parent=base)
        repo.pulls[7] = FakePull(7, base, head, fork=True)
        bot.deliver("pull_request", payloads.pull_request("opened", REPO, 7, head, base))
        bot.work()
        assert bigquery.requests == []
        assert "structural checks only" in _sticky(repo) and "BigQuery" not in _sticky(repo)

        repo.pulls[8] = FakePull(8, base, head)
        bot.deliver("pull_request", payloads.pull_request("opened", REPO, 8, head, base))
        bot.work()
        inserts = [r["body"]["configuration"] for r in bigquery.requests if r["method"] == "POST"]
        assert inserts and all(c["dryRun"] is True for c in inserts)  # nothing but dry runs
        assert all(c["query"]["defaultDataset"] == {"projectId": "proj", "datasetId": "jetstream"}
                   for c in inserts)
        body = [c["body"] for c in repo.comments if c["issue"] == 8 and MARKER in c["body"]][0]
        # enrollments + the per-client query of every ready window: 2 dry runs of 123.5 MB
        assert "- alpha: its config changed (BigQuery: 246.9 MB)" in body
        assert "BigQuery bill of the re-analyses: 246.9 MB (1 of 1 experiments estimated" in body
        assert "dry\\-run\\-bill" not in body  # below the default warning threshold
        assert "bravo" not in body
        assert "dry-run on bigquery" in body  # the PR's queries were dry-run on BigQuery too
        assert "dry\\-run\\-bytes" not in body  # its byte notice is the plan's estimate already
        # each PR's validation has its own run on the shared commit, owned by its job
        [run] = [r for r in repo.check_run("jetstream/validate", head) if r["external_id"].split(":")[2] == "8"]
        assert "(BigQuery: 246.9 MB)" in run["output"]["summary"]
    finally:
        bot.close()


def _tree(root):
    """A config tree with the base files and experiment `alpha`."""
    for name, content in base_files().items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(content)
    (root / "experiments").mkdir()
    (root / "experiments" / "alpha.toml").write_text(experiment_toml())


def test_one_pass_gives_findings_specs_and_estimates(settings, tmp_path, bigquery):
    _tree(tmp_path)
    (tmp_path / "experiments" / "bravo.toml").write_text("[experiment\n")  # does not parse
    assert dry_run_backend(settings) is None  # no warehouse configured: nothing is dry-run
    registry = parse_registry(registry_json({"alpha": ("fenix", "2024-03-01", None)}))
    offline = validate_tree(tmp_path, None, registry=registry, backend=None)
    assert offline.estimates is None and bigquery.requests == []
    backend = dry_run_backend(replace(settings, bigquery_project="proj"))
    checked = validate_tree(tmp_path, None, registry=registry, backend=backend)
    assert checked.estimates == {"alpha": 2 * 123_456_789}  # bravo never resolved: no estimate
    assert set(checked.specs) == {"alpha"} and any(f.path.endswith("bravo.toml") for f in checked.findings)
    assert "dry-run-bytes" not in {f.code for f in checked.findings}  # the estimate is data, not a finding


def test_a_bill_above_the_threshold_is_a_warning_on_the_config(settings, tmp_path, bigquery):
    _tree(tmp_path)
    registry = parse_registry(registry_json({"alpha": ("fenix", "2024-03-01", None)}))
    backend = dry_run_backend(replace(settings, bigquery_project="proj"))
    checked = validate_tree(tmp_path, None, registry=registry, backend=backend,
                            bill_warning=200_000_000)
    (warning,) = [f for f in checked.findings if f.code == "dry-run-bill"]
    assert warning.path == "experiments/alpha.toml" and warning.line == 1
    assert "would bill 246.9 MB" in warning.message
