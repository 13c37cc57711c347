"""Runner queues for the worker tests (`python -m bot.jobs.runner tests.bot.runner_factory:queue`):
jobs that finish, hang past any deadline, or allocate more memory than a runner may have."""
from __future__ import annotations

import os
import time

from bot.jobs.queue import JobQueue, RetryPolicy

HANDLERS = {
    "quick": lambda job, queue: {"pid": os.getpid()},
    "hang": lambda job, queue: time.sleep(3600),
    "hog": lambda job, queue: {"size": len(bytearray(job.payload["megabytes"] * 1024 * 1024))},
}


def policy() -> RetryPolicy:
    return RetryPolicy(backoff=0.01, max_attempts=2, lease=2.0, deadlines={"hang": 1.0, "hog": 60.0, "quick": 60.0})


def queue() -> JobQueue:
    return JobQueue(os.environ["JETSTREAM_JOB_STORE"], HANDLERS, policy=policy())
