"""Clerk accounts: argon2id password hashes, roles, lockout after repeated failures.

Public API (the sync client applies the city's account feed through :func:`upsert_from_feed`):
``create_account``, ``upsert_from_feed``, ``list_accounts``, ``get_account``, ``set_disabled``,
``set_password``, ``authenticate``, ``unlock``, ``Account``, ``ROLES``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import logging
import re
import threading
import time
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from core import labels
from core.passwords import ARGON2_MEMORY_KIB, ARGON2_PARALLELISM, ARGON2_TIME_COST
from edge.errors import MotcuaError, ValidationError

from ._dbutil import awrite, one, rows, write

if TYPE_CHECKING:
    from edge.store import Store

logger = logging.getLogger(__name__)

ROLES = ("clerk", "supervisor", "admin")
ROLE_NAMES_VI = labels.ROLE_VI
_USERNAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{1,62}$")
MIN_PASSWORD = 6  # a 6-digit PIN is allowed on the counter screen; lockout bounds guessing

# The box's and the hub's one profile (core.passwords: 12 MiB, t=3, p=1). Hashes made with other
# parameters still verify (they carry their own).
_hasher = PasswordHasher(time_cost=ARGON2_TIME_COST, memory_cost=ARGON2_MEMORY_KIB, parallelism=ARGON2_PARALLELISM)


@functools.cache
def _dummy_hash() -> str:
    """Verifying an unknown user costs the same time as a known one (made at the first login,
    not at import: the daemon's start-up neither waits for it nor peaks with it)."""
    return _hasher.hash("motcua-no-such-user")


class AuthError(MotcuaError):
    """A login or an override was refused: wrong credentials, locked or disabled account."""

    def __init__(self, message: str, *, message_vi: str, code: str = "bad_credentials",
                 retry_after: int | None = None) -> None:
        super().__init__(message, message_vi=message_vi)
        self.code = code
        self.retry_after = retry_after


@dataclass(frozen=True, slots=True, kw_only=True)
class Account:
    """A clerk account, without its password hash."""

    username: str
    display_name: str
    role: str
    disabled: bool
    source: str
    created_at: str
    updated_at: str

    @property
    def role_vi(self) -> str:
        return ROLE_NAMES_VI.get(self.role, self.role)

    def to_dict(self) -> dict[str, Any]:
        return {"username": self.username, "display_name": self.display_name, "role": self.role,
                "disabled": self.disabled, "source": self.source}


def _now_iso() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def normalize_username(username: str) -> str:
    return unicodedata.normalize("NFC", username or "").strip().lower()


def _check_fields(username: str, display_name: str, role: str) -> None:
    if not _USERNAME_RE.match(username):
        raise ValidationError("username", "2-63 characters: a-z, 0-9, '.', '_', '-'",
                              message_vi="Tên đăng nhập gồm 2–63 ký tự: chữ thường không dấu, số, '.', '_', '-'.")
    if not display_name.strip() or len(display_name) > 100:
        raise ValidationError("display_name", "is required (at most 100 characters)",
                              message_vi="Vui lòng nhập tên hiển thị (tối đa 100 ký tự).")
    if role not in ROLES:
        raise ValidationError("role", f"must be one of {', '.join(ROLES)}",
                              message_vi="Vai trò phải là clerk, supervisor hoặc admin.")


def hash_password(password: str) -> str:
    if not isinstance(password, str) or len(password) < MIN_PASSWORD:
        raise ValidationError("password", f"must be at least {MIN_PASSWORD} characters",
                              message_vi=f"Mật khẩu hoặc mã PIN phải có ít nhất {MIN_PASSWORD} ký tự.")
    if len(password) > 1024:
        raise ValidationError("password", "is too long", message_vi="Mật khẩu quá dài.")
    return _hasher.hash(password)


def _row_to_account(row: dict[str, Any]) -> Account:
    return Account(username=row["username"], display_name=row["display_name"], role=row["role"],
                   disabled=bool(row["disabled"]), source=row["source"],
                   created_at=row["created_at"], updated_at=row["updated_at"])


def account_of_row(row: dict[str, Any]) -> Account:
    """An account from a row holding web_accounts' columns (e.g. joined to its session)."""
    return _row_to_account(row)


def create_account(db: Store, username: str, display_name: str, role: str, password: str) -> Account:
    """Create a local account; the password (or PIN) is stored only as an argon2id hash."""
    username = normalize_username(username)
    display_name = unicodedata.normalize("NFC", display_name or "").strip()
    _check_fields(username, display_name, role)
    password_hash = hash_password(password)
    now = _now_iso()

    def insert(conn: Any) -> None:
        if conn.execute("SELECT 1 FROM web_accounts WHERE username = ?", [username]).fetchone():
            raise ValidationError("username", "already exists", message_vi="Tên đăng nhập đã tồn tại.")
        conn.execute(
            "INSERT INTO web_accounts (username, display_name, role, password_hash, disabled, source,"
            " created_at, updated_at) VALUES (?, ?, ?, ?, 0, 'local', ?, ?)",
            [username, display_name, role, password_hash, now, now])

    write(db, insert)
    return get_account(db, username)  # type: ignore[return-value]


def upsert_from_feed(db: Store, record: dict[str, Any]) -> Account:
    """Apply one clerk account from the city's feed (idempotent).

    ``record``: username, display_name, role, password_hash (an argon2id encoded string), disabled.
    A disabled account loses its open sessions at once.
    """
    if not isinstance(record, dict):
        raise ValidationError("account", "must be an object", message_vi="Bản ghi tài khoản không hợp lệ.")
    username = normalize_username(str(record.get("username", "")))
    display_name = unicodedata.normalize("NFC", str(record.get("display_name", ""))).strip()
    role = str(record.get("role", ""))
    _check_fields(username, display_name, role)
    password_hash = record.get("password_hash")
    if not isinstance(password_hash, str) or not password_hash.startswith("$argon2id$"):
        raise ValidationError("password_hash", "must be an argon2id encoded hash",
                              message_vi="Mã băm mật khẩu phải theo định dạng argon2id.")
    try:
        _hasher.check_needs_rehash(password_hash)  # parses the parameters
    except (InvalidHashError, ValueError) as exc:
        raise ValidationError("password_hash", f"is not a valid argon2 hash: {exc}",
                              message_vi="Mã băm mật khẩu không hợp lệ.") from None
    disabled = record.get("disabled", False)
    if not isinstance(disabled, bool):
        raise ValidationError("disabled", "must be a boolean", message_vi="Trường disabled phải là true/false.")
    now = _now_iso()

    def upsert(conn: Any) -> None:
        conn.execute(
            "INSERT INTO web_accounts (username, display_name, role, password_hash, disabled, source,"
            " created_at, updated_at) VALUES (?, ?, ?, ?, ?, 'city', ?, ?)"
            " ON CONFLICT(username) DO UPDATE SET display_name = excluded.display_name,"
            " role = excluded.role, password_hash = excluded.password_hash,"
            " disabled = excluded.disabled, source = 'city', updated_at = excluded.updated_at",
            [username, display_name, role, password_hash, int(disabled), now, now])
        if disabled:
            conn.execute("DELETE FROM web_sessions WHERE username = ?", [username])

    write(db, upsert)  # inside the feed's own write: inline, as a savepoint
    return get_account(db, username)  # type: ignore[return-value]


def get_account(db: Store, username: str) -> Account | None:
    row = one(db, "SELECT * FROM web_accounts WHERE username = ?", [normalize_username(username)])
    return None if row is None else _row_to_account(row)


def list_accounts(db: Store) -> list[Account]:
    return [_row_to_account(r) for r in rows(db, "SELECT * FROM web_accounts ORDER BY username")]


def count_accounts(db: Store) -> int:
    return one(db, "SELECT count(*) AS n FROM web_accounts")["n"]  # type: ignore[index]


def set_disabled(db: Store, username: str, disabled: bool) -> None:
    username = normalize_username(username)

    def update(conn: Any) -> None:
        cur = conn.execute("UPDATE web_accounts SET disabled = ?, updated_at = ? WHERE username = ?",
                           [int(disabled), _now_iso(), username])
        if cur.rowcount == 0:
            raise ValidationError("username", "no such account", message_vi="Không có tài khoản này.")
        if disabled:
            conn.execute("DELETE FROM web_sessions WHERE username = ?", [username])

    write(db, update)


def set_password(db: Store, username: str, password: str) -> None:
    username = normalize_username(username)
    password_hash = hash_password(password)

    def update(conn: Any) -> None:
        cur = conn.execute("UPDATE web_accounts SET password_hash = ?, updated_at = ? WHERE username = ?",
                           [password_hash, _now_iso(), username])
        if cur.rowcount == 0:
            raise ValidationError("username", "no such account", message_vi="Không có tài khoản này.")
        conn.execute("DELETE FROM web_sessions WHERE username = ?", [username])

    write(db, update)


def unlock(db: Store, username: str) -> None:
    username = normalize_username(username)
    write(db, lambda conn: conn.execute("DELETE FROM web_login_failures WHERE username = ?", [username]))


def locked_for(db: Store, username: str, *, now: float | None = None) -> int:
    """Seconds left on a lockout (0 when not locked)."""
    now = time.time() if now is None else now
    row = one(db, "SELECT locked_until FROM web_login_failures WHERE username = ?", [normalize_username(username)])
    if row is None or row["locked_until"] is None or row["locked_until"] <= now:
        return 0
    return int(row["locked_until"] - now) + 1


#: Password checks of one account that may run at the same time in this process. Each argon2id
#: check costs 64 MiB and tens of milliseconds; a burst of guesses beyond this is refused at once.
MAX_CONCURRENT_CHECKS = 2

_inflight: dict[str, int] = {}
_inflight_lock = threading.Lock()


def _locked_error(left: int) -> AuthError:
    minutes = max(1, (left + 59) // 60)
    return AuthError(f"account locked for {left} s", code="locked", retry_after=left,
                     message_vi=f"Tài khoản tạm khóa do nhập sai nhiều lần. Vui lòng thử lại sau {minutes} phút.")


@dataclass(frozen=True, slots=True, kw_only=True)
class LoginAttempt:
    """A login attempt already counted in the database, before the (slow) hash check."""

    username: str
    password_hash: str
    exists: bool
    disabled: bool
    role: str
    failures: int  # attempts counted in a row, this one included


def _lock_if_spent(conn: Any, *, username: str, max_attempts: int, lockout_minutes: int, now: float) -> int:
    """Lock the account when its attempts are spent; returns the failures counted."""
    row = conn.execute("SELECT failures, locked_until FROM web_login_failures WHERE username = ?",
                       [username]).fetchone()
    failures = row[0] if row else 0
    if failures >= max_attempts and (row[1] is None or row[1] <= now):
        conn.execute("UPDATE web_login_failures SET locked_until = ? WHERE username = ?",
                     [now + lockout_minutes * 60, username])
    return failures


def _login_name(username: str) -> str:
    username = normalize_username(username)
    if not _encodable(username):
        raise ValidationError("username", "holds characters that are not text (lone surrogates)",
                              message_vi="Tên đăng nhập chứa ký tự không hợp lệ.")
    return username


def _count_attempt(username: str, *, max_attempts: int,
                   lockout_minutes: int) -> Callable[[Any], LoginAttempt | float]:
    """The write that counts one attempt and reads what its check needs (one transaction).

    A refusal is *returned* (the time the lock ends), not raised: raising inside the write would
    roll back the lock it has just set.
    """
    now = time.time()

    def count(conn: Any) -> LoginAttempt | float:
        prev = conn.execute("SELECT failures, locked_until FROM web_login_failures WHERE username = ?",
                            [username]).fetchone()
        if prev is not None and prev[1] is not None and prev[1] > now:
            return float(prev[1])
        # A lockout that ran out starts a fresh count.
        counted = 0 if prev is None or prev[1] is not None else prev[0]
        if counted >= max_attempts:
            until = now + lockout_minutes * 60
            conn.execute("UPDATE web_login_failures SET locked_until = ? WHERE username = ?", [until, username])
            return until
        conn.execute(
            "INSERT INTO web_login_failures (username, failures, last_failure, locked_until)"
            " VALUES (?, ?, ?, NULL) ON CONFLICT(username) DO UPDATE SET failures = excluded.failures,"
            " last_failure = excluded.last_failure, locked_until = NULL",
            [username, counted + 1, now])
        row = conn.execute("SELECT password_hash, disabled, role FROM web_accounts WHERE username = ?",
                           [username]).fetchone()
        if row is None:
            return LoginAttempt(username=username, password_hash=_dummy_hash(), exists=False, disabled=False,
                                role="", failures=counted + 1)
        return LoginAttempt(username=username, password_hash=row[0], exists=True, disabled=bool(row[1]),
                            role=row[2], failures=counted + 1)

    return count


def begin_login(db: Store, username: str, *, max_attempts: int, lockout_minutes: int) -> LoginAttempt:
    """Count the attempt before the hash check (one write transaction), then fetch what the check needs.

    The attempt is reserved as a failure at once and cleared only by :func:`finish_login` with the
    right password, so attempts sent together cannot all be checked: once ``max_attempts`` are
    counted the account is locked and every further attempt is refused without a check.
    Blocks the calling thread; the event loop awaits :func:`abegin_login`.
    """
    return _attempt_or_refuse(write(db, _count_attempt(_login_name(username), max_attempts=max_attempts,
                                                       lockout_minutes=lockout_minutes)))


async def abegin_login(db: Store, username: str, *, max_attempts: int, lockout_minutes: int) -> LoginAttempt:
    """:func:`begin_login` awaited from the event loop (its write runs on the store's writer thread)."""
    return _attempt_or_refuse(await awrite(db, _count_attempt(_login_name(username), max_attempts=max_attempts,
                                                              lockout_minutes=lockout_minutes)))


def _attempt_or_refuse(outcome: LoginAttempt | float) -> LoginAttempt:
    """The counted attempt, or the ``locked`` refusal once the lock is committed."""
    if isinstance(outcome, LoginAttempt):
        return outcome
    raise _locked_error(int(outcome - time.time()) + 1)


@contextlib.contextmanager
def check_slot(username: str) -> Iterator[None]:
    """Hold one of the account's :data:`MAX_CONCURRENT_CHECKS` slots for a password check.

    Raises :class:`AuthError` (``busy``) when they are all taken; the attempt stays counted.
    """
    username = normalize_username(username)
    with _inflight_lock:
        if _inflight.get(username, 0) >= MAX_CONCURRENT_CHECKS:
            raise AuthError("too many login attempts at once", code="busy", retry_after=5,
                            message_vi="Có quá nhiều lần đăng nhập cùng lúc vào tài khoản này. "
                                       "Vui lòng đợi vài giây rồi thử lại.")
        _inflight[username] = _inflight.get(username, 0) + 1
    try:
        yield
    finally:
        with _inflight_lock:
            left = _inflight.pop(username, 1) - 1
            if left > 0:
                _inflight[username] = left


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate, as a JSON escape can carry
        return False
    return True


def verify_password(attempt: LoginAttempt, password: str) -> bool:
    """The argon2id check (tens of milliseconds, no database): run it in an executor.

    A password that is not text (a lone surrogate) cannot be anyone's: a wrong password.
    """
    password = password or ""
    usable = isinstance(password, str) and _encodable(password)
    try:
        # An unusable password still costs one check, like any wrong password.
        return _hasher.verify(attempt.password_hash, password if usable else "-") and attempt.exists and usable
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def _keep_counted(attempt: LoginAttempt, *, max_attempts: int, lockout_minutes: int) -> Callable[[Any], int]:
    now = time.time()
    return functools.partial(_lock_if_spent, username=attempt.username, max_attempts=max_attempts,
                             lockout_minutes=lockout_minutes, now=now)


def refuse_unchecked(db: Store, attempt: LoginAttempt, *, max_attempts: int, lockout_minutes: int) -> None:
    """An attempt refused before its check (too many at once) stays counted; lock if that spends the last."""
    write(db, _keep_counted(attempt, max_attempts=max_attempts, lockout_minutes=lockout_minutes))


async def arefuse_unchecked(db: Store, attempt: LoginAttempt, *, max_attempts: int, lockout_minutes: int) -> None:
    """:func:`refuse_unchecked` awaited from the event loop."""
    await awrite(db, _keep_counted(attempt, max_attempts=max_attempts, lockout_minutes=lockout_minutes))


def _settle(attempt: LoginAttempt, ok: bool, *, max_attempts: int, lockout_minutes: int) -> Callable[[Any], int]:
    """The write that ends a checked attempt: returns the failures counted (0 after a success)."""
    if not ok:
        return _keep_counted(attempt, max_attempts=max_attempts, lockout_minutes=lockout_minutes)
    username = attempt.username
    now = time.time()

    def clear(conn: Any) -> int:
        row = conn.execute("SELECT locked_until FROM web_login_failures WHERE username = ?", [username]).fetchone()
        if row is not None and row[0] is not None and row[0] > now:
            raise _locked_error(int(row[0] - now) + 1)
        if not attempt.disabled:
            conn.execute("DELETE FROM web_login_failures WHERE username = ?", [username])
        return 0

    return clear


def _outcome(db: Store, attempt: LoginAttempt, ok: bool, failures: int, *, max_attempts: int,
             lockout_minutes: int, roles: tuple[str, ...]) -> Account:
    if not ok:
        if failures >= max_attempts:
            raise AuthError("wrong password; account now locked", code="locked",
                            retry_after=lockout_minutes * 60,
                            message_vi=f"Sai tên đăng nhập hoặc mật khẩu {failures} lần liên tiếp. Tài khoản tạm khóa {lockout_minutes} phút.")
        left_tries = max_attempts - failures
        raise AuthError("wrong username or password",
                        message_vi=f"Sai tên đăng nhập hoặc mật khẩu. Còn {left_tries} lần thử trước khi tài khoản bị tạm khóa.")
    if attempt.disabled:
        raise AuthError("account disabled", code="disabled",
                        message_vi="Tài khoản đã bị vô hiệu hóa. Vui lòng liên hệ quản trị.")
    if attempt.role not in roles:
        raise AuthError("role not allowed", code="forbidden",
                        message_vi="Tài khoản này không có quyền thực hiện thao tác này.")
    return get_account(db, attempt.username)  # type: ignore[return-value]


def finish_login(db: Store, attempt: LoginAttempt, ok: bool, *, max_attempts: int,
                 lockout_minutes: int, roles: tuple[str, ...] = ROLES) -> Account:
    """Keep the failure counted (locking after ``max_attempts`` in a row) or, on success, clear it.

    A success is refused while the account is locked (another attempt may have spent the last try
    while this one was being checked). Blocks the calling thread; the loop awaits :func:`afinish_login`.
    """
    limits = {"max_attempts": max_attempts, "lockout_minutes": lockout_minutes}
    failures = write(db, _settle(attempt, ok, **limits))
    return _outcome(db, attempt, ok, failures, roles=roles, **limits)


async def afinish_login(db: Store, attempt: LoginAttempt, ok: bool, *, max_attempts: int,
                        lockout_minutes: int, roles: tuple[str, ...] = ROLES) -> Account:
    """:func:`finish_login` awaited from the event loop."""
    limits = {"max_attempts": max_attempts, "lockout_minutes": lockout_minutes}
    failures = await awrite(db, _settle(attempt, ok, **limits))
    return _outcome(db, attempt, ok, failures, roles=roles, **limits)


def authenticate(db: Store, username: str, password: str, *, max_attempts: int,
                 lockout_minutes: int, roles: tuple[str, ...] = ROLES) -> Account:
    """Check a username and password; count failures; lock after ``max_attempts`` in a row.

    Raises :class:`AuthError` with a Vietnamese message; never says whether the user exists.
    Blocking: async code awaits :func:`abegin_login`, then :func:`verify_password` in an executor
    inside :func:`check_slot`, then :func:`afinish_login` (see ``edge.web._actions``).
    """
    limits = {"max_attempts": max_attempts, "lockout_minutes": lockout_minutes}
    attempt = begin_login(db, username, **limits)
    try:
        with check_slot(attempt.username):
            ok = verify_password(attempt, password)
    except AuthError:
        refuse_unchecked(db, attempt, **limits)
        raise
    return finish_login(db, attempt, ok, roles=roles, **limits)


__all__ = [
    "MAX_CONCURRENT_CHECKS", "ROLES", "ROLE_NAMES_VI", "Account", "AuthError", "LoginAttempt", "abegin_login",
    "afinish_login", "arefuse_unchecked", "authenticate", "begin_login", "check_slot", "finish_login", "refuse_unchecked", "verify_password", "count_accounts",
    "account_of_row", "create_account", "get_account", "hash_password", "list_accounts", "locked_for",
    "normalize_username", "set_disabled", "set_password", "unlock", "upsert_from_feed",
]
