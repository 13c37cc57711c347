"""How the PR's SQL was checked: a configured warehouse that cannot be opened costs the dry run
only (the validation completes and says so); without a warehouse nothing is claimed."""
from __future__ import annotations

from dataclasses import replace

from bot.reports import MARKER
from tests.bot import payloads
from tests.bot.fake_github import FakePull
from tests.bot.harness import Bot, experiment_toml, registry_json, seed_repo

REPO = "octo/experiments"


def _validated_comment(fake_github, bot) -> tuple[str, str]:
    repo, base = seed_repo(fake_github, REPO, ["alpha"])
    head = repo.commit({"experiments/alpha.toml": experiment_toml() + "# edit\n"}, "edit", parent=base)
    repo.pulls[6] = FakePull(6, base, head)
    bot.deliver("pull_request", payloads.pull_request("opened", REPO, 6, head, base))
    bot.work()
    [run] = repo.check_run("jetstream/validate", head)
    [comment] = [c for c in repo.comments if MARKER in c["body"]]
    return run["conclusion"], comment["body"]


def test_unopenable_warehouse_still_validates_structurally(fake_github, settings, tmp_path):
    missing = tmp_path / "no-such-telemetry.duckdb"
    bot = Bot(replace(settings, telemetry_db=missing), registry_json({"alpha": ("fenix", "2024-03-01", None)}), tmp_path)
    try:
        conclusion, body = _validated_comment(fake_github, bot)
    finally:
        bot.close()
    assert conclusion == "success"
    assert "_SQL dry run unavailable (ValueError): structural checks only._" in body
    assert str(missing) not in body  # server paths and error details go to the log only


def test_without_a_warehouse_no_dry_run_is_claimed(fake_github, settings, tmp_path):
    bot = Bot(settings, registry_json({"alpha": ("fenix", "2024-03-01", None)}), tmp_path)
    try:
        conclusion, body = _validated_comment(fake_github, bot)
    finally:
        bot.close()
    assert conclusion == "success"
    assert "dry run" not in body and "dry-run" not in body and "structural checks only" not in body
