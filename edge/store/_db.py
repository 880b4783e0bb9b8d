"""The SQLite connection: WAL, synchronous=FULL, secure_delete, one lock for every access."""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import sqlite_utils

from edge.errors import StoreError

BUSY_TIMEOUT_MS = 30000


def private_sqlite_files(path: Path) -> None:
    """The database and its -wal/-shm files are 0600 whatever the umask: SQLite creates them 0644,
    and gives -wal/-shm the mode of the database file, so the database is created 0600 first."""
    os.close(os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600))
    for name in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        with contextlib.suppress(FileNotFoundError, PermissionError):  # another user's file: theirs to fix
            if os.stat(name).st_mode & 0o077:
                os.chmod(name, 0o600)


class Database:
    """One connection shared by the process, serialized by a re-entrant lock.

    Writes happen only inside :meth:`transaction` (``BEGIN IMMEDIATE``; nested calls become
    savepoints), so a dossier's rows, its outbox row and its audit row commit together.
    """

    def __init__(self, path: Path) -> None:
        try:
            private_sqlite_files(path)
            conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30)
        except (sqlite3.Error, OSError) as exc:
            raise StoreError(f"cannot open database {path}: {exc}") from exc
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute("PRAGMA secure_delete=ON")
        conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        self.conn = conn
        self.db = sqlite_utils.Database(conn)
        self.lock = threading.RLock()
        self._depth = 0

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        with self.lock:
            if self._depth:
                name = f"sp{self._depth}"
                self.conn.execute(f"SAVEPOINT {name}")
                self._depth += 1
                try:
                    yield self.conn
                except BaseException:
                    self.conn.execute(f"ROLLBACK TO {name}")
                    self.conn.execute(f"RELEASE {name}")
                    raise
                else:
                    self.conn.execute(f"RELEASE {name}")
                finally:
                    self._depth -= 1
                return
            self.conn.execute("BEGIN IMMEDIATE")
            self._depth = 1
            try:
                yield self.conn
            except BaseException:
                self.conn.execute("ROLLBACK")
                raise
            else:
                try:
                    self.conn.execute("COMMIT")
                except sqlite3.Error as exc:
                    self.conn.execute("ROLLBACK")
                    raise StoreError(f"could not commit: {exc}") from exc
            finally:
                self._depth = 0

    def checkpoint_truncate(self, wait_seconds: float) -> bool:
        """Fold the WAL into the database and truncate it; True when the WAL is empty afterwards.

        A reader in another connection holding a snapshot keeps the WAL from being reset: SQLite
        then waits (busy handler) and gives up. This retries until ``wait_seconds`` have passed.
        """
        deadline = time.monotonic() + max(0.0, wait_seconds)
        while True:
            with self.lock:  # one short attempt at a time: other threads go on between attempts
                left = deadline - time.monotonic()
                try:
                    self.conn.execute(f"PRAGMA busy_timeout={max(0, min(int(left * 1000), 250))}")
                    busy, log, _copied = self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
                except sqlite3.Error as exc:
                    raise StoreError(f"could not checkpoint the database: {exc}") from exc
                finally:
                    self.conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
            if not busy and log <= 0:
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(min(0.05, max(0.0, deadline - time.monotonic())))

    def query(self, sql: str, params: tuple | dict = ()) -> list[sqlite3.Row]:
        with self.lock:
            cur = self.conn.execute(sql, params)
            cols = [c[0] for c in cur.description or ()]
            return [dict(zip(cols, row, strict=True)) for row in cur.fetchall()]

    def one(self, sql: str, params: tuple | dict = ()) -> dict | None:
        rows = self.query(sql, params)
        return rows[0] if rows else None

    def close(self) -> None:
        with self.lock:
            self.conn.close()
