"""The embedded store: one SQLite file in WAL mode, shared by the processes of one machine (the
laptop default). WAL needs a local filesystem: never put this file on NFS or Filestore."""
from __future__ import annotations

import contextlib
import logging
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any, Iterator

from bot.jobs.store import StoreError, sqlite_params

log = logging.getLogger(__name__)
CHECKPOINT_SECONDS = 1.0


class _Cursor:
    """A sqlite3 cursor taking the store's `%(name)s` statements."""

    def __init__(self, cursor: sqlite3.Cursor):
        self._cursor = cursor

    def execute(self, statement: str, params: dict[str, Any] | None = None) -> None:
        self._cursor.execute(sqlite_params(statement), params or {})

    def fetchone(self) -> tuple | None:
        return self._cursor.fetchone()

    def fetchall(self) -> list[tuple]:
        return self._cursor.fetchall()

    @property
    def rowcount(self) -> int:
        return self._cursor.rowcount


class SqliteDatabase:
    conflict = sqlite3.IntegrityError
    claim_suffix = ""  # BEGIN IMMEDIATE already serialises writers
    schema_lock = ""  # likewise

    def __init__(self, path: str | Path):
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # One connection per process, serialised by a lock: opening one per call costs more
            # than the writes. WAL + synchronous=NORMAL survives a killed process (not a power cut).
            self._db = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
        except (OSError, sqlite3.Error) as error:
            raise StoreError(f"cannot open the SQLite job store {self.path}: {error}") from error
        self._lock = threading.Lock()
        self._checkpointer: sqlite3.Connection | None = None

    @property
    def connection(self) -> sqlite3.Connection:
        """This process's connection (for connection-level pragmas)."""
        return self._db

    @contextlib.contextmanager
    def transaction(self) -> Iterator[_Cursor]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield _Cursor(self._db.cursor())
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def checkpoint_in_background(self, every: float = CHECKPOINT_SECONDS) -> None:
        """Keep WAL checkpoints off the request path (web processes). By default the commit that
        fills the WAL copies it into the database and fsyncs, stalling every request queued
        behind SQLite's write lock for several milliseconds. Here this process's connection never
        checkpoints on commit; a daemon thread checkpoints passively on its own connection, which
        does not block writers and keeps the WAL bounded even while no worker runs."""
        self._db.execute("PRAGMA wal_autocheckpoint=0")

        def loop() -> None:
            while True:
                time.sleep(every)
                if not self.path.exists():
                    return  # the store was removed (a test's temporary directory)
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
