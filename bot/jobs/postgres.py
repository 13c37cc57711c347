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
    def transaction(self) -> Iterator[Any]:
        with self._slots:
            try:
                connection = self._idle.get_nowait()
            except queue.Empty:
                connection = self._connect()
            try:
                with connection.transaction(), connection.cursor() as cursor:
                    yield cursor
            except (psycopg.OperationalError, psycopg.InterfaceError):
                connection.close()  # broken: never handed out again
                raise
            except BaseException:
                self._idle.put(connection)
                raise
            self._idle.put(connection)

    def close(self) -> None:
        while True:
            try:
                self._idle.get_nowait().close()
            except queue.Empty:
                return
