"""Daily runs: the authenticated cron endpoint, and the daily job sharing the re-analysis jobs."""
from __future__ import annotations

from dataclasses import replace

import pytest

from tests.bot.harness import Bot, experiment_toml, registry_json


@pytest.fixture
def bot(settings, tmp_path):
    root = tmp_path / "repo"
    for slug in ("live", "ended", "desktop"):
        (root / "experiments").mkdir(parents=True, exist_ok=True)
        (root / "experiments" / f"{slug}.toml").write_text(experiment_toml())
    registry = registry_json({"live": ("fenix", "2024-03-01", None), "ended": ("fenix", "2023-01-01", "2023-02-01"),
                              "desktop": ("firefox_desktop", "2024-03-10", "2024-03-15")})
    instance = Bot(replace(settings, cron_token="cron-secret", config_root=root), registry, tmp_path)
    yield instance
    instance.close()


def test_healthz_and_cron_needs_authentication(bot):
    assert bot.http.get(f"{bot.url}/healthz").json() == {"ok": True}
    assert bot.http.post(f"{bot.url}/cron/daily").status_code == 403
    assert bot.http.post(f"{bot.url}/cron/daily", headers={"X-Appengine-Cron": "true"}).status_code == 403
    assert bot.http.post(f"{bot.url}/cron/daily", headers={"Authorization": "Bearer wrong"}).status_code == 403
    assert bot.http.post(f"{bot.url}/cron/daily", headers={"Authorization": "Bearer cron-secret"}).status_code == 202
    # Cloud Scheduler sends its own headers: the token may come in one of ours
    assert bot.http.post(f"{bot.url}/cron/daily", headers={"X-Jetstream-Cron-Token": "cron-secret"}).status_code == 202
    assert bot.http.post(f"{bot.url}/cron/daily", headers={"X-Jetstream-Cron-Token": "nope"}).status_code == 403


def test_daily_job_analyses_live_and_recent_experiments_once(bot):
    from bot.handlers import daily_job
    from tests.bot.harness import TODAY

    assert bot.queue.enqueue(daily_job(TODAY))
    assert not bot.queue.enqueue(daily_job(TODAY))  # the same day is queued once
    bot.work()
    assert sorted(bot.engine.calls) == [("desktop", "2024-03-19"), ("live", "2024-03-19")]
    assert bot.engine.recomputed == [False, False]  # a daily run computes only what completed
    groups = {r.job.group for r in bot.queue.store.select(kind="reanalyse")}
    assert groups == {"experiment:desktop", "experiment:live"}  # the same groups merges use
