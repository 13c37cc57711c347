"""Wiring: the job queue with its handlers, retry policy and failure jobs; the worker around it."""
from __future__ import annotations

import datetime as dt
import functools

from bot.config import Settings
from bot.engine_port import Ports, validate_tree
from bot.github import GitHubApp, outage
from bot.handlers import KINDS, BotContext, daily_job, failure_job, handlers
from bot.jobs.queue import JobQueue, RetryPolicy
from bot.jobs.worker import Worker, daily_due


def policy(settings: Settings) -> RetryPolicy:
    return RetryPolicy(backoff=settings.retry_backoff, max_delay=settings.retry_max_delay,
                       horizon=settings.retry_horizon, max_attempts=settings.max_attempts,
                       lease=settings.lease_seconds,
                       deadlines={kind: settings.deadline(kind) for kind in KINDS})


def build_queue(settings: Settings, ports: Ports | None = None, github: GitHubApp | None = None,
                today=dt.date.today) -> JobQueue:
    """A queue that can execute jobs (web processes only need `JobQueue(settings.job_store)`)."""
    ports = ports or Ports(validate=functools.partial(
        validate_tree, bill_warning=settings.bill_warning_bytes))
    context = BotContext(settings, github or GitHubApp(settings), ports, today)
    return JobQueue(settings.job_store, handlers(context), policy=policy(settings), transient=outage,
                    on_failure={kind: failure_job for kind in ("validate", "merge", "reanalyse")})


def queue_from_env() -> JobQueue:
    """The runners' queue (`python -m bot.jobs.runner bot.runtime:queue_from_env`)."""
    return build_queue(Settings.from_env())


def build_worker(settings: Settings, slots: int) -> Worker:
    utc_now = lambda: dt.datetime.now(dt.timezone.utc)  # noqa: E731
    daily = daily_due(daily_job, settings.daily_at, utc_now) if settings.daily_at else None
    return Worker(build_queue(settings), "bot.runtime:queue_from_env", slots, daily=daily)
