"""Tables of the transfer package (sqlite-utils ``Migrations("transfer")``).

- ``transfer_exports``: each transfer this box wrote (no personal data: ids and counts);
- ``transfer_relayed``: receipts this box obtained as a relay for other stations' dossiers, kept
  to be carried back on a receipts stick (``motcua transfer receipts``).
"""

from __future__ import annotations

from sqlite_utils.migrations import Migrations

migrations = Migrations("transfer")


@migrations(name="0001_transfer_tables")
def _tables(db) -> None:
    db.execute(
        """CREATE TABLE transfer_exports (
            transfer_id TEXT PRIMARY KEY,
            created_at TEXT NOT NULL,
            dossiers INTEGER NOT NULL,
            bytes INTEGER NOT NULL,
            path TEXT NOT NULL
        )"""
    )
    db.execute(
        """CREATE TABLE transfer_relayed (
            dossier_id TEXT PRIMARY KEY,
            station_id TEXT NOT NULL,
            receipt TEXT NOT NULL,
            received_at TEXT NOT NULL
        )"""
    )
