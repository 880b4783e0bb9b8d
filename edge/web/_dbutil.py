"""Database access that works on the Store (its lock and ``BEGIN IMMEDIATE``) or on a bare
sqlite-utils Database (the CLI, the sync client applying a feed inside its own transaction)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any


@contextlib.contextmanager
def tx(db: Any) -> Iterator[Any]:
    """A write transaction; nested inside an open one it becomes a savepoint."""
    if hasattr(db, "transaction"):
        with db.transaction() as conn:
            yield conn
    else:
        with db.atomic():
            yield db


def rows(db: Any, sql: str, params: list | tuple = ()) -> list[dict[str, Any]]:
    return list(db.query(sql, tuple(params)))


def one(db: Any, sql: str, params: list | tuple = ()) -> dict[str, Any] | None:
    found = rows(db, sql, params)
    return found[0] if found else None
