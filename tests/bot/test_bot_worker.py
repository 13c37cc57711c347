"""The worker's own guarantees, with runner processes running small test jobs: a job past its
deadline has its runner's process group killed and fails visibly after its attempts; a job that
allocates past JETSTREAM_JOB_MEMORY_MB fails with a MemoryError instead of taking the host down;
other jobs keep running in fresh runners."""
from __future__ import annotations

import os
import threading
import time

import pytest

from bot.jobs.model import Job
from bot.jobs.queue import JobQueue
from bot.jobs.worker import Worker
from tests.bot.runner_factory import policy


@pytest.fixture
def worker(store_spec, monkeypatch):
    monkeypatch.setenv("JETSTREAM_JOB_STORE", store_spec)
    monkeypatch.setenv("JETSTREAM_JOB_MEMORY_MB", "1024")
    told = lambda job, reason: Job("told", f"told:{job.key}", job.group, {"why": reason})  # noqa: E731
    queue = JobQueue(store_spec, policy=policy(), on_failure={"hang": told, "hog": told})
    yield Worker(queue, "tests.bot.runner_factory:queue", slots=2)


def _wait_settled(queue: JobQueue, keys: list[str]) -> None:
    deadline = time.monotonic() + 90
    while any(queue.store.get(k) is None or queue.store.get(k).state in ("queued", "running") for k in keys):
        assert time.monotonic() < deadline, queue.store.select()
        time.sleep(0.1)


def test_deadlines_and_memory_bounds_fail_visibly_and_spare_other_jobs(worker):
    queue = worker.queue
    for job in (Job("hang", "hang:1", "g1"), Job("hog", "hog:1", "g2", {"megabytes": 4096}),
                Job("hog", "hog:small", "g3", {"megabytes": 64}), Job("quick", "quick:1", "g4")):
        assert queue.enqueue(job)
    thread = threading.Thread(target=worker.run, daemon=True)
    thread.start()
    try:
        _wait_settled(queue, ["hang:1", "hog:1", "hog:small", "quick:1"])
    finally:
        worker.stop()
        thread.join(30)
    hang, hog = queue.store.get("hang:1"), queue.store.get("hog:1")
    assert (hang.state, hang.attempts) == ("failed", 2)
    assert hang.error == "it did not finish within its 1 s deadline (gave up after 2 attempts)"
    assert (hog.state, hog.attempts) == ("failed", 2)
    assert hog.error == "internal error (MemoryError); the details are in the worker's log (gave up after 2 attempts)"
    assert queue.store.get("hog:small").state == "done"  # under the bound: fine
    quick = queue.store.get("quick:1")
    assert quick.state == "done" and quick.result["pid"] != os.getpid()  # ran in a runner child
    assert queue.store.get("told:hang:1").job.payload["why"] == hang.error  # the visible failure is queued
