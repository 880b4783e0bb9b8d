"""What the fleet view keeps: a bounded history per station, and IT's own admin accounts.

History: one row per station and hour (the last heartbeat of that hour, and the largest backlog
seen in it), kept for :data:`HISTORY_DAYS` days: at most 24 × 31 rows a station, enough for the
fleet page's 30-day chart. Each heartbeat writes its hour's row and drops that station's rows
older than the window, in the heartbeat's own transaction, so the table never grows past the bound.

Admin accounts are the hub's own (not the boxes' clerks): argon2id hashes, server-side sessions of
which only the token's SHA-256 is stored, and a login counter reserved before the slow hash check
(a correct password does not succeed while the account is locked).

The schema steps below are appended to the hub's schema (``_sql.SCHEMA``); each is idempotent.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any

HISTORY_DAYS = 31
HOUR_MS = 3_600_000
SESSION_TOUCH_MS = 30_000  # a session's last_seen is refreshed at most this often

SCHEMA = (
    """CREATE TABLE IF NOT EXISTS station_history (
        station_id TEXT NOT NULL,
        bucket BIGINT NOT NULL,
        seen_at BIGINT NOT NULL,
        pending INTEGER NOT NULL,
        pending_max INTEGER NOT NULL,
        oldest_unsynced_age_s BIGINT,
        disk_free_bytes BIGINT,
        PRIMARY KEY (station_id, bucket))""",
    """CREATE TABLE IF NOT EXISTS hub_admins (
        username TEXT PRIMARY KEY,
        display_name TEXT NOT NULL DEFAULT '',
        password_hash TEXT NOT NULL,
        disabled INTEGER NOT NULL DEFAULT 0,
        failed_attempts INTEGER NOT NULL DEFAULT 0,
        locked_until BIGINT,
        created_at BIGINT NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS hub_admin_sessions (
        token_hash TEXT PRIMARY KEY,
        username TEXT NOT NULL REFERENCES hub_admins (username),
        created_at BIGINT NOT NULL,
        last_seen BIGINT NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS hub_admin_audit (
        at BIGINT NOT NULL,
        username TEXT NOT NULL,
        action TEXT NOT NULL,
        station_id TEXT,
        detail TEXT NOT NULL DEFAULT '')""",
)


@dataclass(frozen=True, slots=True, kw_only=True)
class HistoryPoint:
    """One hour of one station: its last heartbeat in that hour and the largest backlog seen."""

    bucket: int
    seen_at: int
    pending: int
    pending_max: int
    oldest_unsynced_age_s: int | None
    disk_free_bytes: int | None


@dataclass(frozen=True, slots=True, kw_only=True)
class AdminAccount:
    username: str
    display_name: str
    disabled: bool
    locked_until: int | None
    created_at: int


@dataclass(frozen=True, slots=True, kw_only=True)
class LoginAttempt:
    """A reserved login attempt: the hash to check, or why there is nothing to check."""

    password_hash: str | None
    locked: bool = False


def _int_or_none(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def record_heartbeat(tx: Any, station_id: str, *, now: int, heartbeat: dict[str, Any]) -> None:
    """(in the heartbeat's transaction) Write this hour's history row, drop rows past the window."""
    bucket = now - now % HOUR_MS
    pending = _int_or_none(heartbeat.get("pending")) or 0
    tx.run("INSERT INTO station_history (station_id, bucket, seen_at, pending, pending_max, oldest_unsynced_age_s, "
           "disk_free_bytes) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (station_id, bucket) DO UPDATE SET "
           "seen_at = excluded.seen_at, pending = excluded.pending, "
           "pending_max = CASE WHEN excluded.pending > station_history.pending_max THEN excluded.pending "
           "ELSE station_history.pending_max END, oldest_unsynced_age_s = excluded.oldest_unsynced_age_s, "
           "disk_free_bytes = excluded.disk_free_bytes",
           (station_id, bucket, now, pending, pending, _int_or_none(heartbeat.get("oldest_unsynced_age_s")),
            _int_or_none(heartbeat.get("disk_free_bytes"))))
    tx.run("DELETE FROM station_history WHERE station_id = ? AND bucket < ?",
           (station_id, bucket - HISTORY_DAYS * 24 * HOUR_MS))


class FleetSql:
    """The fleet's storage methods, mixed into the SQL storage (one transaction per call)."""

    def _tx(self) -> AbstractContextManager[Any]:  # provided by SqlStorage
        raise NotImplementedError

    # --- history ------------------------------------------------------------------------------

    def station_history(self, station_id: str, *, since: int) -> list[HistoryPoint]:
        with self._tx() as tx:
            rows = tx.all("SELECT bucket, seen_at, pending, pending_max, oldest_unsynced_age_s, disk_free_bytes "
                          "FROM station_history WHERE station_id = ? AND bucket >= ? ORDER BY bucket",
                          (station_id, since))
        return [HistoryPoint(bucket=r[0], seen_at=r[1], pending=r[2], pending_max=r[3],
                             oldest_unsynced_age_s=r[4], disk_free_bytes=r[5]) for r in rows]

    def history_rows(self, station_id: str) -> int:
        with self._tx() as tx:
            row = tx.one("SELECT COUNT(*) FROM station_history WHERE station_id = ?", (station_id,))
        return int(row[0]) if row else 0

    # --- admin accounts -----------------------------------------------------------------------

    def put_admin(self, username: str, *, display_name: str, password_hash: str, now: int) -> bool:
        """Create an admin, or give an existing one a new password (enabled, unlocked). True if created."""
        with self._tx() as tx:
            n = tx.run("UPDATE hub_admins SET display_name = ?, password_hash = ?, disabled = 0, failed_attempts = 0, "
                       "locked_until = NULL WHERE username = ?", (display_name, password_hash, username))
            if n:
                tx.run("DELETE FROM hub_admin_sessions WHERE username = ?", (username,))
                return False
            tx.run("INSERT INTO hub_admins (username, display_name, password_hash, created_at) VALUES (?, ?, ?, ?)",
                   (username, display_name, password_hash, now))
            return True

    def set_admin_disabled(self, username: str, disabled: bool) -> bool:
        with self._tx() as tx:
            n = tx.run("UPDATE hub_admins SET disabled = ? WHERE username = ?", (int(disabled), username))
            if disabled:
                tx.run("DELETE FROM hub_admin_sessions WHERE username = ?", (username,))
        return n == 1

    def list_admins(self) -> list[AdminAccount]:
        with self._tx() as tx:
            rows = tx.all("SELECT username, display_name, disabled, locked_until, created_at FROM hub_admins "
                          "ORDER BY username")
        return [AdminAccount(username=r[0], display_name=r[1], disabled=bool(r[2]), locked_until=r[3],
                             created_at=r[4]) for r in rows]

    def reserve_login(self, username: str, *, now: int, max_attempts: int, lock_ms: int) -> LoginAttempt:
        """Count an attempt before the hash is checked; the account locks at ``max_attempts``."""
        with self._tx() as tx:
            row = tx.one("SELECT password_hash, disabled, failed_attempts, locked_until FROM hub_admins "
                         "WHERE username = ?" + getattr(self, "for_update", ""), (username,))
            if row is None or row[1]:
                return LoginAttempt(password_hash=None)
            password_hash, _, failed, locked_until = row
            if locked_until is not None and locked_until > now:
                return LoginAttempt(password_hash=None, locked=True)
            failed = 0 if locked_until is not None else failed  # a lock that ran out starts a new count
            failed += 1
            tx.run("UPDATE hub_admins SET failed_attempts = ?, locked_until = ? WHERE username = ?",
                   (failed, now + lock_ms if failed >= max_attempts else None, username))
            return LoginAttempt(password_hash=password_hash)

    def login_succeeded(self, username: str, *, token_hash: str, now: int) -> None:
        """Reset the counter and open a session (one transaction)."""
        with self._tx() as tx:
            tx.run("UPDATE hub_admins SET failed_attempts = 0, locked_until = NULL WHERE username = ?", (username,))
            tx.run("INSERT INTO hub_admin_sessions (token_hash, username, created_at, last_seen) VALUES (?, ?, ?, ?)",
                   (token_hash, username, now, now))

    def resolve_admin_session(self, token_hash: str, *, now: int, idle_ms: int) -> AdminAccount | None:
        """The session's account if it is live; an idle session (or a disabled account's) is deleted."""
        with self._tx() as tx:
            row = tx.one("SELECT s.last_seen, a.username, a.display_name, a.disabled, a.locked_until, a.created_at "
                         "FROM hub_admin_sessions s JOIN hub_admins a ON a.username = s.username "
                         "WHERE s.token_hash = ?", (token_hash,))
            if row is None:
                return None
            last_seen, username, display_name, disabled, locked_until, created_at = row
            if disabled or now - last_seen > idle_ms:
                tx.run("DELETE FROM hub_admin_sessions WHERE token_hash = ?", (token_hash,))
                return None
            if now - last_seen > SESSION_TOUCH_MS:
                tx.run("UPDATE hub_admin_sessions SET last_seen = ? WHERE token_hash = ?", (now, token_hash))
        return AdminAccount(username=username, display_name=display_name, disabled=False,
                            locked_until=locked_until, created_at=created_at)

    def end_admin_session(self, token_hash: str) -> None:
        with self._tx() as tx:
            tx.run("DELETE FROM hub_admin_sessions WHERE token_hash = ?", (token_hash,))

    def admin_audit(self, username: str, action: str, *, now: int, station_id: str | None = None,
                    detail: str = "") -> None:
        with self._tx() as tx:
            tx.run("INSERT INTO hub_admin_audit (at, username, action, station_id, detail) VALUES (?, ?, ?, ?, ?)",
                   (now, username, action, station_id, detail[:500]))

    def admin_audit_entries(self, *, station_id: str | None = None, limit: int = 50) -> Iterator[tuple]:
        with self._tx() as tx:
            if station_id is None:
                rows = tx.all("SELECT at, username, action, station_id, detail FROM hub_admin_audit "
                              "ORDER BY at DESC LIMIT ?", (limit,))
            else:
                rows = tx.all("SELECT at, username, action, station_id, detail FROM hub_admin_audit "
                              "WHERE station_id = ? ORDER BY at DESC LIMIT ?", (station_id, limit))
        return iter(rows)
