"""Database access of the web app: every write goes through the store's single writer.

A write is a function of the writer's connection, run by :meth:`Store.write` (from a worker
thread or a command: it blocks the calling thread) or awaited with :meth:`Store.awrite` (from the
event loop: the loop goes on while the writer thread works). Either runs it in one ``BEGIN
IMMEDIATE`` transaction; from inside a write (a feed handler applying the city's accounts) it runs
inline, as a savepoint. Nothing here touches a connection of its own: :func:`write` and
:func:`awrite` take the Store (anything with ``write``/``awrite``) and nothing else, so a bare
database or connection is refused instead of being written outside the writer.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from edge.store import Store

T = TypeVar("T")


def _writer(db: Any, method: str) -> Callable[..., Any]:
    fn = getattr(db, method, None)
    if not callable(fn) or not callable(getattr(db, "query", None)):
        raise TypeError(f"web writes need the Store (its single writer), not {type(db).__name__}")
    return fn


def write(db: Store, fn: Callable[[Any], T]) -> T:
    """Run ``fn(conn)`` in one write transaction of the store; blocks the calling thread."""
    return _writer(db, "write")(fn)


async def awrite(db: Store, fn: Callable[[Any], T]) -> T:
    """:func:`write` awaited from the event loop (the loop never waits on the write)."""
    return await _writer(db, "awrite")(fn)


def rows(db: Store, sql: str, params: list | tuple = ()) -> list[dict[str, Any]]:
    return list(db.query(sql, tuple(params)))


def one(db: Store, sql: str, params: list | tuple = ()) -> dict[str, Any] | None:
    found = rows(db, sql, params)
    return found[0] if found else None
