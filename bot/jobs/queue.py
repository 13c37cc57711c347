"""Durable jobs: a SQLite ledger of what must happen, with huey as the worker transport.

Huey alone forgets a task once a worker pops it, so a killed worker would lose it. The ledger row
is the truth: `queued -> running -> done|failed|superseded`. Every huey task only carries a job
key; running it claims the row first, so a duplicate or stale huey task is a no-op and a `done`
job never runs twice. On worker start `recover()` re-queues rows whose owner died mid-job.

A job's `key` is its meaning (e.g. validate:repo:pr:sha), so duplicate deliveries collapse; its
`group` is the unit of mutual exclusion (one PR, one experiment): two jobs of one group never run
at once, and a newer job of a superseding kind replaces queued older ones of the same group.
"""
from __future__ import annotations

import contextlib
import datetime
import json
import logging
import os
import socket
import sqlite3
import threading
import time
import uuid
from pathlib import Path
from typing import Any, Iterator, Mapping, Sequence

from huey import SqliteHuey

from bot.jobs.model import Handler, Job, JobRecord

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 5
BUSY_RETRY_SECONDS = 2.0
LEASE_SECONDS = 3600.0  # a running job owned by another host is presumed dead after this
CHECKPOINT_SECONDS = 1.0

_SCHEMA = """
CREATE TABLE IF NOT EXISTS jetstream_jobs (
    key TEXT PRIMARY KEY, kind TEXT NOT NULL, grp TEXT NOT NULL, payload TEXT NOT NULL,
    state TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, owner TEXT,
    created REAL NOT NULL, updated REAL NOT NULL, result TEXT, error TEXT);
CREATE INDEX IF NOT EXISTS jetstream_jobs_grp ON jetstream_jobs (grp, state);
CREATE TABLE IF NOT EXISTS jetstream_deliveries (
    id TEXT PRIMARY KEY, event TEXT NOT NULL, received REAL NOT NULL);
"""
_RECORDS = "SELECT kind, key, grp, payload, state, attempts, result, error FROM jetstream_jobs"


class _Busy(Exception):
    """Another job of the same group is running; try again shortly."""


