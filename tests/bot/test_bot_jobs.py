"""Durable jobs: de-duplication by meaning, supersession, mutual exclusion, and workers killed at
several points completing the job exactly once after a restart (real processes, real SQLite)."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bot.jobs.model import Job
from bot.jobs.queue import JobQueue

SCRIPT = Path(__file__).with_name("kill_worker.py")


def _run_worker(db: Path, out: Path, kill_at: str) -> int:
    return subprocess.run([sys.executable, str(SCRIPT), str(db), str(out), kill_at], timeout=60).returncode


@pytest.mark.parametrize("kill_at", ["claimed", "mid", "unfinished", "done", "none"])
def test_killed_worker_completes_job_exactly_once_after_restart(tmp_path, kill_at):
    db, out = tmp_path / "jobs.sqlite", tmp_path / "out"
    out.mkdir()
    first = _run_worker(db, out, kill_at)
    assert first == (0 if kill_at == "none" else 9)
    if kill_at in ("claimed", "mid"):
        assert not (out / "one.json").exists()  # nothing partial is ever published
    assert _run_worker(db, out, kill_at) == 0
    assert _run_worker(db, out, kill_at) == 0  # a third start finds nothing to do
    assert json.loads((out / "one.json").read_text()) == {"rows": [1, 2, 3]}
    [record] = JobQueue(db).ledger.select()
    assert record.state == "done" and record.result == {"rows": 3}
    runs = (out / "effects.log").read_text().splitlines()
    # a job whose completion was recorded never runs again; an interrupted one runs once more
    assert len(runs) == (1 if kill_at in ("done", "none") else 2)


def test_same_meaning_collapses_and_newer_supersedes(tmp_path):
    seen = []
    queue = JobQueue(tmp_path / "q.sqlite", {"r": lambda job, q: seen.append(job.key)})
    assert queue.enqueue(Job("r", "r:exp:sha1", "experiment:exp", supersedes=True))
    assert not queue.enqueue(Job("r", "r:exp:sha1", "experiment:exp", supersedes=True))
    assert queue.enqueue(Job("r", "r:exp:sha2", "experiment:exp", supersedes=True))
    assert queue.enqueue(Job("r", "r:other:sha1", "experiment:other", supersedes=True))
    queue.run_until_idle()
    assert seen == ["r:exp:sha2", "r:other:sha1"]
    states = {r.job.key: r.state for r in queue.ledger.select()}
    assert states == {"r:exp:sha1": "superseded", "r:exp:sha2": "done", "r:other:sha1": "done"}
    assert not queue.enqueue(Job("r", "r:exp:sha2", "experiment:exp"))  # done never runs twice


def test_one_group_never_runs_twice_at_once(tmp_path):
    order = []
    queue = JobQueue(tmp_path / "q.sqlite")

    def nested(job, q):
        order.append(("start", job.key))
        if job.key == "a":
            q.enqueue(Job("n", "b", "experiment:x"))
            q.huey.execute(q.huey.dequeue())  # b is tried while a runs: it must wait
        order.append(("end", job.key))

    queue.handlers["n"] = nested
    queue.enqueue(Job("n", "a", "experiment:x"))
    queue.run_until_idle()
    assert order == [("start", "a"), ("end", "a"), ("start", "b"), ("end", "b")]


def test_failing_job_is_retried_then_recorded(tmp_path):
    calls = []

    def flaky(job, q):
        calls.append(1)
        if len(calls) < 3:
            raise RuntimeError("transient")
        return {"ok": True}

    queue = JobQueue(tmp_path / "q.sqlite", {"f": flaky})
    queue.enqueue(Job("f", "f1", "g"))
    queue.run_until_idle()
    record = queue.ledger.get("f1")
    assert (record.state, record.attempts, len(calls)) == ("done", 3, 3)


def test_intake_records_delivery_and_jobs_together(tmp_path):
    seen = []
    queue = JobQueue(tmp_path / "q.sqlite", {"v": lambda job, q: seen.append(job.key)})
    jobs = [Job("v", "v:1", "pr:1"), Job("v", "v:1", "pr:1"), Job("v", "v:2", "pr:2")]
    assert queue.intake("delivery-a", "pull_request", jobs) == 2  # equal keys collapse
    assert queue.intake("delivery-a", "pull_request", [Job("v", "v:3", "pr:3")]) is None  # redelivery
    assert queue.intake("delivery-b", "pull_request", [Job("v", "v:2", "pr:2")]) == 0
    assert [r.job.key for r in queue.ledger.select()] == ["v:1", "v:2"]
    queue.run_until_idle()
    assert seen == ["v:1", "v:2"]


def test_sweep_hands_over_jobs_the_worker_never_received(tmp_path):
    seen = []
    path = tmp_path / "q.sqlite"
    JobQueue(path).ledger.insert(Job("v", "v:lost", "pr:1"))  # committed, never handed to huey
    queue = JobQueue(path, {"v": lambda job, q: seen.append(job.key)})
    assert queue.run_until_idle() == 0
    assert queue.sweep(older_than=3600) == []  # too recent: the hand-over may still be on its way
    assert queue.sweep(older_than=0) == ["v:lost"]
    queue.run_until_idle()
    assert seen == ["v:lost"] and queue.sweep(older_than=0) == []


def test_background_checkpoints_replace_checkpoints_on_commit(tmp_path):
    queue = JobQueue(tmp_path / "q.sqlite")
    queue.checkpoint_in_background(every=3600)  # the thread sleeps; the test checkpoints itself
    assert queue.ledger.connection.execute("PRAGMA wal_autocheckpoint").fetchone() == (0,)
    assert queue.huey.storage.conn.execute("PRAGMA wal_autocheckpoint").fetchone() == (0,)
    for number in range(300):  # well past the default 1,000-page checkpoint threshold otherwise
        queue.intake(f"delivery-{number}", "push", [Job("v", f"v:{number}", "g", {"pad": "x" * 4000})])
    busy, frames, copied = queue.checkpoint()
    assert busy == 0 and frames > 1_000 and copied == frames  # nothing was checkpointed on commit
    assert len(queue.ledger.select()) == 300
