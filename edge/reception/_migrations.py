"""Tables owned by the reception package: the procedure catalog and the calendar overrides.

Registered through ``edge/reception/_extension.py``; :func:`ensure_schema` applies the set to
any database (tests, or the CLI without an initialized store).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from sqlite_utils import Database
from sqlite_utils.migrations import Migrations

migrations = Migrations("reception")
T = TypeVar("T")


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


@migrations()
def m003_procedure_versions(db: Database) -> None:
    """Versions of a procedure (effective dates) and the archive of every version ever seen."""
    import hashlib
    import json

    db.execute(
        """
        CREATE TABLE procedure_versions (
            code TEXT NOT NULL,
            effective_from TEXT NOT NULL DEFAULT '',   -- '' : since always
            effective_end TEXT NOT NULL DEFAULT '9999-12-31',  -- the last day in force
            data TEXT NOT NULL,
            sha256 TEXT NOT NULL,
            PRIMARY KEY (code, effective_from)
        )
        """
    )
    db.execute(
        """
        CREATE TABLE procedure_archive (
            sha256 TEXT PRIMARY KEY,
            code TEXT NOT NULL,
            effective_from TEXT NOT NULL,
            data TEXT NOT NULL,
            first_seen TEXT NOT NULL
        )
        """
    )
    for row in list(db.query("SELECT code, data, imported_at FROM procedures")):
        record = json.loads(row["data"])
        digest = hashlib.sha256(json.dumps(record, ensure_ascii=False, sort_keys=True).encode()).hexdigest()
        db.execute("INSERT INTO procedure_versions(code, data, sha256) VALUES (?, ?, ?)",
                   (row["code"], row["data"], digest))
        db.execute("INSERT OR IGNORE INTO procedure_archive VALUES (?, ?, '', ?, ?)",
                   (digest, row["code"], row["data"], row["imported_at"]))


@migrations()
def m004_admin_units(db: Database) -> None:
    """Two-tier administrative units (province, commune) with their codes, from the hub's feed."""
    db.execute(
        """
        CREATE TABLE admin_units (
            level TEXT NOT NULL CHECK (level IN ('province', 'commune')),
            code TEXT NOT NULL,
            name TEXT NOT NULL,
            parent TEXT NOT NULL DEFAULT '',
            source TEXT NOT NULL DEFAULT '',
            imported_at TEXT NOT NULL DEFAULT '',
            PRIMARY KEY (level, code)
        )
        """
    )


def ensure_schema(db: Database) -> None:
    """Apply the reception migrations (idempotent)."""
    migrations.apply(db)


class Access:
    """Reads and writes on either a bare ``sqlite_utils.Database`` or an open ``Store``.

    With a store, a write is a function run by ``store.write`` (one ``BEGIN IMMEDIATE``
    transaction on its single writer; from inside a write, such as a feed handler's, inline as a
    savepoint) and reads go through ``store.query``; nothing here holds a connection of its own.
    The store applies this migration set when it opens.
    """

    def __init__(self, target: Any) -> None:
        if isinstance(target, Database):
            ensure_schema(target)
            self._query = lambda sql, params: [dict(r) for r in target.query(sql, params)]
            self._write = lambda fn: _atomic(target, fn)
        elif callable(getattr(target, "write", None)) and callable(getattr(target, "query", None)):
            self._query = lambda sql, params: list(target.query(sql, tuple(params)))
            self._write = lambda fn: target.write(lambda conn: fn(Database(conn, execute_plugins=False)))
        else:
            raise TypeError(f"expected a sqlite_utils.Database or a Store, got {type(target).__name__}")

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        return self._query(sql, params)

    def write(self, fn: Callable[[Database], T]) -> T:
        """Run ``fn(db)`` in one write transaction; ``db`` is a sqlite-utils view of the writing
        connection, valid only during the call."""
        return self._write(fn)


def _atomic(db: Database, fn: Callable[[Database], T]) -> T:
    with db.atomic():
        return fn(db)
