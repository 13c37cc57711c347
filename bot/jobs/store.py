"""The job store: deliveries, jobs and leases in one database, the only shared state of the bot.

One protocol (`JobStore`), one implementation of its statements (`SqlJobStore`) over two
databases: embedded SQLite (a file path: the laptop default) and PostgreSQL (a `postgresql://`
URL: production, any number of web and worker processes). `JETSTREAM_JOB_STORE` picks one.

A job row goes `queued -> running -> done | failed`, or `queued -> superseded`. Its `key` is its
meaning (duplicate deliveries collapse; a done job never runs again); its `group` is the unit of
mutual exclusion, enforced by the database itself: a unique index over `grp` restricted to running
rows, so two runners can never hold two jobs of one group, whatever they race. A claim is a lease
(owner token + expiry) that the runner's supervisor extends by heartbeats; an expired lease is
recovered (the job is queued again). Every state change after the claim names the lease owner, so
a runner that lost its lease cannot record anything.

Why not procrastinate (a maintained Postgres queue with locks and stalled-job recovery): it has no
SQLite store for the laptop default; its per-lock FIFO blocks a PR's newer jobs behind an older one
waiting out a retry; its queueing lock refuses the new job where we supersede the queued old one;
and a job's identity ends with the job, so a redelivered event would run a done validation again.
"""
from __future__ import annotations

import json
import re
import time
from contextlib import AbstractContextManager
from typing import Any, Callable, Iterable, Protocol, Sequence

from bot.jobs.model import Claim, Job, JobRecord

SCHEMA = (
    "CREATE TABLE IF NOT EXISTS jetstream_jobs ("
    " key TEXT PRIMARY KEY, kind TEXT NOT NULL, grp TEXT NOT NULL, payload TEXT NOT NULL,"
    " state TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, lease_owner TEXT,"
    " lease_until DOUBLE PRECISION, not_before DOUBLE PRECISION NOT NULL,"
    " created DOUBLE PRECISION NOT NULL, first_run DOUBLE PRECISION,"
    " updated DOUBLE PRECISION NOT NULL, result TEXT, error TEXT)",
    "CREATE UNIQUE INDEX IF NOT EXISTS jetstream_jobs_one_running_per_group"
    " ON jetstream_jobs (grp) WHERE state = 'running'",
    "CREATE INDEX IF NOT EXISTS jetstream_jobs_runnable ON jetstream_jobs (state, not_before)",
    "CREATE INDEX IF NOT EXISTS jetstream_jobs_group ON jetstream_jobs (grp, state)",
    "CREATE TABLE IF NOT EXISTS jetstream_deliveries ("
    " id TEXT PRIMARY KEY, event TEXT NOT NULL, received DOUBLE PRECISION NOT NULL)",
)
_RECORD = "SELECT kind, key, grp, payload, state, attempts, result, error FROM jetstream_jobs"
_INSERT_DELIVERY = ("INSERT INTO jetstream_deliveries (id, event, received) VALUES (%(id)s, %(event)s, %(now)s)"
                    " ON CONFLICT (id) DO NOTHING")
_INSERT_JOB = ("INSERT INTO jetstream_jobs (key, kind, grp, payload, state, not_before, created, updated)"
               " VALUES (%(key)s, %(kind)s, %(grp)s, %(payload)s, 'queued', %(now)s, %(now)s, %(now)s)"
               " ON CONFLICT (key) DO NOTHING")
_SUPERSEDE = ("UPDATE jetstream_jobs SET state = 'superseded', updated = %(now)s WHERE grp = %(grp)s"
              " AND kind = %(kind)s AND key <> %(key)s AND state = 'queued'")
# The oldest runnable job whose group has nothing running. The unique index is the real guard:
# two claimers that pick two jobs of one group at once make one UPDATE fail, never both succeed.
_CANDIDATE = ("SELECT key FROM jetstream_jobs AS j WHERE j.state = 'queued' AND j.not_before <= %(now)s"
              " AND NOT EXISTS (SELECT 1 FROM jetstream_jobs AS r WHERE r.grp = j.grp AND r.state = 'running')"
              " ORDER BY j.not_before, j.created, j.key LIMIT 1")
_TAKE = ("UPDATE jetstream_jobs SET state = 'running', lease_owner = %(owner)s, lease_until = %(until)s,"
         " attempts = attempts + 1, first_run = COALESCE(first_run, %(now)s), updated = %(now)s"
         " WHERE key = %(key)s AND state = 'queued'"
         " RETURNING kind, grp, payload, attempts, first_run")
