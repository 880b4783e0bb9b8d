"""Database access of the web app: every write goes through the store's single-writer path.

The store shares one SQLite connection between threads (the event loop, scanner batches, the
sync client); :meth:`Store.transaction` takes its lock and opens ``BEGIN IMMEDIATE`` (nested in
an open one of the same thread, a savepoint). A write issued on the bare connection instead would
land inside whatever transaction another thread has open there (a savepoint of it, lost with its
rollback) or fail with "cannot start a transaction within a transaction". So :func:`tx` takes a
Store (anything with ``transaction()``) and nothing else.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from edge.store import Store


@contextlib.contextmanager
def tx(db: Store) -> Iterator[Any]:
    """A write transaction on the store; nested inside an open one it becomes a savepoint."""
    if hasattr(db, "transaction"):
        with db.transaction() as conn:
            yield conn
        return
    raise TypeError("web writes need the Store (its lock and BEGIN IMMEDIATE), not its bare database")


def rows(db: Store, sql: str, params: list | tuple = ()) -> list[dict[str, Any]]:
    return list(db.query(sql, tuple(params)))


def one(db: Store, sql: str, params: list | tuple = ()) -> dict[str, Any] | None:
    found = rows(db, sql, params)
    return found[0] if found else None