class Ledger:
    """The job table. Short transactions on a WAL database shared by web and worker processes."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # One connection per process, serialised by a lock: opening one per call costs more than
        # the writes. WAL + synchronous=NORMAL survives a killed process (not a power cut).
        self._db = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)
        self._lock = threading.Lock()
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"

    @property
    def connection(self) -> sqlite3.Connection:
        """This process's connection (for connection-level pragmas; statements go through methods)."""
        return self._db

    @contextlib.contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            yield self._db

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._connect() as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")

    def intake(self, delivery_id: str, event: str, jobs: Sequence[Job]) -> list[Job] | None:
        """A webhook delivery and the jobs it means, in one transaction: None if the delivery id
        was seen before, else the jobs that are new (a job equal to an existing one collapses)."""
        now = time.time()
        with self._transaction() as db:
            cursor = db.execute("INSERT OR IGNORE INTO jetstream_deliveries (id, event, received) VALUES (?, ?, ?)",
                                (delivery_id, event, now))
            if cursor.rowcount != 1:
                return None
            return [job for job in jobs if self._insert(db, job, now)]

    def insert(self, job: Job) -> bool:
        with self._transaction() as db:
            return self._insert(db, job, time.time())

    @staticmethod
    def _insert(db: sqlite3.Connection, job: Job, now: float) -> bool:
        cursor = db.execute(
            "INSERT OR IGNORE INTO jetstream_jobs (key, kind, grp, payload, state, created, updated)"
            " VALUES (?, ?, ?, ?, 'queued', ?, ?)",
            (job.key, job.kind, job.group, json.dumps(dict(job.payload), sort_keys=True), now, now))
        inserted = cursor.rowcount == 1
        if inserted and job.supersedes:
            db.execute("UPDATE jetstream_jobs SET state='superseded', updated=? WHERE grp=? AND kind=?"
                       " AND key<>? AND state='queued'", (now, job.group, job.kind, job.key))
        return inserted

    def queued_before(self, timestamp: float) -> list[str]:
        """Keys of jobs queued (or re-queued) before `timestamp` and not yet claimed."""
        with self._connect() as db:
            rows = db.execute("SELECT key FROM jetstream_jobs WHERE state='queued' AND updated<?",
                              (timestamp,)).fetchall()
        return [key for (key,) in rows]

    def claim(self, key: str) -> Job | None:
        """Mark a queued job running for this owner; None if it is not runnable (done, gone...)."""
        with self._transaction() as db:
            row = db.execute("SELECT kind, grp, payload, state FROM jetstream_jobs WHERE key=?", (key,)).fetchone()
            if row is None or row[3] != "queued":
                return None
            kind, group, payload, _ = row
            if db.execute("SELECT 1 FROM jetstream_jobs WHERE grp=? AND state='running' AND key<>?",
                          (group, key)).fetchone():
                raise _Busy(group)
            db.execute("UPDATE jetstream_jobs SET state='running', owner=?, attempts=attempts+1, updated=?"
                       " WHERE key=?", (self.owner, time.time(), key))
            return Job(kind, key, group, json.loads(payload))

    def finish(self, key: str, state: str, result: Mapping[str, Any] | None = None,
               error: str | None = None) -> None:
        with self._connect() as db:
            db.execute("UPDATE jetstream_jobs SET state=?, result=?, error=?, owner=NULL, updated=? WHERE key=?",
                       (state, json.dumps(result) if result is not None else None, error, time.time(), key))

    def attempts(self, key: str) -> int:
        with self._connect() as db:
            row = db.execute("SELECT attempts FROM jetstream_jobs WHERE key=?", (key,)).fetchone()
            return row[0] if row else 0

    def get(self, key: str) -> JobRecord | None:
        records = self._records(_RECORDS + " WHERE key=?", (key,))
        return records[0] if records else None

    def select(self, kind: str | None = None) -> list[JobRecord]:
        """Every job (of `kind`, when given), oldest first."""
        if kind is None:
            return self._records(_RECORDS + " ORDER BY created, key", ())
        return self._records(_RECORDS + " WHERE kind=? ORDER BY created, key", (kind,))

    def _records(self, statement: str, params: tuple) -> list[JobRecord]:
        with self._connect() as db:
            rows = db.execute(statement, params).fetchall()
        return [JobRecord(Job(kind, key, grp, json.loads(payload)), state, attempts,
                          json.loads(result) if result else None, error)
                for kind, key, grp, payload, state, attempts, result, error in rows]

    def orphans(self) -> list[str]:
        """Keys of running jobs whose owner is gone, plus every queued key (re-pushed; harmless)."""
        with self._connect() as db:
            rows = db.execute("SELECT key, state, owner, updated FROM jetstream_jobs"
                              " WHERE state IN ('queued', 'running')").fetchall()
        keys = []
        for key, state, owner, updated in rows:
            if state == "queued" or not self._owner_alive(owner, updated):
                keys.append(key)
        return keys

    def requeue(self, keys: list[str]) -> None:
        with self._connect() as db:
            db.executemany("UPDATE jetstream_jobs SET state='queued', owner=NULL, updated=?"
                           " WHERE key=? AND state IN ('queued', 'running')",
                           [(time.time(), key) for key in keys])

    def _owner_alive(self, owner: str | None, updated: float) -> bool:
        if not owner:
            return False
        if owner == self.owner:
            return True
        host, pid, _nonce = (owner.split(":") + ["", "", ""])[:3]
        if host != socket.gethostname():
            return time.time() - updated < LEASE_SECONDS
        if int(pid or 0) == os.getpid():
            return False  # our pid, another nonce: a previous incarnation (e.g. pid 1 in a container)
        try:
            os.kill(int(pid), 0)
        except (ProcessLookupError, ValueError):
            return False
        except PermissionError:
            return True
        return True


