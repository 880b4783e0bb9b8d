"""Clerk accounts: argon2id password hashes, roles, lockout after repeated failures.

Public API (the sync client applies the city's account feed through :func:`upsert_from_feed`):
``create_account``, ``upsert_from_feed``, ``list_accounts``, ``get_account``, ``set_disabled``,
``set_password``, ``authenticate``, ``unlock``, ``Account``, ``ROLES``.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import time
import unicodedata
from dataclasses import dataclass
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from edge.errors import MotcuaError, ValidationError

from ._dbutil import one, rows, tx

logger = logging.getLogger(__name__)

ROLES = ("clerk", "supervisor", "admin")
ROLE_NAMES_VI = {"clerk": "Cán bộ tiếp nhận", "supervisor": "Lãnh đạo / giám sát", "admin": "Quản trị"}
_USERNAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{1,62}$")
MIN_PASSWORD = 6  # a 6-digit PIN is allowed on the counter screen; lockout bounds guessing

# RFC 9106 second recommended option (64 MiB, t=3, p=4): fits a Pi 4 with room to spare.
_hasher = PasswordHasher()
# Verifying an unknown user costs the same time as a known one.
_DUMMY_HASH = _hasher.hash("motcua-no-such-user")


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


def create_account(db: Any, username: str, display_name: str, role: str, password: str) -> Account:
    """Create a local account; the password (or PIN) is stored only as an argon2id hash."""
    username = normalize_username(username)
    display_name = unicodedata.normalize("NFC", display_name or "").strip()
    _check_fields(username, display_name, role)
    password_hash = hash_password(password)
    now = _now_iso()
    with tx(db) as conn:
        if conn.execute("SELECT 1 FROM web_accounts WHERE username = ?", [username]).fetchone():
            raise ValidationError("username", "already exists", message_vi="Tên đăng nhập đã tồn tại.")
        conn.execute(
            "INSERT INTO web_accounts (username, display_name, role, password_hash, disabled, source,"
            " created_at, updated_at) VALUES (?, ?, ?, ?, 0, 'local', ?, ?)",
            [username, display_name, role, password_hash, now, now])
    return get_account(db, username)  # type: ignore[return-value]


def upsert_from_feed(db: Any, record: dict[str, Any]) -> Account:
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
    with tx(db) as conn:
        conn.execute(
            "INSERT INTO web_accounts (username, display_name, role, password_hash, disabled, source,"
            " created_at, updated_at) VALUES (?, ?, ?, ?, ?, 'city', ?, ?)"
            " ON CONFLICT(username) DO UPDATE SET display_name = excluded.display_name,"
            " role = excluded.role, password_hash = excluded.password_hash,"
            " disabled = excluded.disabled, source = 'city', updated_at = excluded.updated_at",
            [username, display_name, role, password_hash, int(disabled), now, now])
        if disabled:
            conn.execute("DELETE FROM web_sessions WHERE username = ?", [username])
    return get_account(db, username)  # type: ignore[return-value]


def get_account(db: Any, username: str) -> Account | None:
    row = one(db, "SELECT * FROM web_accounts WHERE username = ?", [normalize_username(username)])
    return None if row is None else _row_to_account(row)


def list_accounts(db: Any) -> list[Account]:
    return [_row_to_account(r) for r in rows(db, "SELECT * FROM web_accounts ORDER BY username")]


def count_accounts(db: Any) -> int:
    return one(db, "SELECT count(*) AS n FROM web_accounts")["n"]  # type: ignore[index]


def set_disabled(db: Any, username: str, disabled: bool) -> None:
    username = normalize_username(username)
    with tx(db) as conn:
        cur = conn.execute("UPDATE web_accounts SET disabled = ?, updated_at = ? WHERE username = ?",
                         [int(disabled), _now_iso(), username])
        if cur.rowcount == 0:
            raise ValidationError("username", "no such account", message_vi="Không có tài khoản này.")
        if disabled:
            conn.execute("DELETE FROM web_sessions WHERE username = ?", [username])


def set_password(db: Any, username: str, password: str) -> None:
    username = normalize_username(username)
    password_hash = hash_password(password)
    with tx(db) as conn:
        cur = conn.execute("UPDATE web_accounts SET password_hash = ?, updated_at = ? WHERE username = ?",
                         [password_hash, _now_iso(), username])
        if cur.rowcount == 0:
            raise ValidationError("username", "no such account", message_vi="Không có tài khoản này.")
        conn.execute("DELETE FROM web_sessions WHERE username = ?", [username])


def unlock(db: Any, username: str) -> None:
    with tx(db) as conn:
        conn.execute("DELETE FROM web_login_failures WHERE username = ?", [normalize_username(username)])


def locked_for(db: Any, username: str, *, now: float | None = None) -> int:
    """Seconds left on a lockout (0 when not locked)."""
    now = time.time() if now is None else now
    row = one(db, "SELECT locked_until FROM web_login_failures WHERE username = ?", [normalize_username(username)])
    if row is None or row["locked_until"] is None or row["locked_until"] <= now:
        return 0
    return int(row["locked_until"] - now) + 1


@dataclass(frozen=True, slots=True, kw_only=True)
class LoginAttempt:
    """The database half of a login, before the (slow) hash check."""

    username: str
    password_hash: str
    exists: bool
    disabled: bool
    role: str


def begin_login(db: Any, username: str) -> LoginAttempt:
    """Refuse a locked account at once; otherwise fetch what the hash check needs."""
    username = normalize_username(username)
    left = locked_for(db, username)
    if left:
        minutes = max(1, (left + 59) // 60)
        raise AuthError(f"account locked for {left} s", code="locked", retry_after=left,
                        message_vi=f"Tài khoản tạm khóa do nhập sai nhiều lần. Vui lòng thử lại sau {minutes} phút.")
    row = one(db, "SELECT password_hash, disabled, role FROM web_accounts WHERE username = ?", [username])
    if row is None:
        return LoginAttempt(username=username, password_hash=_DUMMY_HASH, exists=False, disabled=False, role="")
    return LoginAttempt(username=username, password_hash=row["password_hash"], exists=True,
                        disabled=bool(row["disabled"]), role=row["role"])


def verify_password(attempt: LoginAttempt, password: str) -> bool:
    """The argon2id check (tens of milliseconds, no database): run it in an executor."""
    try:
        return _hasher.verify(attempt.password_hash, password or "") and attempt.exists
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def finish_login(db: Any, attempt: LoginAttempt, ok: bool, *, max_attempts: int,
                 lockout_minutes: int, roles: tuple[str, ...] = ROLES) -> Account:
    """Count a failure (locking after ``max_attempts`` in a row) or clear the count."""
    username = attempt.username
    now = time.time()
    if not ok:
        with tx(db) as conn:
            prev = conn.execute("SELECT failures, locked_until FROM web_login_failures WHERE username = ?",
                              [username]).fetchone()
            failures = 1
            if prev is not None:
                # A lockout that ran out starts a fresh count.
                failures = 1 if (prev[1] is not None and prev[1] <= now) else prev[0] + 1
            locked_until = now + lockout_minutes * 60 if failures >= max_attempts else None
            conn.execute(
                "INSERT INTO web_login_failures (username, failures, last_failure, locked_until)"
                " VALUES (?, ?, ?, ?) ON CONFLICT(username) DO UPDATE SET failures = excluded.failures,"
                " last_failure = excluded.last_failure, locked_until = excluded.locked_until",
                [username, failures, now, locked_until])
        if locked_until is not None:
            raise AuthError("wrong password; account now locked", code="locked",
                            retry_after=lockout_minutes * 60,
                            message_vi=f"Sai tên đăng nhập hoặc mật khẩu {failures} lần liên tiếp. Tài khoản tạm khóa {lockout_minutes} phút.")
        left_tries = max_attempts - failures
        raise AuthError("wrong username or password",
                        message_vi=f"Sai tên đăng nhập hoặc mật khẩu. Còn {left_tries} lần thử trước khi tài khoản bị tạm khóa.")
    if attempt.disabled:
        raise AuthError("account disabled", code="disabled",
                        message_vi="Tài khoản đã bị vô hiệu hóa. Vui lòng liên hệ quản trị.")
    with tx(db) as conn:
        conn.execute("DELETE FROM web_login_failures WHERE username = ?", [username])
    if attempt.role not in roles:
        raise AuthError("role not allowed", code="forbidden",
                        message_vi="Tài khoản này không có quyền thực hiện thao tác này.")
    return get_account(db, username)  # type: ignore[return-value]


def authenticate(db: Any, username: str, password: str, *, max_attempts: int,
                 lockout_minutes: int, roles: tuple[str, ...] = ROLES) -> Account:
    """Check a username and password; count failures; lock after ``max_attempts`` in a row.

    Raises :class:`AuthError` with a Vietnamese message; never says whether the user exists.
    Blocking: async code uses :func:`begin_login`, :func:`verify_password` in an executor,
    then :func:`finish_login`.
    """
    attempt = begin_login(db, username)
    ok = verify_password(attempt, password)
    return finish_login(db, attempt, ok, max_attempts=max_attempts, lockout_minutes=lockout_minutes,
                        roles=roles)


__all__ = [
    "ROLES", "ROLE_NAMES_VI", "Account", "AuthError", "LoginAttempt", "authenticate", "begin_login",
    "finish_login", "verify_password", "count_accounts",
    "create_account", "get_account", "hash_password", "list_accounts", "locked_for",
    "normalize_username", "set_disabled", "set_password", "unlock", "upsert_from_feed",
]
