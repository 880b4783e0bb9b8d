"""IT's accounts on the hub: argon2id passwords, server-side sessions, CSRF, lockout.

The session token travels in an HttpOnly, SameSite=Strict cookie (Secure over the hub's HTTPS);
the database holds only its SHA-256. The CSRF token is an HMAC of the session token, so it needs
no storage and cannot be computed from what the database holds. Every POST carries it (form field
``csrf_token``) and must come from the hub's own origin.

A login reserves its attempt in the database before the slow hash check (five failures lock the
account for fifteen minutes; a correct password does not succeed while it is locked).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

COOKIE_NAME = "motcua_hub_session"
IDLE_MINUTES = 30
MAX_ATTEMPTS = 5
LOCK_MINUTES = 15
MIN_PASSWORD = 10
USERNAME_MAX = 64

_HASHER = PasswordHasher()
# Checked against when the account does not exist, so that answer takes as long as a wrong password.
_DUMMY_HASH = _HASHER.hash(secrets.token_urlsafe(16))


class FleetAuthError(Exception):
    """A login or an account change is refused; ``message_vi`` says why, for the page."""

    def __init__(self, message_vi: str, *, field: str = "") -> None:
        super().__init__(message_vi)
        self.message_vi = message_vi
        self.field = field


@dataclass(frozen=True, slots=True)
class NewSession:
    token: str
    token_hash: str


def hash_password(password: str) -> str:
    check_password(password)
    return _HASHER.hash(password)


def check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise FleetAuthError(f"Mật khẩu phải có ít nhất {MIN_PASSWORD} ký tự.", field="password")


def check_username(username: str) -> str:
    name = username.strip()
    if not name or len(name) > USERNAME_MAX or not all(c.isalnum() or c in "._-" for c in name) or not name.isascii():
        raise FleetAuthError("Tên đăng nhập chỉ gồm chữ không dấu, số, dấu chấm, gạch ngang, gạch dưới "
                             f"(tối đa {USERNAME_MAX} ký tự).", field="username")
    return name


def verify(password_hash: str | None, password: str) -> bool:
    """Whether ``password`` matches; with no hash, the same work is done and the answer is no."""
    try:
        return _HASHER.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def new_session() -> NewSession:
    token = secrets.token_urlsafe(32)
    return NewSession(token=token, token_hash=token_hash(token))


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("ascii", "replace")).hexdigest()


def csrf_for(token: str) -> str:
    return hmac.new(token.encode("ascii", "replace"), b"motcua-hub-fleet-csrf-v1", hashlib.sha256).hexdigest()[:43]


def csrf_valid(token: str | None, candidate: str | None) -> bool:
    return bool(token) and bool(candidate) and hmac.compare_digest(csrf_for(token or ""), candidate or "")
