"""PostgreSQL backend (psycopg 3) for a city running several hub workers on one database."""

from __future__ import annotations

import queue
import re
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from sync.errors import HubError

from ._sql import SqlStorage, Tx

_SCHEMA_RE = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


class _PgTx(Tx):
    def __init__(self, cur: Any) -> None:
        self._cur = cur

    def all(self, sql: str, params: Sequence[Any] = ()) -> list[tuple]:
        self._cur.execute(sql.replace("?", "%s"), tuple(params))
        return self._cur.fetchall() if self._cur.description else []

    def run(self, sql: str, params: Sequence[Any] = ()) -> int:
        self._cur.execute(sql.replace("?", "%s"), tuple(params))
        return self._cur.rowcount


class PostgresStorage(SqlStorage):
    """Hub storage in PostgreSQL; a small pool of connections, one transaction per call.

    ``schema`` puts the tables in their own schema (created if missing), e.g. per test.
    """

    for_update = " FOR UPDATE"
    contains = "strpos(data, ?) > 0"

    def __init__(self, dsn: str, *, schema: str | None = None, pool_size: int = 8) -> None:
        try:
            import psycopg
        except ImportError:
            raise HubError("PostgreSQL storage needs psycopg 3: pip install 'motcua[postgres]'") from None
        if schema is not None and not _SCHEMA_RE.match(schema):
            raise HubError(f"invalid schema name {schema!r}")
        self._psycopg = psycopg
        self.integrity_errors = (psycopg.errors.IntegrityError,)
        self.dsn = dsn
        self.schema = schema
        self._pool: queue.LifoQueue = queue.LifoQueue()
        self._sem = threading.BoundedSemaphore(pool_size)
        self._all: list[Any] = []
        self._closed = False

    def _connect(self) -> Any:
        try:
            conn = self._psycopg.connect(self.dsn, autocommit=True)
        except self._psycopg.OperationalError as exc:
            raise HubError(f"cannot connect to PostgreSQL: {exc}".strip()) from None
        if self.schema:
            conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{self.schema}"')
            conn.execute(f'SET search_path TO "{self.schema}"')
        self._all.append(conn)
        return conn

    @contextmanager
    def _tx(self) -> Iterator[Tx]:
        if self._closed:
            raise HubError("storage is closed")
        self._sem.acquire()
        try:
            try:
                conn = self._pool.get_nowait()
            except queue.Empty:
                conn = self._connect()
            if conn.closed or conn.broken:
                conn = self._connect()
            try:
                with conn.transaction(), conn.cursor() as cur:
                    yield _PgTx(cur)
            except self._psycopg.errors.DeadlockDetected:
                # Rolled back by the server; nothing of it was written. Lock orders are fixed, so
                # this is not expected: say so plainly instead of a driver traceback.
                raise HubError("PostgreSQL broke a deadlock by rolling this change back (nothing was written); "
                               "try again") from None
            finally:
                self._pool.put(conn)
        finally:
            self._sem.release()

    def _lock_agency(self, tx: Tx, agency: str) -> None:
        # Partition choices of one agency are serialised across hub workers until commit.
        tx.all("SELECT pg_advisory_xact_lock(7268174, hashtext(?))", (agency,))

    def setup(self) -> None:
        # Concurrent workers may all run setup at start: serialise with an advisory lock.
        with self._tx() as tx:
            tx.run("SELECT pg_advisory_xact_lock(7268173)")
            from ._sql import SCHEMA

            for statement in SCHEMA:
                tx.run(statement)

    def close(self) -> None:
        self._closed = True
        for conn in self._all:
            try:
                conn.close()
            except Exception:
                pass
        self._all.clear()
