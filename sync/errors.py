"""Errors of the sync layer (protocol, hub and client), all deriving from :class:`SyncError`."""

from __future__ import annotations

from typing import Any

from core.errors import MotcuaError


class SyncError(MotcuaError):
    """Base of every error raised by the sync layer."""


class ProtocolError(SyncError):
    """A message does not follow the sync protocol; ``field`` names what is wrong."""

    def __init__(self, field: str, message: str, *, message_vi: str | None = None) -> None:
        super().__init__(f"{field}: {message}", message_vi=message_vi)
        self.field = field
        self.reason = message


class SignatureError(SyncError):
    """A signature (request, receipt or command) does not verify."""


# The protocol's error codes: code -> (HTTP status, retryable); sync.protocol re-exports it.
ERROR_CODES: dict[str, tuple[int, bool]] = {
    "invalid_request": (400, False),
    "unsupported_version": (400, False),
    "unsigned": (401, False),
    "unknown_station": (401, False),
    "bad_signature": (401, False),
    "clock_skew": (401, True),
    "replayed_request": (401, False),
    "token_invalid": (401, False),
    "token_expired": (401, False),
    "token_used": (403, False),
    "station_revoked": (403, False),
    "forbidden": (403, False),
    "not_found": (404, False),
    "method_not_allowed": (405, False),
    "request_timeout": (408, True),
    "manifest_conflict": (409, False),
    "code_conflict": (409, False),
    "code_out_of_partition": (403, False),
    "code_after_retirement": (403, False),
    "offset_mismatch": (409, True),
    "upload_locked": (409, True),
    "blobs_incomplete": (409, True),
    "already_enrolled": (409, False),
    "too_large": (413, False),
    "unsupported_media_type": (415, False),
    "rate_limited": (429, True),
    "checksum_mismatch": (460, True),
    "blob_hash_mismatch": (460, True),
    "internal": (500, True),
    "unavailable": (503, True),
    "insufficient_storage": (507, True),
    # relayed transfers (docs/sync-protocol.md §14)
    "origin_unknown": (403, False),
    "origin_revoked": (403, False),
    "origin_retired": (403, False),
    "origin_bad_signature": (403, False),
    "wrong_city": (403, False),
}


class ApiError(SyncError):
    """An error answer of the protocol: HTTP status, code, retryable flag and extra members.

    The hub raises it to answer a request; the client builds it from an error response.
    """

    def __init__(self, status: int, code: str, message: str, *, retryable: bool | None = None,
                 extra: dict[str, Any] | None = None, headers: dict[str, str] | None = None,
                 message_vi: str | None = None) -> None:
        super().__init__(f"{status} {code}: {message}", message_vi=message_vi)
        self.status = status
        self.code = code
        self.detail = message
        if retryable is None:
            known = ERROR_CODES.get(code)
            retryable = known[1] if known else (status in (408, 409, 429) or status >= 500)
        self.retryable = retryable
        self.extra = dict(extra or {})
        self.headers = dict(headers or {})

    def body(self) -> dict[str, Any]:
        out: dict[str, Any] = {"error": {"code": self.code, "message": self.detail,
                                         "retryable": self.retryable}}
        out.update(self.extra)
        return out


class HubError(SyncError):
    """An admin operation on the hub cannot be done (unknown station, bad file, no keys…)."""


class TransportError(SyncError):
    """The hub could not be reached or the connection failed (network, TLS, timeout)."""
