"""One-time enrollment tokens: base32, at least 128 bits; the hub keeps only their hash."""

from __future__ import annotations

import base64
import hashlib
import re
import secrets

from sync.errors import ProtocolError

TOKEN_BYTES = 20  # 160 bits -> 32 base32 characters
_TOKEN_RE = re.compile(r"\A[A-Z2-7]{26,128}\Z", re.ASCII)


def new_token() -> str:
    return base64.b32encode(secrets.token_bytes(TOKEN_BYTES)).decode("ascii").rstrip("=")


def normalize_token(token: str) -> str:
    """Remove spaces and dashes, upper-case; raise ProtocolError if not a base32 token."""
    if not isinstance(token, str):
        raise ProtocolError("token", "must be a string")
    norm = re.sub(r"[\s-]", "", token).upper()
    if not _TOKEN_RE.match(norm):
        raise ProtocolError("token", "must be at least 26 base32 characters (A-Z, 2-7)")
    return norm


def token_sha256(token: str) -> str:
    return hashlib.sha256(normalize_token(token).encode("ascii")).hexdigest()


def format_token(token: str) -> str:
    """Groups of four for reading aloud or printing."""
    norm = normalize_token(token)
    return "-".join(norm[i:i + 4] for i in range(0, len(norm), 4))