_HEARTBEAT = ("UPDATE jetstream_jobs SET lease_until = %(until)s WHERE key = %(key)s"
              " AND lease_owner = %(owner)s AND state = 'running'")
_SETTLE = ("UPDATE jetstream_jobs SET state = %(state)s, result = %(result)s, error = %(error)s,"
           " not_before = %(not_before)s, lease_owner = NULL, lease_until = NULL, updated = %(now)s"
           " WHERE key = %(key)s AND lease_owner = %(owner)s AND state = 'running'")
_RECOVER = ("UPDATE jetstream_jobs SET state = 'queued', lease_owner = NULL, lease_until = NULL,"
            " error = 'its runner stopped answering (lease expired)', updated = %(now)s"
            " WHERE state = 'running' AND lease_until < %(now)s RETURNING key")
_COUNTS = "SELECT state, COUNT(*) FROM jetstream_jobs GROUP BY state"


class StoreError(RuntimeError):
    """The job store cannot be opened or used (the message is safe to show an operator)."""


class JobStore(Protocol):
    """What web and worker processes need from the shared store."""

    def intake(self, delivery_id: str, event: str, jobs: Sequence[Job]) -> list[Job] | None: ...
    def insert(self, job: Job) -> bool: ...
    def claim(self, owner: str, lease_seconds: float, ignore_delays: bool = False) -> Claim | None: ...
    def heartbeat(self, key: str, owner: str, lease_seconds: float) -> bool: ...
    def finish(self, claim: Claim, result: Any, then: Iterable[Job] = ()) -> bool: ...
    def fail(self, claim: Claim, error: str, then: Iterable[Job] = ()) -> bool: ...
    def retry(self, claim: Claim, delay: float, error: str) -> bool: ...
    def recover(self) -> list[str]: ...
    def get(self, key: str) -> JobRecord | None: ...
    def select(self, kind: str | None = None) -> list[JobRecord]: ...
    def counts(self) -> dict[str, int]: ...
    def close(self) -> None: ...


class Database(Protocol):
    """One database's connections: a transaction yields a cursor-like object with `execute`
    (named `%(name)s` parameters), `fetchone`, `fetchall` and `rowcount`."""

    conflict: type[BaseException]  # a unique-index violation
    claim_suffix: str  # row locking for the candidate query, where the database has it
    schema_lock: str  # serialises concurrent schema creation by several starting processes

    def transaction(self) -> AbstractContextManager[Any]: ...
    def close(self) -> None: ...


