"""Tables of the web app: clerk accounts, sessions (token hashes only) and login failures.

Registered through ``edge/web/_extension.py``; applied with the store's own sets.
No citizen data lives here: ratings and fees go into the dossier's metadata through the store.
"""

from __future__ import annotations

from sqlite_utils import Database
from sqlite_utils.migrations import Migrations

migrations = Migrations("web")


@migrations(name="0001_accounts_sessions")
def _accounts_sessions(db: Database) -> None:
    db.execute(
        """CREATE TABLE web_accounts (
            username TEXT PRIMARY KEY,
            display_name TEXT NOT NULL,
            role TEXT NOT NULL CHECK (role IN ('clerk', 'supervisor', 'admin')),
            password_hash TEXT NOT NULL,
            disabled INTEGER NOT NULL DEFAULT 0,
            source TEXT NOT NULL DEFAULT 'local',
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        )"""
    )
    db.execute(
        """CREATE TABLE web_sessions (
            token_hash TEXT PRIMARY KEY,
            username TEXT NOT NULL REFERENCES web_accounts(username) ON DELETE CASCADE,
            created_at REAL NOT NULL,
            last_seen REAL NOT NULL
        )"""
    )
    db.execute("CREATE INDEX web_sessions_username ON web_sessions(username)")
    db.execute(
        """CREATE TABLE web_login_failures (
            username TEXT PRIMARY KEY,
            failures INTEGER NOT NULL,
            last_failure REAL NOT NULL,
            locked_until REAL
        )"""
    )


__all__ = ["migrations"]
