"""Server-side sessions: a random token in the cookie, only its SHA-256 in the database.

The CSRF token is derived from the session token (a keyed hash), so it needs no storage, is
unique per session, and cannot be computed from what the database holds.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ._dbutil import awrite, one, write
from .accounts import Account, account_of_row

if TYPE_CHECKING:
    from edge.store import Store

COOKIE_NAME = "motcua_session"
_TOUCH_EVERY = 30.0  # seconds: bounds writes while still measuring idleness to the half minute


@dataclass(frozen=True, slots=True, kw_only=True)
class Session:
    """An open session and its account."""

    token_hash: str
    account: Account
    csrf_token: str
    last_seen: float


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("ascii", "replace")).hexdigest()


def csrf_for(token: str) -> str:
    return hmac.new(token.encode("ascii", "replace"), b"motcua-csrf-v1", hashlib.sha256).hexdigest()[:43]


def csrf_valid(token: str, candidate: str | None) -> bool:
    return bool(candidate) and hmac.compare_digest(csrf_for(token), candidate or "")


def _insert(token: str, username: str) -> Callable[[Any], None]:
    now = time.time()
    return lambda conn: conn.execute(
        "INSERT INTO web_sessions (token_hash, username, created_at, last_seen) VALUES (?, ?, ?, ?)",
        [token_hash(token), username, now, now])


def create_session(db: Store, username: str) -> tuple[str, str]:
    """Open a session; returns (token, csrf token). The token is shown once, to the cookie.

    Blocks the calling thread; the event loop awaits :func:`acreate_session`."""
    token = secrets.token_urlsafe(32)
    write(db, _insert(token, username))
    return token, csrf_for(token)


async def acreate_session(db: Store, username: str) -> tuple[str, str]:
    """:func:`create_session` awaited from the event loop (the write runs on the store's writer)."""
    token = secrets.token_urlsafe(32)
    await awrite(db, _insert(token, username))
    return token, csrf_for(token)


def _look_up(db: Store, token: str | None, *, idle_minutes: int
             ) -> tuple[Session | None, Callable[[Any], Any] | None]:
    """The live session for ``token`` (reads only) and the write it calls for, if any: the
    deletion of an idle or orphaned session, or the refresh of ``last_seen``."""
    if not token or len(token) > 128:
        return None, None
    th = token_hash(token)
    # The session and its account in one query (an orphaned session comes back without one).
    row = one(db, "SELECT s.last_seen, a.* FROM web_sessions s LEFT JOIN web_accounts a ON a.username = s.username"
                  " WHERE s.token_hash = ?", [th])
    if row is None:
        return None, None
    last_seen = row["last_seen"]
    now = time.time()
    account = None if row["username"] is None else account_of_row(row)
    if now - last_seen > idle_minutes * 60 or account is None or account.disabled:
        return None, lambda conn: conn.execute("DELETE FROM web_sessions WHERE token_hash = ?", [th])
    touch = None
    if now - last_seen > _TOUCH_EVERY:
        touch = lambda conn: conn.execute("UPDATE web_sessions SET last_seen = ? WHERE token_hash = ?",  # noqa: E731
                                          [now, th])
        last_seen = now
    return Session(token_hash=th, account=account, csrf_token=csrf_for(token), last_seen=last_seen), touch


def resolve_session(db: Store, token: str | None, *, idle_minutes: int) -> Session | None:
    """The live session for ``token``, or None; an idle or orphaned session is deleted.

    Blocks the calling thread on its write; every request awaits :func:`aresolve_session`."""
    session, change = _look_up(db, token, idle_minutes=idle_minutes)
    if change is not None:
        write(db, change)
    return session


async def aresolve_session(db: Store, token: str | None, *, idle_minutes: int) -> Session | None:
    """:func:`resolve_session` for the event loop: the reads run here, the write (at most one
    every half minute per session) is awaited on the store's writer thread."""
    session, change = _look_up(db, token, idle_minutes=idle_minutes)
    if change is not None:
        await awrite(db, change)
    return session


def session_alive(db: Store, th: str, *, idle_minutes: int) -> bool:
    """Whether the session with hash ``th`` is still open, not idle and of an enabled account.

    Read only: a long-lived stream checking its session does not keep that session alive.
    """
    row = one(db, "SELECT s.last_seen, a.disabled FROM web_sessions s JOIN web_accounts a"
                  " ON a.username = s.username WHERE s.token_hash = ?", [th])
    return row is not None and not row["disabled"] and time.time() - row["last_seen"] <= idle_minutes * 60


def _delete(token: str) -> Callable[[Any], None]:
    th = token_hash(token)
    return lambda conn: conn.execute("DELETE FROM web_sessions WHERE token_hash = ?", [th])


def end_session(db: Store, token: str) -> None:
    write(db, _delete(token))


async def aend_session(db: Store, token: str) -> None:
    """:func:`end_session` awaited from the event loop."""
    await awrite(db, _delete(token))


def purge_idle(db: Store, *, idle_minutes: int) -> int:
    cutoff = time.time() - idle_minutes * 60
    return write(db, lambda conn: conn.execute("DELETE FROM web_sessions WHERE last_seen < ?", [cutoff]).rowcount)
