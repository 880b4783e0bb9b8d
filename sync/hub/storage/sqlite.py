"""SQLite backend (the default): one connection, WAL, ``BEGIN IMMEDIATE`` for every transaction.

Admissions (§4.3: the station, its nonce, the blob a chunk is for) of concurrent requests are
committed together: each runs in its own savepoint of one transaction, and none is answered before
that transaction's commit (one fsync for many requests; nonces are as durable as before).
"""

from __future__ import annotations

import functools
import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from core.fsutil import private_sqlite_files

from ._sql import SqlStorage, Tx
from .base import Admission, AdmissionCheck


class _SqliteTx(Tx):
    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def all(self, sql: str, params: Sequence[Any] = ()) -> list[tuple]:
        return self._conn.execute(sql, tuple(params)).fetchall()

    def run(self, sql: str, params: Sequence[Any] = ()) -> int:
        return self._conn.execute(sql, tuple(params)).rowcount


class _Queued:
    """One piece of work waiting for a grouped transaction."""

    __slots__ = ("done", "error", "fn", "value")

    def __init__(self, fn: Callable[[Tx], Any]) -> None:
        self.fn = fn
        self.done = False
        self.value: Any = None
        self.error: BaseException | None = None


class SqliteStorage(SqlStorage):
    """Hub storage in one SQLite file; several processes may share it (busy timeout)."""

    integrity_errors = (sqlite3.IntegrityError,)

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lock = threading.RLock()
        self._queue: list[_Queued] = []
        self._queue_lock = threading.Lock()
        private_sqlite_files(self.path)  # the feed holds clerks' password hashes: 0600 whatever the umask
        self._conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=30)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=FULL")
        self._conn.execute("PRAGMA foreign_keys=ON")

    @contextmanager
    def _tx(self) -> Iterator[Tx]:
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield _SqliteTx(self._conn)
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def admit(self, station_id: str, nonce: str, *, expires_at: int, check: AdmissionCheck,
              dossier_id: str | None = None, blob_sha256: str | None = None) -> Admission:
        return self._grouped(functools.partial(self._admit, station_id=station_id, nonce=nonce,
                                               expires_at=expires_at, check=check, dossier_id=dossier_id,
                                               blob_sha256=blob_sha256))

    def _grouped(self, fn: Callable[[Tx], Any]) -> Any:
        """Run ``fn(tx)`` in a transaction shared with the work queued meanwhile; after its commit."""
        item = _Queued(fn)
        with self._queue_lock:
            self._queue.append(item)
        with self._lock:
            # Whoever holds the connection runs everything queued so far, its own work included.
            if not item.done:
                with self._queue_lock:
                    batch, self._queue = self._queue, []
                self._run_batch(batch)
        if item.error is not None:
            raise item.error
        return item.value

    def _run_batch(self, batch: list[_Queued]) -> None:
        tx = _SqliteTx(self._conn)
        try:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                for item in batch:
                    self._conn.execute("SAVEPOINT admit")
                    try:
                        item.value = item.fn(tx)
                    except Exception as exc:  # this request is refused; the others go on
                        item.error = exc
                        self._conn.execute("ROLLBACK TO admit")
                    self._conn.execute("RELEASE admit")
                self._conn.execute("COMMIT")
            except BaseException:
                if self._conn.in_transaction:
                    self._conn.execute("ROLLBACK")
                raise
        except BaseException as exc:  # nothing of the batch was committed
            for item in batch:
                item.value, item.error = None, exc
        finally:
            for item in batch:
                item.done = True

    def close(self) -> None:
        with self._lock:
            self._conn.close()
