"""Wiring: the job queue with its handlers and the periodic daily run, for worker processes."""
from __future__ import annotations

import datetime as dt

from huey import crontab

from bot.config import Settings
from bot.engine_port import Ports
from bot.github import GitHubApp
from bot.handlers import BotContext, daily_job, handlers
from bot.jobs.queue import JobQueue

DAILY_AT = crontab(minute="30", hour="2")  # after upstream's telemetry ETL has landed (UTC)
EVERY_MINUTE = crontab()


def build_queue(settings: Settings, ports: Ports | None = None, github: GitHubApp | None = None,
                today=dt.date.today) -> JobQueue:
    """A queue that can execute jobs (web processes only need `JobQueue(settings.job_store)`)."""
    context = BotContext(settings, github or GitHubApp(settings), ports or Ports(), today)
    queue = JobQueue(settings.job_store, handlers(context))

    @queue.huey.periodic_task(DAILY_AT, name="jetstream.daily")
    def enqueue_daily() -> None:
        queue.enqueue(daily_job(today()))

    @queue.huey.periodic_task(EVERY_MINUTE, name="jetstream.sweep")
    def sweep() -> None:
        queue.sweep()

    return queue