class JobQueue:
    """Ledger + huey. `enqueue` from the web process; the worker executes via huey."""

    def __init__(self, path: Path, handlers: Mapping[str, Handler] | None = None):
        self.path = Path(path)
        self.ledger = Ledger(self.path)
        # huey's copy of the queue may skip fsync: the ledger is the durable record, and
        # `recover()` re-pushes every queued ledger job when a worker starts.
        self.huey = SqliteHuey(name="jetstream", filename=str(self.path), results=False, fsync=False)
        self.handlers: dict[str, Handler] = dict(handlers or {})
        self._checkpointer: sqlite3.Connection | None = None
        self._task = self.huey.task(name="jetstream.run_job")(self._run)

    def enqueue(self, job: Job) -> bool:
        """Record the job and hand it to the worker; False if an equal job already exists."""
        if not self.ledger.insert(job):
            return False
        self._task(job.key)
        return True

    def intake(self, delivery_id: str, event: str, jobs: Sequence[Job]) -> int | None:
        """The webhook's one write: delivery and jobs recorded together, new jobs handed to the
        worker. None for a duplicate delivery, else how many jobs were new."""
        new = self.ledger.intake(delivery_id, event, jobs)
        for job in new or ():
            self._task(job.key)
        return None if new is None else len(new)

    def sweep(self, older_than: float = 60.0) -> list[str]:
        """Hand queued jobs the worker never got to it again (a web process that died between its
        commit and the hand-over); a duplicate hand-over is a no-op when the job is claimed."""
        keys = self.ledger.queued_before(time.time() - older_than)
        for key in keys:
            self._task(key)
        return keys

    def checkpoint_in_background(self, every: float = CHECKPOINT_SECONDS) -> None:
        """Keep WAL checkpoints off the request path (web processes). By default the commit that
        fills the WAL copies it into the database and fsyncs, stalling every request queued
        behind SQLite's write lock for several milliseconds (p99.9 of a delivery's write went from
        ~8-15 ms to <1 ms without them). Here this process's connections never checkpoint on
        commit; a daemon thread checkpoints passively on its own connection, which does not
        block writers and keeps the WAL bounded even while no worker runs."""
        for connection in (self.ledger.connection, self.huey.storage.conn):
            connection.execute("PRAGMA wal_autocheckpoint=0")

        def loop() -> None:
            while True:
                time.sleep(every)
                if not self.path.exists():
                    return  # the store was removed (a test's temporary directory): nothing to keep
                try:
                    self.checkpoint()
                except sqlite3.Error:
                    log.warning("WAL checkpoint failed; retrying in %.1f s", every, exc_info=True)

        threading.Thread(target=loop, name="jetstream-wal-checkpoint", daemon=True).start()

    def checkpoint(self) -> tuple[int, int, int]:
        """A passive WAL checkpoint on a connection of its own: (busy, WAL frames, frames copied)."""
        if self._checkpointer is None:
            self._checkpointer = sqlite3.connect(self.path, timeout=30, isolation_level=None,
                                                 check_same_thread=False)
        return self._checkpointer.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()

    def recover(self) -> list[str]:
        """Re-queue jobs interrupted by a dead worker. Call once when a worker starts."""
        keys = self.ledger.orphans()
        self.ledger.requeue(keys)
        for key in keys:
            self._task(key)
        if keys:
            log.info("recovered %d interrupted or pending job(s)", len(keys))
        return keys

    def _run(self, key: str) -> None:
        try:
            job = self.ledger.claim(key)
        except _Busy:
            self._task.schedule(args=(key,), delay=BUSY_RETRY_SECONDS)
            return
        if job is None:
            return
        handler = self.handlers.get(job.kind)
        if handler is None:
            self.ledger.finish(key, "failed", error=f"no handler for job kind {job.kind!r}")
            return
        try:
            result = handler(job, self)
        except Exception as error:  # a job failure is recorded, never crashes the worker
            log.exception("job %s failed", key)
            if self.ledger.attempts(key) < MAX_ATTEMPTS:
                self.ledger.requeue([key])
                self._task.schedule(args=(key,), delay=min(60.0, 2.0 ** self.ledger.attempts(key)))
            else:
                self.ledger.finish(key, "failed", error=f"{type(error).__name__}: {error}")
            return
        self.ledger.finish(key, "done", result=dict(result or {}))

    def run_until_idle(self, max_tasks: int = 10_000) -> int:
        """Execute queued huey tasks in this thread until none are left (tests, benchmarks, CLI once)."""
        executed = 0
        while executed < max_tasks:
            task = self.huey.dequeue()
            if task is None:
                due = self.huey.read_schedule(datetime.datetime(9999, 1, 1))
                if not due:
                    return executed
                for scheduled in due:
                    scheduled.eta = None  # run delayed retries now rather than sleeping
                    self.huey.enqueue(scheduled)
                continue
            self.huey.execute(task)
            executed += 1
        return executed

    def consumer(self, workers: int = 2):
        """A huey consumer with a short poll interval (SQLite storage does not block on dequeue)."""
        self.recover()
        return self.huey.create_consumer(workers=workers, worker_type="thread", initial_delay=0.05,
                                         backoff=1.2, max_delay=0.5, check_worker_health=True)
