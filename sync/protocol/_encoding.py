"""Canonical JSON, hashes, base64 and time formats shared by both sides."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import json
from typing import Any

from sync.errors import ProtocolError


def canonical_json(obj: Any) -> bytes:
    """The byte form hashed and signed: sorted keys, no spaces, UTF-8, no floats allowed."""
    _reject_floats(obj)
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def _reject_floats(obj: Any, path: str = "$") -> None:
    if isinstance(obj, float):
        raise ProtocolError(path, "floating-point numbers are not allowed in signed objects")
    if isinstance(obj, dict):
        for key, value in obj.items():
            _reject_floats(value, f"{path}.{key}")
    elif isinstance(obj, list):
        for i, value in enumerate(obj):
            _reject_floats(value, f"{path}[{i}]")


def _no_constant(name: str) -> Any:
    raise ProtocolError("$", f"{name} is not JSON")


def parse_json(body: bytes) -> Any:
    """Strict JSON from the wire: UTF-8, no NaN/Infinity, no lone surrogate (``"\\ud800"``) anywhere.

    Raises ProtocolError (field ``$``) for anything else; what this returns can be encoded again as
    UTF-8 (and stored as text by any database).
    """
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ProtocolError("$", f"body is not UTF-8 (byte {exc.start})") from None
    try:
        data = json.loads(text, parse_constant=_no_constant)
    except RecursionError:
        raise ProtocolError("$", "body is nested too deeply") from None
    except ValueError as exc:
        raise ProtocolError("$", f"body is not JSON: {exc}") from None
    stack = [data]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            _utf8_text(item)
        elif isinstance(item, dict):
            for key, value in item.items():
                _utf8_text(key)
                stack.append(value)
        elif isinstance(item, list):
            stack.extend(item)
    return data


def _utf8_text(text: str) -> None:
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise ProtocolError("$", f"body holds a lone surrogate \\u{ord(text[exc.start]):04x}, "
                                "which is not Unicode text") from None


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


EMPTY_SHA256 = sha256_hex(b"")


def b64e(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def b64d(text: Any, field: str = "value") -> bytes:
    """Strict standard base64 (with padding); raises ProtocolError naming the field."""
    if not isinstance(text, str):
        raise ProtocolError(field, "must be a base64 string")
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise ProtocolError(field, "is not valid base64") from None


def ms_to_rfc3339(ms: int) -> str:
    moment = dt.datetime.fromtimestamp(ms / 1000, tz=dt.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def rfc3339_to_ms(text: Any, field: str = "time") -> int:
    """Parse an RFC 3339 time with an offset (``Z`` or ``+hh:mm``) into Unix milliseconds."""
    if not isinstance(text, str) or "T" not in text:
        raise ProtocolError(field, "must be an RFC 3339 time such as 2026-11-22T03:04:05Z")
    try:
        moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise ProtocolError(field, "must be an RFC 3339 time such as 2026-11-22T03:04:05Z") from None
    if moment.tzinfo is None:
        raise ProtocolError(field, "must carry a time zone (Z or +hh:mm)")
    return int(moment.timestamp() * 1000)


def normalize_time(text: Any, field: str) -> str:
    """Validate an RFC 3339 time and return it in the protocol's UTC form."""
    return ms_to_rfc3339(rfc3339_to_ms(text, field))
