"""Tables of the sync client (sqlite-utils ``Migrations("sync")``, registered in _extension.py).

The store owns ``outbox`` and ``meta``; these tables hold what only the sync client needs:

- ``sync_manifests``: the manifest of each dossier, built once and then sent byte-identical on
  every retry (the hub answers ``manifest_conflict`` to a different one under the same id);
- ``sync_commands``: signed hub commands, each obeyed once (``command_id`` is the key);
- ``sync_city_status``: the city's status of each dossier as the feed last told it.
"""

from __future__ import annotations

from sqlite_utils.migrations import Migrations

migrations = Migrations("sync")


@migrations(name="0001_sync_tables")
def _sync_tables(db) -> None:
    db.execute(
        """CREATE TABLE sync_manifests (
            dossier_id TEXT PRIMARY KEY,
            manifest TEXT NOT NULL,
            manifest_sha256 TEXT NOT NULL,
            created_at TEXT NOT NULL
        )"""
    )
    db.execute(
        """CREATE TABLE sync_commands (
            command_id TEXT PRIMARY KEY,
            kind TEXT NOT NULL,
            body TEXT NOT NULL,
            state TEXT NOT NULL CHECK (state IN ('pending', 'done', 'refused')),
            received_at TEXT NOT NULL,
            done_at TEXT
        )"""
    )
    db.execute(
        """CREATE TABLE sync_city_status (
            dossier_id TEXT PRIMARY KEY,
            code TEXT,
            status TEXT NOT NULL,
            status_name TEXT NOT NULL DEFAULT '',
            note TEXT NOT NULL DEFAULT '',
            changed_at TEXT,
            seq INTEGER NOT NULL
        )"""
    )
