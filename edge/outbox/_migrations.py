"""The outbox's table (sqlite-utils ``Migrations("outbox")``).

Databases created before the outbox had its own set already hold the table (the store's
``0001_core`` created it then): the first migration creates it only if it is missing.
"""

from __future__ import annotations

from sqlite_utils.migrations import Migrations

migrations = Migrations("outbox")


@migrations(name="0001_outbox")
def _outbox(db) -> None:
    db.execute(
        """CREATE TABLE IF NOT EXISTS outbox (
            dossier_id TEXT PRIMARY KEY REFERENCES dossiers(id),
            state TEXT NOT NULL,
            blob_offsets TEXT NOT NULL DEFAULT '{}',
            attempts INTEGER NOT NULL DEFAULT 0,
            next_attempt_at TEXT,
            last_error TEXT,
            receipt TEXT,
            receipt_verified INTEGER NOT NULL DEFAULT 0,
            committed_at TEXT,
            confirmed_at TEXT,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        )"""
    )
    db.execute("CREATE INDEX IF NOT EXISTS outbox_state ON outbox(state, next_attempt_at)")
