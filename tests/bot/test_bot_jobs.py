"""The job store on both databases (a SQLite file, a real PostgreSQL server): de-duplication by
meaning, supersession, per-group exclusion under concurrent claimers, leases that expire and fence
their old owner, retries with backoff up to the horizon, failure jobs."""
from __future__ import annotations

import threading
import time

import pytest

from bot.jobs.model import Done, Job
from bot.jobs.queue import JobQueue, RetryPolicy
from bot.jobs.store import StoreError, open_store


def test_same_meaning_collapses_and_newer_supersedes(store_spec):
    seen = []
    queue = JobQueue(store_spec, {"r": lambda job, q: seen.append(job.key)})
    assert queue.enqueue(Job("r", "r:exp:sha1", "experiment:exp", supersedes=True))
    assert not queue.enqueue(Job("r", "r:exp:sha1", "experiment:exp", supersedes=True))
    assert queue.enqueue(Job("r", "r:exp:sha2", "experiment:exp", supersedes=True))
    assert queue.enqueue(Job("r", "r:other:sha1", "experiment:other", supersedes=True))
    queue.run_until_idle()
    assert seen == ["r:exp:sha2", "r:other:sha1"]
    states = {r.job.key: r.state for r in queue.store.select()}
    assert states == {"r:exp:sha1": "superseded", "r:exp:sha2": "done", "r:other:sha1": "done"}
    assert not queue.enqueue(Job("r", "r:exp:sha2", "experiment:exp"))  # done never runs twice


def test_intake_records_delivery_and_jobs_together(store_spec):
    queue = JobQueue(store_spec)
    jobs = [Job("v", "v:1", "pr:1"), Job("v", "v:1", "pr:1"), Job("v", "v:2", "pr:2")]
    assert queue.intake("delivery-a", "pull_request", jobs) == 2  # equal keys collapse
    assert queue.intake("delivery-a", "pull_request", [Job("v", "v:3", "pr:3")]) is None  # redelivery
    assert queue.intake("delivery-b", "pull_request", [Job("v", "v:2", "pr:2")]) == 0
    assert [r.job.key for r in queue.store.select()] == ["v:1", "v:2"]