class SqlJobStore:
    def __init__(self, database: Database, clock: Callable[[], float] = time.time):
        self.db = database
        self.clock = clock
        with self.db.transaction() as tx:
            if self.db.schema_lock:
                tx.execute(self.db.schema_lock)
            for statement in SCHEMA:
                tx.execute(statement)

    def close(self) -> None:
        self.db.close()

    def intake(self, delivery_id: str, event: str, jobs: Sequence[Job]) -> list[Job] | None:
        """A webhook delivery and the jobs it means, in one transaction: None if the delivery id
        was seen before, else the jobs that are new (a job equal to an existing one collapses)."""
        now = self.clock()
        one_statement = getattr(self.db, "intake", None)
        if one_statement is not None and not any(job.supersedes for job in jobs):
            unique = list({job.key: job for job in reversed(jobs)}.values())[::-1]  # first of equal keys
            rows = [(j.key, j.kind, j.group, json.dumps(dict(j.payload), sort_keys=True)) for j in unique]
            inserted = one_statement(delivery_id, event, now, rows)
            return None if inserted is None else [job for job in unique if job.key in set(inserted)]
        with self.db.transaction() as tx:
            tx.execute(_INSERT_DELIVERY, {"id": delivery_id, "event": event, "now": now})
            if tx.rowcount != 1:
                return None
            return [job for job in jobs if self._insert(tx, job, now)]

    def insert(self, job: Job) -> bool:
        return bool(self.insert_many([job]))

    def insert_many(self, jobs: Iterable[Job]) -> list[Job]:
        now = self.clock()
        with self.db.transaction() as tx:
            return [job for job in jobs if self._insert(tx, job, now)]

    @staticmethod
    def _insert(tx: Any, job: Job, now: float) -> bool:
        tx.execute(_INSERT_JOB, {"key": job.key, "kind": job.kind, "grp": job.group, "now": now,
                                 "payload": json.dumps(dict(job.payload), sort_keys=True)})
        inserted = tx.rowcount == 1
        if inserted and job.supersedes:
            tx.execute(_SUPERSEDE, {"now": now, "grp": job.group, "kind": job.kind, "key": job.key})
        return inserted

    def claim(self, owner: str, lease_seconds: float, ignore_delays: bool = False) -> Claim | None:
        """Lease the oldest runnable job to `owner`; None when nothing can run now.
        `ignore_delays` also takes jobs waiting out a retry delay (tests, `worker --once`)."""
        now = self.clock()
        ready_by = 1e300 if ignore_delays else now
        for _ in range(3):  # lost a race for a row or a group: another candidate
            try:
                with self.db.transaction() as tx:
                    tx.execute(_CANDIDATE + self.db.claim_suffix, {"now": ready_by})
                    row = tx.fetchone()
                    if row is None:
                        return None
                    key = row[0]
                    tx.execute(_TAKE, {"owner": owner, "until": now + lease_seconds, "now": now, "key": key})
                    taken = tx.fetchone()
            except self.db.conflict:
                continue  # another runner took a job of this group first
            if taken is not None:
                kind, group, payload, attempts, first_run = taken
                return Claim(Job(kind, key, group, json.loads(payload)), owner, attempts, first_run)
        return None

    def heartbeat(self, key: str, owner: str, lease_seconds: float) -> bool:
        """Extend the lease; False when it was lost (recovered after expiry, or settled)."""
        with self.db.transaction() as tx:
            tx.execute(_HEARTBEAT, {"until": self.clock() + lease_seconds, "key": key, "owner": owner})
            return tx.rowcount == 1

    def finish(self, claim: Claim, result: Any, then: Iterable[Job] = ()) -> bool:
        return self._settle(claim, "done", result=result, then=then)

    def fail(self, claim: Claim, error: str, then: Iterable[Job] = ()) -> bool:
        return self._settle(claim, "failed", error=error, then=then)

    def retry(self, claim: Claim, delay: float, error: str) -> bool:
        return self._settle(claim, "queued", error=error, delay=delay)

    def _settle(self, claim: Claim, state: str, result: Any = None, error: str | None = None,
                delay: float = 0.0, then: Iterable[Job] = ()) -> bool:
        """Record the attempt's end and insert its follow-up jobs, atomically; False (and
        nothing recorded) when `claim` no longer holds the lease."""
        now = self.clock()
        with self.db.transaction() as tx:
            tx.execute(_SETTLE, {"state": state, "error": error, "not_before": now + delay, "now": now,
                                 "result": json.dumps(result) if result is not None else None,
                                 "key": claim.job.key, "owner": claim.owner})
            if tx.rowcount != 1:
                return False
            for job in then:
                self._insert(tx, job, now)
        return True

    def recover(self) -> list[str]:
        """Queue again the running jobs whose lease expired (their runner died or hung)."""
        with self.db.transaction() as tx:
            tx.execute(_RECOVER, {"now": self.clock()})
            return [key for (key,) in tx.fetchall()]

    def get(self, key: str) -> JobRecord | None:
        records = self._records(_RECORD + " WHERE key = %(key)s", {"key": key})
        return records[0] if records else None

    def select(self, kind: str | None = None) -> list[JobRecord]:
        """Every job (of `kind`, when given), oldest first."""
        if kind is None:
            return self._records(_RECORD + " ORDER BY created, key", {})
        return self._records(_RECORD + " WHERE kind = %(kind)s ORDER BY created, key", {"kind": kind})

    def counts(self) -> dict[str, int]:
        with self.db.transaction() as tx:
            tx.execute(_COUNTS, {})
            return {state: int(count) for state, count in tx.fetchall()}

    def _records(self, statement: str, params: dict[str, Any]) -> list[JobRecord]:
        with self.db.transaction() as tx:
            tx.execute(statement, params)
            rows = tx.fetchall()
        return [JobRecord(Job(kind, key, grp, json.loads(payload)), state, attempts,
                          json.loads(result) if result else None, error)
                for kind, key, grp, payload, state, attempts, result, error in rows]


def sqlite_params(statement: str) -> str:
    """`%(name)s` placeholders as SQLite's `:name`."""
    return re.sub(r"%\((\w+)\)s", r":\1", statement)


def open_store(spec: str, clock: Callable[[], float] = time.time) -> SqlJobStore:
    """`postgresql://...` (or `postgres://`) -> PostgreSQL; anything else is a SQLite file path."""
    if spec.startswith(("postgresql://", "postgres://")):
        from bot.jobs.postgres import PostgresDatabase
        return SqlJobStore(PostgresDatabase(spec), clock)
    from bot.jobs.sqlite import SqliteDatabase
    return SqlJobStore(SqliteDatabase(spec), clock)
