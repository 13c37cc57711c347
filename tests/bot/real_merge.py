"""A merged PR whose re-analysis runs the real engine (the small config of tests/e2e), delivered
to a running cluster; and the synthetic telemetry it reads."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from engine.synthetic.world import generate
from tests.bot import payloads
from tests.bot.fake_github import FakePull
from tests.e2e.test_bot_flow import AFTER, SLUG, _small_repo

__all__ = ["SLUG", "deliver_merge", "telemetry"]


def telemetry(tmp: Path, clients: int = 2000, days: int = 60, seed: int = 1) -> tuple[Path, list[dict[str, Any]]]:
    """A synthetic telemetry file and its registry."""
    path = tmp / "telemetry.duckdb"
    world = generate(path, clients=clients, days=days, seed=seed)
    return path, json.loads(world.registry_json())


def deliver_merge(fake_github: Any, cluster: Any, number: int = 21) -> tuple[Any, str]:
    """PR `number` changes the small experiment's config and is merged; its `closed` event is
    delivered. The repository and the merge SHA."""
    repo, base = _small_repo(fake_github)
    head = repo.commit({f"experiments/{SLUG}.toml": AFTER}, "count active hours", parent=base)
    merge_sha = repo.commit({}, f"Merge pull request #{number}", parent=head)
    repo.pulls[number] = FakePull(number, base, head, merged=True, merge_sha=merge_sha)
    assert cluster.deliver("pull_request", payloads.pull_request(
        "closed", repo.full_name, number, head, base, merge_sha=merge_sha)) == 202
    return repo, merge_sha
