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


class ApiError(SyncError):
    """An error answer of the protocol: HTTP status, code, retryable flag and extra members.

    The hub raises it to answer a request; the client builds it from an error response.
    """

    def __init__(self, status: int, code: str, message: str, *, retryable: bool | None = None,
                 extra: dict[str, Any] | None = None, headers: dict[str, str] | None = None,
                 message_vi: str | None = None) -> None:
        super().__init__(f"{status} {code}: {message}", message_vi=message_vi)
        from sync.protocol import ERROR_CODES

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
