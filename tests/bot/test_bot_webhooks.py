"""Webhook intake over real HTTP: signatures, limits, de-duplication, allow-lists, commands, forks."""
from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

import pytest

from bot.config import ConfigurationError, Settings
from bot.reports import MARKER
from tests.bot import payloads
from tests.bot.fake_github import FakePull
from tests.bot.harness import Bot, experiment_toml, registry_json, seed_repo

REPO = "octo/experiments"


@pytest.fixture
def bot(settings, tmp_path):
    instance = Bot(settings, registry_json({"alpha": ("fenix", "2024-03-01", None)}), tmp_path)
    yield instance
    instance.close()


def _pr(fake_github, number=5, fork=False):
    repo, base = seed_repo(fake_github, REPO, ["alpha"])
    head = repo.commit({"experiments/alpha.toml": experiment_toml() + "# edit\n"}, "edit", parent=base)
    repo.pulls[number] = FakePull(number, base, head, fork=fork)
    return repo, base, head


def test_app_refuses_to_start_without_secret():
    with pytest.raises(ConfigurationError):
        Settings.from_env({"GITHUB_APP_ID": "1"})


def test_forged_missing_and_stale_signatures_are_refused(fake_github, bot):
    payload = payloads.pull_request("opened", REPO, 5, "a" * 40, "b" * 40)
    assert bot.deliver("pull_request", payload, secret="wrong").status_code == 401
    body, signature = payloads.signed(payload, bot.settings.webhook_secret.decode())
    headers = {"X-GitHub-Event": "pull_request", "X-GitHub-Delivery": "d1"}
    assert bot.http.post(f"{bot.url}/webhook", data=body, headers=headers).status_code == 401
    # a signature captured from an earlier delivery does not cover a changed body
    tampered = json.dumps(dict(payload, number=6)).encode()
    stale = bot.http.post(f"{bot.url}/webhook", data=tampered, headers={**headers, "X-Hub-Signature-256": signature})
    assert stale.status_code == 401
    assert bot.queue.store.select() == []


def test_oversized_body_is_refused(bot):
    small = replace(bot.settings, max_body_bytes=1000)
    from bot.app import create_app
    client = create_app(small, bot.queue).test_client()
    body, signature = payloads.signed({"padding": "x" * 2000}, small.webhook_secret.decode())
    answer = client.post("/webhook", data=body, headers={"X-Hub-Signature-256": signature,
                                                         "X-GitHub-Event": "push", "X-GitHub-Delivery": "big"})
    assert answer.status_code == 413


def test_duplicate_deliveries_and_racing_events_make_one_job_and_one_comment(fake_github, bot):
    repo, base, head = _pr(fake_github)
    opened = payloads.pull_request("opened", REPO, 5, head, base)
    reopened = payloads.pull_request("reopened", REPO, 5, head, base)
    sends = [("pull_request", opened, "same-delivery")] * 6 + [("pull_request", reopened, None)] * 4
    with ThreadPoolExecutor(8) as pool:
        codes = list(pool.map(lambda args: bot.deliver(*args).status_code, sends))
    assert codes == [202] * 10
    assert [r.job.kind for r in bot.queue.store.select()] == ["validate"]
    bot.work()
    bot.deliver("pull_request", payloads.pull_request("synchronize", REPO, 5, head, base))
    bot.work()
    assert len([c for c in repo.comments if MARKER in c["body"]]) == 1
    assert len(repo.check_run("jetstream/validate", head)) == 1


def test_allow_list_drops_other_repositories(fake_github, settings, tmp_path):
    limited = replace(settings, allowed_repositories=frozenset({"octo/other"}))
    bot = Bot(limited, [], tmp_path)
    try:
        assert bot.deliver("pull_request", payloads.pull_request("opened", REPO, 5, "a" * 40, "b" * 40)).status_code == 202
        assert bot.queue.store.select() == []
    finally:
        bot.close()


def test_fork_pull_requests_never_reach_sql(fake_github, settings, tmp_path):
    opened = []  # every time a PR's validation asks for the warehouse
    bot = Bot(settings, registry_json({"alpha": ("fenix", "2024-03-01", None)}), tmp_path,
              dry_run_backend=lambda s: opened.append(s) or None)
    try:
        repo, base, head = _pr(fake_github, number=8, fork=True)
        bot.deliver("pull_request", payloads.pull_request("opened", REPO, 8, head, base))
        bot.work()
        assert opened == []
        [comment] = [c for c in repo.comments if MARKER in c["body"]]
        assert "structural checks only" in comment["body"]
        repo.pulls[9] = FakePull(9, base, head, fork=False)
        bot.deliver("pull_request", payloads.pull_request("opened", REPO, 9, head, base))
        bot.work()
        assert len(opened) == 1
    finally:
        bot.close()


def test_comment_commands_need_write_access(fake_github, bot):
    repo, base, head = _pr(fake_github)
    repo.permissions.update(alice="write", mallory="read")
    bot.deliver("issue_comment", payloads.issue_comment(REPO, 5, "mallory", "/jetstream validate", 501))
    bot.work()
    assert repo.check_runs == []
    assert "need write access" in repo.comments[-1]["body"]
    bot.deliver("issue_comment", payloads.issue_comment(REPO, 5, "alice", "/jetstream validate", 502))
    bot.deliver("issue_comment", payloads.issue_comment(REPO, 5, "alice", "/jetstream help", 503))
    bot.work()
    assert repo.check_run("jetstream/validate", head)[0]["conclusion"] == "success"
    assert any("/jetstream rerun" in c["body"] for c in repo.comments)



def test_rerun_command_names_an_experiment_of_the_merge(fake_github, bot):
    repo, base, head = _pr(fake_github)
    repo.permissions.update(alice="write")
    merge_sha = repo.commit({}, "Merge pull request #5", parent=head)
    repo.pulls[5].merged, repo.pulls[5].merge_sha = True, merge_sha
    for comment_id, target in enumerate(("nope", "../experiments/alpha", "alpha"), start=601):
        bot.deliver("issue_comment", payloads.issue_comment(REPO, 5, "alice", f"/jetstream rerun {target}",
                                                            comment_id))
    bot.work()
    refusals = [c["body"] for c in repo.comments if "No experiment config named" in c["body"]]
    assert len(refusals) == 2
    assert bot.engine.calls == [("alpha", "2024-03-19")]

def test_rerequested_check_run_revalidates(fake_github, bot):
    repo, base, head = _pr(fake_github)
    bot.deliver("pull_request", payloads.pull_request("opened", REPO, 5, head, base))
    bot.work()
    bot.deliver("check_run", payloads.check_run_rerequested(REPO, "jetstream/validate", head, [5]))
    bot.work()
    # a re-request gets a fresh run (GitHub appends annotations to a run: reuse would pile them up)
    first, second = repo.check_run("jetstream/validate", head)
    assert first["history"].count("completed") == second["history"].count("completed") == 1
    assert first["external_id"] != second["external_id"]


def test_a_tree_without_a_layout_gets_a_finding_without_server_paths(fake_github, bot):
    repo, base = seed_repo(fake_github, REPO, ["alpha"])
    head = repo.commit({"README.md": "everything else deleted\n"}, "wipe")  # no parent: a bare tree
    repo.pulls[6] = FakePull(6, base, head)
    bot.deliver("pull_request", payloads.pull_request("opened", REPO, 6, head, base))
    bot.work()
    [comment] = [c for c in repo.comments if MARKER in c["body"]]
    assert "layout" in comment["body"] and "the repository has neither" in comment["body"]
    assert "/tmp" not in comment["body"] and "jetstream-pr-" not in comment["body"]
