"""Request signing (station Ed25519 key) and signed objects (hub receipts and commands)."""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from sync.errors import ProtocolError, SignatureError

from ._constants import (
    H_CONTENT_SHA256,
    H_NONCE,
    H_PROTOCOL,
    H_SIGNATURE,
    H_STATION,
    H_TIMESTAMP,
    NONCE_RE,
    PROTOCOL_VERSION,
    ROTATE_PREFIX,
    SHA256_RE,
    SIGNATURE_PREFIX,
    STATION_ID_RE,
    TIMESTAMP_RE,
)
from ._encoding import b64d, b64e, canonical_json, sha256_hex


def new_nonce() -> str:
    """128 random bits, URL-safe base64 without padding (22 characters)."""
    return secrets.token_urlsafe(16)


def key_id(public_key_raw: bytes) -> str:
    """Short identifier of an Ed25519 public key: 16 hex chars of its SHA-256."""
    return hashlib.sha256(public_key_raw).hexdigest()[:16]


def public_key_raw(key: Ed25519PrivateKey | Ed25519PublicKey) -> bytes:
    pub = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    return pub.public_bytes_raw()


def load_public_key(raw_b64: str, field: str = "public_key") -> Ed25519PublicKey:
    raw = b64d(raw_b64, field)
    if len(raw) != 32:
        raise ProtocolError(field, f"must be a raw 32-byte Ed25519 public key, got {len(raw)} bytes")
    return Ed25519PublicKey.from_public_bytes(raw)


def canonical_request(*, method: str, path_qs: str, timestamp_ms: int | str, nonce: str,
                      content_sha256: str, station_id: str) -> bytes:
    """The bytes a station signs (docs/sync-protocol.md §4.2)."""
    lines = (SIGNATURE_PREFIX, method.upper(), path_qs, str(timestamp_ms), nonce,
             content_sha256, station_id)
    return "\n".join(lines).encode("utf-8")


def sign_request(key: Ed25519PrivateKey, *, station_id: str, method: str, path_qs: str,
                 body: bytes = b"", timestamp_ms: int | None = None, nonce: str | None = None,
                 content_sha256: str | None = None) -> dict[str, str]:
    """Headers that sign one request. ``timestamp_ms`` must already include the hub offset.

    ``content_sha256`` may be given instead of ``body`` (for a streamed chunk).
    """
    ts = int(time.time() * 1000) if timestamp_ms is None else int(timestamp_ms)
    nonce = nonce or new_nonce()
    digest = content_sha256 or sha256_hex(body)
    message = canonical_request(method=method, path_qs=path_qs, timestamp_ms=ts, nonce=nonce,
                                content_sha256=digest, station_id=station_id)
    return {
        H_PROTOCOL: str(PROTOCOL_VERSION),
        H_STATION: station_id,
        H_TIMESTAMP: str(ts),
        H_NONCE: nonce,
        H_CONTENT_SHA256: digest,
        H_SIGNATURE: b64e(key.sign(message)),
    }


@dataclass(frozen=True, slots=True, kw_only=True)
class SignedHeaders:
    """The five signature headers of a request, parsed and checked for form."""

    station_id: str
    timestamp_ms: int
    nonce: str
    content_sha256: str
    signature: bytes

    @classmethod
    def parse(cls, headers: Mapping[str, str]) -> SignedHeaders:
        """Raise ProtocolError (field = header name) when a header is missing or malformed."""
        values = {}
        for name in (H_STATION, H_TIMESTAMP, H_NONCE, H_CONTENT_SHA256, H_SIGNATURE):
            value = headers.get(name)
            if not value:
                raise ProtocolError(name, "header missing: the request must be signed")
            values[name] = value
        station = values[H_STATION]
        if not STATION_ID_RE.fullmatch(station):
            raise ProtocolError(H_STATION, "is not a valid station id")
        raw_ts = values[H_TIMESTAMP]
        if not TIMESTAMP_RE.fullmatch(raw_ts):
            raise ProtocolError(H_TIMESTAMP, "must be Unix time in milliseconds (decimal digits)")
        if not NONCE_RE.fullmatch(values[H_NONCE]):
            raise ProtocolError(H_NONCE, "must be 16-64 characters of A-Z a-z 0-9 _ -")
        if not SHA256_RE.fullmatch(values[H_CONTENT_SHA256]):
            raise ProtocolError(H_CONTENT_SHA256, "must be a lowercase hex SHA-256")
        signature = b64d(values[H_SIGNATURE], H_SIGNATURE)
        if len(signature) != 64:
            raise ProtocolError(H_SIGNATURE, "must be a 64-byte Ed25519 signature")
        return cls(station_id=station, timestamp_ms=int(raw_ts), nonce=values[H_NONCE],
                   content_sha256=values[H_CONTENT_SHA256], signature=signature)

    def verify(self, public_key: Ed25519PublicKey, *, method: str, path_qs: str) -> None:
        message = canonical_request(method=method, path_qs=path_qs, timestamp_ms=self.timestamp_ms,
                                    nonce=self.nonce, content_sha256=self.content_sha256,
                                    station_id=self.station_id)
        try:
            public_key.verify(self.signature, message)
        except InvalidSignature:
            raise SignatureError("request signature does not verify with the station's key") from None


def rotation_message(station_id: str, new_public_key_b64: str, timestamp_ms: int | str) -> bytes:
    return "\n".join((ROTATE_PREFIX, station_id, new_public_key_b64, str(timestamp_ms))).encode()


def sign_object(key: Ed25519PrivateKey, obj: dict[str, Any]) -> str:
    """Base64 Ed25519 signature over the canonical JSON of ``obj``."""
    return b64e(key.sign(canonical_json(obj)))


def verify_object(public_key: Ed25519PublicKey | bytes, obj: dict[str, Any], signature_b64: str) -> None:
    """Verify a hub-signed object (receipt or command); raise SignatureError if it does not."""
    if isinstance(public_key, bytes):
        public_key = Ed25519PublicKey.from_public_bytes(public_key)
    try:
        public_key.verify(b64d(signature_b64, "signature"), canonical_json(obj))
    except (InvalidSignature, ProtocolError):
        raise SignatureError("hub signature does not verify") from None


class StationSigner:
    """Signs requests for one station; ``offset_ms`` is the hub's clock minus the local clock."""

    def __init__(self, station_id: str, key: Ed25519PrivateKey, *, offset_ms: int = 0) -> None:
        self.station_id = station_id
        self.key = key
        self.offset_ms = offset_ms

    def now_ms(self) -> int:
        return int(time.time() * 1000) + self.offset_ms

    def headers(self, method: str, path_qs: str, body: bytes = b"", **kwargs: Any) -> dict[str, str]:
        kwargs.setdefault("timestamp_ms", self.now_ms())
        return sign_request(self.key, station_id=self.station_id, method=method, path_qs=path_qs,
                            body=body, **kwargs)