def test_a_group_runs_one_job_at_a_time_whatever_the_claimers_race(store_spec):
    store = open_store(store_spec)
    store.insert_many(Job("w", f"w:{n}", f"g{n % 3}") for n in range(30))
    running: dict[str, str] = {}
    overlaps, done, lock = [], [], threading.Lock()

    def claimer(name: str) -> None:
        mine = open_store(store_spec)  # each claimer its own connection(s), as separate workers
        while True:
            claim = mine.claim(f"{name}:{time.monotonic_ns()}", lease_seconds=30)
            if claim is None:
                if len(done) == 30:
                    return
                time.sleep(0.001)
                continue
            with lock:
                if claim.job.group in running:
                    overlaps.append((running[claim.job.group], claim.job.key))
                running[claim.job.group] = claim.job.key
            time.sleep(0.002)
            with lock:
                del running[claim.job.group]
            assert mine.finish(claim, {"by": name})
            with lock:
                done.append(claim.job.key)

    threads = [threading.Thread(target=claimer, args=(f"c{n}",)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert overlaps == []
    assert sorted(done) == sorted(f"w:{n}" for n in range(30))  # each exactly once
    assert store.counts() == {"done": 30}


def test_an_expired_lease_is_recovered_and_fences_its_old_owner(store_spec):
    clock = [1000.0]
    store = open_store(store_spec, clock=lambda: clock[0])
    store.insert(Job("w", "w:1", "g"))
    first = store.claim("old", lease_seconds=30)
    assert store.claim("other", lease_seconds=30) is None  # its group is busy
    clock[0] += 20
    assert store.heartbeat("w:1", "old", 30) and store.recover() == []  # extended to 1050
    clock[0] += 40
    assert store.recover() == ["w:1"]
    second = store.claim("new", lease_seconds=30)
    assert (second.job.key, second.attempts, second.first_run) == ("w:1", 2, 1000.0)
    assert not store.heartbeat("w:1", "old", 30)
    assert not store.finish(first, {"by": "old"})  # the old owner can record nothing
    assert store.finish(second, {"by": "new"})
    assert store.get("w:1").result == {"by": "new"}


def test_errors_retry_with_backoff_then_fail_with_a_failure_job(store_spec):
    calls = []

    def flaky(job, q):
        calls.append(1)
        if len(calls) < 3:
            raise RuntimeError("transient")
        return Done({"ok": True}, (Job("n", "next", "g2"),))

    policy = RetryPolicy(backoff=0.0001, max_attempts=4)
    queue = JobQueue(store_spec, {"f": flaky, "n": lambda job, q: {}, "x": lambda job, q: 1 / 0}, policy=policy,
                     on_failure={"x": lambda job, reason: Job("told", f"told:{job.key}", job.group, {"why": reason})})
    queue.enqueue(Job("f", "f1", "g"))
    queue.enqueue(Job("x", "x1", "g3"))
    queue.run_until_idle()
    record = queue.store.get("f1")
    assert (record.state, record.attempts, len(calls)) == ("done", 3, 3)
    assert queue.store.get("next").state == "done"  # follow-up recorded with the finish
    failed = queue.store.get("x1")
    assert (failed.state, failed.attempts) == ("failed", 4)
    assert failed.error == "internal error (ZeroDivisionError); the details are in the worker's log (gave up after 4 attempts)"
    told = queue.store.get("told:x1")
    assert told.job.payload["why"] == failed.error and told.state == "failed"  # no handler for it here


def test_an_outage_is_retried_up_to_the_horizon(store_spec):
    clock = [0.0]
    outages = {"n": 0}

    def github_down(job, q):
        outages["n"] += 1
        clock[0] += 100.0  # each attempt meets the outage 100 s later
        raise ConnectionError("down")

    policy = RetryPolicy(backoff=1.0, max_delay=8.0, horizon=1000.0, max_attempts=2)
    queue = JobQueue(open_store(store_spec, clock=lambda: clock[0]), {"v": github_down}, policy=policy,
                     transient=lambda e: "GitHub API unreachable", clock=lambda: clock[0],
                     on_failure={"v": lambda job, reason: Job("told", "told", job.group, {"why": reason})})
    queue.enqueue(Job("v", "v1", "pr:1"))
    queue.run_until_idle()
    record = queue.store.get("v1")
    # far more than max_attempts: outages count by time, not attempts (100 s each, 1000 s horizon)
    assert record.state == "failed" and record.attempts == outages["n"] == 10
    assert queue.store.get("told").job.payload["why"] == \
        "GitHub API unreachable, for longer than the retry horizon (1000 s)"


def test_background_checkpoints_replace_checkpoints_on_commit(tmp_path):
    queue = JobQueue(str(tmp_path / "q.sqlite"))
    database = queue.store.db
    database.checkpoint_in_background(every=3600)  # the thread sleeps; the test checkpoints itself
    assert database.connection.execute("PRAGMA wal_autocheckpoint").fetchone() == (0,)
    for number in range(300):  # well past the default 1,000-page checkpoint threshold otherwise
        queue.intake(f"delivery-{number}", "push", [Job("v", f"v:{number}", "g", {"pad": "x" * 4000})])
    busy, frames, copied = database.checkpoint()
    assert busy == 0 and frames > 1_000 and copied == frames  # nothing was checkpointed on commit
    assert len(queue.store.select()) == 300


def test_an_unusable_store_is_a_readable_start_up_error(tmp_path, postgres_server):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    with pytest.raises(StoreError, match=r"^cannot open the SQLite job store .*a-file/jobs\.sqlite"):
        open_store(str(blocker / "jobs.sqlite"))  # its directory cannot exist
    unreachable = postgres_server.url.replace(f":{postgres_server.port}/", ":1/").replace("postgres@", "postgres:hunter2@")
    with pytest.raises(StoreError, match="^cannot connect to the PostgreSQL job store") as raised:
        open_store(unreachable)
    assert "hunter2" not in str(raised.value)
