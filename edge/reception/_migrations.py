"""Tables owned by the reception package: the procedure catalog and the calendar overrides.

Registered through ``edge/reception/_extension.py``; :func:`ensure_schema` applies the set to
any database (tests, or the CLI without an initialized store).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from typing import Any

from sqlite_utils import Database
from sqlite_utils.migrations import Migrations

migrations = Migrations("reception")


@migrations()
def m001_catalog(db: Database) -> None:
    db["procedures"].create(
        {
            "code": str,
            "name": str,
            "field": str,
            "agency": str,
            "result_document": str,
            "special_rule": str,
            "data": str,  # the whole validated record as JSON (channels, fees, components)
            "source": str,
            "imported_at": str,
        },
        pk="code",
    )
    db["catalog_imports"].create(
        {"id": int, "source": str, "imported_at": str, "count": int, "sha256": str},
        pk="id",
    )


@migrations()
def m002_calendar_overrides(db: Database) -> None:
    db.execute(
        """
        CREATE TABLE calendar_overrides (
            date TEXT PRIMARY KEY,
            kind TEXT NOT NULL CHECK (kind IN ('day_off', 'working_day')),
            reason TEXT NOT NULL DEFAULT '',
            source TEXT NOT NULL DEFAULT ''
        )
        """
    )


def ensure_schema(db: Database) -> None:
    """Apply the reception migrations (idempotent)."""
    migrations.apply(db)


class Access:
    """Reads and writes on either a bare ``sqlite_utils.Database`` or an open ``Store``.

    With a store, writes go through ``store.transaction()`` and reads through ``store.query``, so
    they take the store's connection lock; the store applies this migration set when it opens.
    """

    def __init__(self, target: Any) -> None:
        if isinstance(target, Database):
            ensure_schema(target)
            self.db = target
            self._query = lambda sql, params: [dict(r) for r in target.query(sql, params)]
            self._transaction = target.atomic
        elif hasattr(target, "transaction") and isinstance(getattr(target, "db", None), Database):
            self.db = target.db
            self._query = lambda sql, params: list(target.query(sql, tuple(params)))
            self._transaction = target.transaction
        else:
            raise TypeError(f"expected a sqlite_utils.Database or a Store, got {type(target).__name__}")

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        return self._query(sql, params)

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        with self._transaction():
            yield
