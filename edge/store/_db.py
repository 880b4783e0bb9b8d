"""The SQLite database of the box: one writer thread, reads on their own connections.

Writes run on ONE connection owned by a dedicated writer thread, each in ``BEGIN IMMEDIATE``
(in the style of datasette's write thread): :meth:`Database.write` from any thread blocks until
the write is done, :meth:`Database.awrite` awaits it from the event loop without blocking the
loop. A write issued from inside a write (same thread) runs inline as a savepoint.

Reads run on per-thread read connections (WAL mode, ``query_only``): a read never waits for a
write, and sees every committed write. A read issued from inside a write runs on the writer's
connection, so that it sees the write's own uncommitted rows.

The connection files are WAL, synchronous=FULL, secure_delete; 0600 whatever the umask.

For the flash (an SD card on a box, see docs/deploy.md): a new database has 512-byte pages
(:data:`PAGE_SIZE`, one sector). Each commit appends to the WAL a frame for every page it
changed, and a dossier's ~13 small commits (rows, audit entries, outbox states) each changed a
few 4 KiB pages for a few hundred bytes. The automatic checkpoint stays SQLite's (1000 pages,
now ~0.5 MiB of WAL: measured, a larger or a smaller WAL wrote more). A database made with
another page size keeps it (SQLite cannot change it in WAL mode). Durability is unchanged:
every commit is still fsynced (synchronous=FULL).
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import queue
import sqlite3
import threading
import time
import warnings
import weakref
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import sqlite_utils

from core.fsutil import private_sqlite_files
from edge.errors import StoreError

BUSY_TIMEOUT_MS = 30000
#: The page size of a new database (bytes; SQLite's smallest, one sector).
PAGE_SIZE = 512

T = TypeVar("T")


def _connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=BUSY_TIMEOUT_MS / 1000)
    conn.execute(f"PRAGMA page_size={PAGE_SIZE}")  # only a database not created yet takes it
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute("PRAGMA secure_delete=ON")
    conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    return conn


class _ReadConnection(sqlite3.Connection):
    """A thread's read connection (a subclass only so that the registry can hold it weakly: it
    closes when its thread ends, so short-lived threads leave no open files behind)."""


class _Task:
    __slots__ = ("fn", "future", "transaction")

    def __init__(self, fn: Callable[[sqlite3.Connection], Any], future: concurrent.futures.Future,
                 transaction: bool) -> None:
        self.fn = fn
        self.future = future
        self.transaction = transaction


_STOP = object()


class Database:
    """The writer connection (owned by one thread) and the per-thread read connections."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        try:
            private_sqlite_files(self.path)
            conn = _connect(self.path)
        except (sqlite3.Error, OSError) as exc:
            raise StoreError(f"cannot open database {path}: {exc}") from exc
        self.conn = conn  # the writer's connection: only ever used by the thread that holds the write
        #: A sqlite-utils view of the writer's connection, for the migrations at open (only).
        # No sqlite-utils plugins on the store's connection (and no scan of every installed
        # package's entry points at each open).
        self.db = sqlite_utils.Database(conn, execute_plugins=False)
        self._depth = 0
        self._holder: int | None = None  # ident of the thread running a write now
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()
        self._local = threading.local()
        self._readers: weakref.WeakSet[_ReadConnection] = weakref.WeakSet()
        self._readers_lock = threading.Lock()
        self._closed = False

    # --- the writer thread --------------------------------------------------------------------

    def _ensure_thread(self) -> None:
        if self._thread is not None:
            return
        with self._start_lock:
            if self._closed:
                raise StoreError("the database is closed")
            if self._thread is None:
                thread = threading.Thread(target=self._run, name=f"motcua-writer:{self.path.name}", daemon=True)
                thread.start()
                self._thread = thread

    def _run(self) -> None:
        while True:
            task = self._queue.get()
            if task is _STOP:
                return
            if not task.future.set_running_or_notify_cancel():
                continue
            try:
                result = self._execute(task.fn, transaction=task.transaction)
            except BaseException as exc:  # handed to the caller, who re-raises it
                task.future.set_exception(exc)
            else:
                task.future.set_result(result)

    def _execute(self, fn: Callable[[sqlite3.Connection], T], *, transaction: bool) -> T:
        """Run ``fn`` in this thread, which now holds the writer connection."""
        self._holder = threading.get_ident()
        try:
            if not transaction:
                return fn(self.conn)
            with self._transaction_here() as conn:
                return fn(conn)
        finally:
            self._holder = None

    def in_write(self) -> bool:
        """Whether the calling thread is running a write now (a nested write runs inline)."""
        return self._holder == threading.get_ident()

    def _submit(self, fn: Callable[[sqlite3.Connection], Any], *, transaction: bool = True) -> concurrent.futures.Future:
        self._ensure_thread()
        future: concurrent.futures.Future = concurrent.futures.Future()
        self._queue.put(_Task(fn, future, transaction))
        return future

    def write(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``fn(conn)`` in one ``BEGIN IMMEDIATE`` transaction on the writer; block until done.

        From inside a write it runs inline, as a savepoint of the open transaction.
        """
        if self.in_write():
            with self._transaction_here() as conn:
                return fn(conn)
        return self._submit(fn).result()

    async def awrite(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """:meth:`write` for the event loop: the loop goes on while the writer thread works."""
        if self.in_write():  # a thread holding a lease (the store's own transaction()): inline
            return self.write(fn)
        import asyncio  # only the daemon awaits writes; the CLI never pays for the import

        return await asyncio.wrap_future(self._submit(fn))

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """The store's own write block (``Store._transaction``; nothing outside ``edge.store``
        reaches it: callers use :meth:`write` / :meth:`awrite`).

        The calling thread leases the writer (the writer thread waits, so every write stays
        serialized), and the block runs in ``BEGIN IMMEDIATE`` (nested, a savepoint).
        """
        if self.in_write():
            with self._transaction_here() as conn:
                yield conn
            return
        leased = threading.Event()
        released = threading.Event()

        def lease(_conn: sqlite3.Connection) -> None:
            leased.set()
            released.wait()

        future = self._submit(lease, transaction=False)
        leased.wait()
        self._holder = threading.get_ident()
        try:
            with self._transaction_here() as conn:
                yield conn
        finally:
            self._holder = None
            released.set()
            future.result()

    @contextlib.contextmanager
    def _transaction_here(self) -> Iterator[sqlite3.Connection]:
        """BEGIN IMMEDIATE, or a savepoint when one is open; only by the thread holding the write."""
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
        then waits (busy handler) and gives up. This retries until ``wait_seconds`` have passed;
        each attempt is short and runs on the writer, so other writes go on between attempts.
        """
        deadline = time.monotonic() + max(0.0, wait_seconds)

        def attempt(conn: sqlite3.Connection) -> tuple[int, int]:
            left = deadline - time.monotonic()
            try:
                conn.execute(f"PRAGMA busy_timeout={max(0, min(int(left * 1000), 250))}")
                busy, log, _copied = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
            except sqlite3.Error as exc:
                raise StoreError(f"could not checkpoint the database: {exc}") from exc
            finally:
                conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
            return busy, log

        while True:
            if self.in_write():
                if self._depth:
                    raise StoreError("cannot checkpoint the database inside a write transaction")
                busy, log = attempt(self.conn)
            else:
                busy, log = self._submit(attempt, transaction=False).result()
            if not busy and log <= 0:
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(min(0.05, max(0.0, deadline - time.monotonic())))

    # --- reads --------------------------------------------------------------------------------

    def _reader(self) -> sqlite3.Connection:
        if self.in_write():
            return self.conn  # a read inside a write sees the write's own rows
        conn = getattr(self._local, "conn", None)
        if conn is None:
            if self._closed:
                raise StoreError("the database is closed")
            try:
                conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False,
                                       timeout=BUSY_TIMEOUT_MS / 1000, factory=_ReadConnection)
                conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
                conn.execute("PRAGMA query_only=ON")
            except sqlite3.Error as exc:
                raise StoreError(f"cannot open database {self.path}: {exc}") from exc
            self._local.conn = conn
            with self._readers_lock:
                self._readers.add(conn)
        return conn

    def read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``fn(conn)`` on this thread's read connection, in one read transaction (one
        consistent snapshot); inside a write, on the write's connection."""
        conn = self._reader()
        if conn is self.conn:
            return fn(conn)
        conn.execute("BEGIN")
        try:
            return fn(conn)
        finally:
            conn.execute("ROLLBACK")

    def query(self, sql: str, params: tuple | dict = ()) -> list[dict[str, Any]]:
        cur = self._reader().execute(sql, params)
        try:
            cols = [c[0] for c in cur.description or ()]
            return [dict(zip(cols, row, strict=True)) for row in cur.fetchall()]
        finally:
            cur.close()

    def rows(self, sql: str, params: tuple | dict = ()) -> list[tuple[Any, ...]]:
        """:meth:`query` as plain tuples (no dict per row)."""
        cur = self._reader().execute(sql, params)
        try:
            return cur.fetchall()
        finally:
            cur.close()

    def one(self, sql: str, params: tuple | dict = ()) -> dict | None:
        rows = self.query(sql, params)
        return rows[0] if rows else None

    # --- life cycle ---------------------------------------------------------------------------

    def close(self) -> None:
        with self._start_lock:
            self._closed = True
            thread, self._thread = self._thread, None
        if thread is not None:
            if thread.ident == threading.get_ident():
                warnings.warn("database closed from inside a write", RuntimeWarning, stacklevel=2)
            else:
                self._queue.put(_STOP)
                thread.join()
        with self._readers_lock:
            readers, self._readers = list(self._readers), weakref.WeakSet()
        for conn in readers:
            with contextlib.suppress(sqlite3.Error):
                conn.close()
        self.conn.close()
