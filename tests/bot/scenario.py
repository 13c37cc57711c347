"""The races an operator met, as one scenario for a running cluster: six PRs pushed three times
each, every delivery sent twice to random instances in shuffled order (an older `synchronize`
after the newest), `opened` and a merged `closed` delivered together, gateway errors after GitHub
applied a comment and a check-run creation, a re-requested validation of one SHA, a PR whose
last push reverts its config changes. `check(...)` asserts the end state on the fake GitHub."""
from __future__ import annotations

import json
import random
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from bot.reports import MARKER
from tests.bot import payloads
from tests.bot.fake_github import FakePull
from tests.bot.harness import experiment_toml, registry_json, seed_repo

REPO = "octo/experiments"
SLUGS = ["alpha", "bravo", "charlie"]
PRS = range(1, 7)
MERGED = {2, 5}  # opened and closed (merged) delivered together
REVERTED = 3  # the last push changes no config any more
REREQUESTED = 4  # its head is validated twice
BROKEN = '[experiment]\nenrollment_period = 7\nend_date = = "2024-04-01"\n'
REGISTRY = registry_json({slug: ("fenix", "2024-03-01", None) for slug in SLUGS})


@dataclass
class Plan:
    repo: Any
    base: str
    heads: dict[int, list[str]] = field(default_factory=dict)
    merges: dict[int, str] = field(default_factory=dict)
    deliveries: list[tuple[str, dict[str, Any], str]] = field(default_factory=list)
    warm_up: list[tuple[str, dict[str, Any], str]] = field(default_factory=list)


def prepare(fake_github, rng: random.Random) -> Plan:
    repo, base = seed_repo(fake_github, REPO, SLUGS)
    plan = Plan(repo, base)
    for number in PRS:
        slug = SLUGS[number % len(SLUGS)]
        path = f"experiments/{slug}.toml"
        first = repo.commit({path: BROKEN}, f"pr {number} wip", parent=base)
        second = repo.commit({path: BROKEN + f"# {number}\n"}, f"pr {number} more", parent=first)
        last = repo.commit({path: experiment_toml()} if number == REVERTED else
                           {path: BROKEN + f"bad = {{{number}\n"}, f"pr {number} last", parent=second)
        plan.heads[number] = [first, second, last]
        repo.pulls[number] = FakePull(number, base, last)
        events = [("opened", first), ("synchronize", second), ("synchronize", last)]
        if number == REVERTED:  # validated once before its config changes are reverted
            repo.pulls[number].head_sha = first
            plan.warm_up.append(("pull_request", payloads.pull_request("opened", REPO, number, first, base),
                                 f"{number}-opened-{first[:7]}"))
        for action, sha in events:
            plan.deliveries.append(("pull_request", payloads.pull_request(action, REPO, number, sha, base),
                                    f"{number}-{action}-{sha[:7]}"))
        if number in MERGED:
            merge_sha = repo.commit({}, f"Merge pull request #{number}", parent=last)
            repo.pulls[number].merged, repo.pulls[number].merge_sha = True, merge_sha
            plan.merges[number] = merge_sha
            plan.deliveries.append(("pull_request", payloads.pull_request(
                "closed", REPO, number, last, base, merge_sha=merge_sha), f"{number}-closed"))
    rng.shuffle(plan.deliveries)
    # GitHub applies these writes and then answers 502: a blind retry would duplicate them
    fake_github.fail_after_applying("POST", r"/issues/1/comments$")
    fake_github.fail_after_applying("POST", r"/check-runs$")
    fake_github.fail_after_applying("PATCH", r"/check-runs/\d+$")
    return plan


def deliver_all(cluster, plan: Plan, rng: random.Random) -> None:
    """The warm-up, then each delivery twice (a redelivery), from 8 concurrent senders."""
    for delivery in plan.warm_up:
        assert cluster.deliver(*delivery) == 202
    cluster.settle(quiet=0.2)
    plan.repo.pulls[REVERTED].head_sha = plan.heads[REVERTED][-1]
    sends = [d for d in plan.deliveries for _ in range(2)]
    rng.shuffle(sends)
    with ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(lambda d: cluster.deliver(*d), sends))
    assert set(statuses) == {202}


def rerequest(cluster, plan: Plan) -> None:
    head = plan.heads[REREQUESTED][-1]
    payload = payloads.check_run_rerequested(REPO, "jetstream/validate", head, [REREQUESTED])
    for _ in range(2):
        assert cluster.deliver("check_run", payload, f"rerequest-{head[:7]}") == 202


def check(plan: Plan, counts: dict[str, int], store) -> None:
    repo = plan.repo
    unfinished = [(r.job.key, r.state, r.error) for r in store.select() if r.state not in ("done", "superseded")]
    assert set(counts) <= {"done", "superseded"} and not unfinished, unfinished  # 0 jobs lost, none failed
    for number in PRS:
        [comment] = [c for c in repo.comments if c["issue"] == number and MARKER in c["body"]]
        head = plan.heads[number][-1]
        if number in MERGED:
            merge_sha = plan.merges[number]
            assert f"re-analysis after merge {merge_sha[:7]}" in comment["body"], comment["body"]
            [run] = repo.check_run("jetstream/reanalysis", merge_sha)
            assert run["status"] == "completed"
        elif number == REVERTED:
            assert f"validation of {head[:7]}: no config changes" in comment["body"], comment["body"]
        else:
            assert f"validation of {head[:7]}: " in comment["body"], comment["body"]
        runs = repo.check_run("jetstream/validate", head)
        assert len(runs) == (2 if number == REREQUESTED else 1), [r["external_id"] for r in runs]
    for run in repo.check_runs:
        assert run["status"] == "completed", run
        assert run["history"].count("completed") == 1, run
        annotations = [json.dumps(a, sort_keys=True) for a in run["annotations"]]
        assert len(annotations) == len(set(annotations)), run["external_id"]  # none duplicated
    ids = [(r["head_sha"], r["name"], r["external_id"]) for r in repo.check_runs]
    assert len(ids) == len(set(ids))  # one run per job, whatever failed and was retried
    broken_heads = [plan.heads[n][-1] for n in PRS if n != REVERTED]
    for head in broken_heads:
        assert all(r["conclusion"] == "failure" and r["annotations"] for r in repo.check_run("jetstream/validate", head))
