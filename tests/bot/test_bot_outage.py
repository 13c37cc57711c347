"""GitHub outages against real processes (one `jetstream serve --with-worker` on SQLite).

Time is scaled 1:30 so the test stays short: a 150 s outage is 5 s of every request failing with a
502, and the production retry settings (2 s first backoff, 300 s longest delay, 3600 s horizon)
are 0.067 s, 10 s and 120 s. The old give-up (5 attempts, ~68 s: 2.3 s scaled) ended inside it."""
from __future__ import annotations

import time

import pytest

from bot.reports import MARKER
from tests.bot import payloads
from tests.bot.cluster import Cluster
from tests.bot.fake_github import FakePull
from tests.bot.harness import registry_json, seed_repo

REPO = "octo/experiments"
SCALE = 30
BROKEN = '[experiment]\nenrollment_period = 7\nend_date = = "2024-04-01"\n'


@pytest.fixture
def cluster(fake_github, rsa_key, tmp_path):
    made = []

    def make(**env: str) -> Cluster:
        instance = Cluster(fake_github, rsa_key[0], str(tmp_path / "jobs.sqlite"), tmp_path,
                           registry_json({"alpha": ("fenix", "2024-03-01", None)}), **env)
        instance.start_web("--with-worker", "--workers", "1")
        made.append(instance)
        return instance

    yield make
    for instance in made:
        instance.close()


def _open_pr(fake_github, cluster: Cluster, outage: float) -> tuple[object, str]:
    repo, base = seed_repo(fake_github, REPO, ["alpha"])
    head = repo.commit({"experiments/alpha.toml": BROKEN}, "edit", parent=base)
    repo.pulls[1] = FakePull(1, base, head)
    assert cluster.deliver("pull_request", payloads.pull_request("opened", REPO, 1, head, base)) == 202
    fake_github.outage(outage)  # the moment the delivery is in: the worker meets the outage
    return repo, head


def test_a_150_s_outage_ends_with_the_check_and_the_comment(fake_github, cluster):
    deployment = cluster(JETSTREAM_RETRY_BACKOFF=str(2 / SCALE), JETSTREAM_RETRY_MAX_DELAY=str(300 / SCALE),
                         JETSTREAM_RETRY_HORIZON=str(3600 / SCALE))
    started = time.monotonic()
    repo, head = _open_pr(fake_github, deployment, 150 / SCALE)
    deployment.settle(timeout=60)
    assert time.monotonic() - started >= 150 / SCALE  # nothing finished during the outage
    [record] = deployment.store.select()
    assert record.state == "done" and record.attempts >= 3  # retried through the whole outage
    assert fake_github.outage_answers >= record.attempts - 1  # every attempt but the last met it
    [run] = repo.check_run("jetstream/validate", head)
    assert (run["status"], run["conclusion"]) == ("completed", "failure") and run["annotations"]
    [comment] = [c for c in repo.comments if MARKER in c["body"]]
    assert f"validation of {head[:7]}: 1 error" in comment["body"]


def test_an_outage_past_the_horizon_leaves_a_failed_check_saying_why(fake_github, cluster):
    deployment = cluster(JETSTREAM_RETRY_BACKOFF="0.05", JETSTREAM_RETRY_MAX_DELAY="0.5",
                         JETSTREAM_RETRY_HORIZON="3")
    repo, head = _open_pr(fake_github, deployment, 4.5)
    deployment.settle(timeout=60)
    states = {r.job.kind: r.state for r in deployment.store.select()}
    assert states == {"validate": "failed", "failure": "done"}
    [run] = repo.check_run("jetstream/validate", head)  # the failed job's own run, completed
    assert (run["status"], run["conclusion"]) == ("completed", "failure")
    assert run["output"]["title"] == "jetstream could not finish"
    summary = run["output"]["summary"]
    assert "GitHub API unavailable" in summary and "retry horizon \\(3 s\\)" in summary, summary
    for leak in ("/", "python", "PID", "Traceback"):
        assert leak not in summary
