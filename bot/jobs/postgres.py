"""The shared store in production: PostgreSQL (Cloud SQL) through psycopg 3.

Connections come from a small pool of this process (web threads and worker slots each borrow one
per transaction); a connection that failed is dropped rather than returned. Claims lock their
candidate row with `FOR UPDATE SKIP LOCKED`, so concurrent claimers never wait on each other."""
from __future__ import annotations

import contextlib
import queue
import threading
from typing import Any, Iterator

import psycopg
from psycopg import errors

from bot.jobs.store import StoreError

POOL_SIZE = 32
_INTAKE = (
    "WITH d AS (INSERT INTO jetstream_deliveries (id, event, received) VALUES (%(id)s, %(event)s, %(now)s)"
    " ON CONFLICT (id) DO NOTHING RETURNING id),"
    " j AS (INSERT INTO jetstream_jobs (key, kind, grp, payload, state, not_before, created, updated)"
    " SELECT t.key, t.kind, t.grp, t.payload, 'queued', %(now)s, %(now)s, %(now)s"
    " FROM unnest(%(keys)s::text[], %(kinds)s::text[], %(grps)s::text[], %(payloads)s::text[])"
    " WITH ORDINALITY AS t(key, kind, grp, payload, n) WHERE EXISTS (SELECT 1 FROM d) ORDER BY t.n"
    " ON CONFLICT (key) DO NOTHING RETURNING key)"
    " SELECT (SELECT count(*) FROM d), ARRAY(SELECT key FROM j)")


class PostgresDatabase:
    conflict = errors.UniqueViolation
    claim_suffix = " FOR UPDATE OF j SKIP LOCKED"
    # concurrent CREATE ... IF NOT EXISTS still collide in the catalog: one starting process at a time
    schema_lock = "SELECT pg_advisory_xact_lock(727374)"

    def __init__(self, url: str, pool_size: int = POOL_SIZE):
        self.url = url
        self._idle: queue.LifoQueue[psycopg.Connection] = queue.LifoQueue()
        self._slots = threading.BoundedSemaphore(pool_size)
        with self.transaction():  # fail at start-up, with a readable reason, when unreachable
            pass

    def _connect(self) -> psycopg.Connection:
        try:
            return psycopg.connect(self.url, autocommit=True, connect_timeout=10)
        except psycopg.OperationalError as error:
            # psycopg's message names host and port, never the password
            raise StoreError(f"cannot connect to the PostgreSQL job store: {error}".strip()) from error

    @contextlib.contextmanager
    def _borrow(self) -> Iterator[psycopg.Connection]:
        with self._slots:
            try:
                connection = self._idle.get_nowait()
            except queue.Empty:
                connection = self._connect()
            try:
                yield connection
            except (psycopg.OperationalError, psycopg.InterfaceError):
                connection.close()  # broken: never handed out again
                raise
            except BaseException:
                self._idle.put(connection)
                raise
            self._idle.put(connection)

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Any]:
        with self._borrow() as connection, connection.transaction(), connection.cursor() as cursor:
            yield cursor

    def intake(self, delivery_id: str, event: str, now: float,
               rows: list[tuple[str, str, str, str]]) -> list[str] | None:
        """A delivery and its jobs (key, kind, group, payload) in one statement, hence one round
        trip (a webhook's only write): None for a duplicate delivery, else the keys inserted."""
        keys, kinds, groups, payloads = (list(column) for column in zip(*rows)) if rows else ([], [], [], [])
        with self._borrow() as connection:
            seen, inserted = connection.execute(_INTAKE, {
                "id": delivery_id, "event": event, "now": now, "keys": keys, "kinds": kinds,
                "grps": groups, "payloads": payloads}).fetchone()
        return None if not seen else list(inserted)

    def close(self) -> None:
        while True:
            try:
                self._idle.get_nowait().close()
            except queue.Empty:
                return
