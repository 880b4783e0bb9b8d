"""What one client may hold at the hub: connections, requests not yet authenticated, time.

- :class:`HubLimits` — the configurable limits (``motcua hub serve`` options, ``create_hub_app``).
- :class:`ConnectionGate` — wraps the HTTP server's protocol factory: over ``max_connections`` a new
  connection gets a ``503 unavailable`` protocol error and is closed; a connection whose request
  head does not arrive within ``body_deadline`` seconds is closed.

The per-request part (authentication before the body, the whole-body deadline, the cap on
unauthenticated requests) is in ``_app.py``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from dataclasses import dataclass
from typing import Any

from sync.protocol import H_ERROR, H_PROTOCOL, H_SERVER_TIME, PROTOCOL_VERSION

logger = logging.getLogger(__name__)

# A connection refused over the cap reads (and drops) at most this much of the request head.
_REFUSAL_READ = 16 * 1024
# ... and waits at most this long for it before answering anyway.
_REFUSAL_WAIT = 1.0


@dataclass(frozen=True, slots=True, kw_only=True)
class HubLimits:
    """Limits of one hub worker; every one is configurable (``motcua hub serve --max-…``)."""

    #: Open TCP connections at once (idle keep-alive ones included).
    max_connections: int = 1024
    #: Requests in progress that are not authenticated yet (enrollments, requests whose signature
    #: is being checked, requests refused and draining).
    max_unauthenticated: int = 64
    #: Seconds for a request head to arrive, and for a JSON body (after authentication) to arrive whole.
    body_deadline: float = 60.0
    #: A blob chunk may take longer than ``body_deadline``: as long as its length at this rate (bytes/s).
    min_body_rate: int = 64 * 1024
    #: Seconds an idle keep-alive connection (or one trickling its next request head) is kept.
    idle_timeout: float = 75.0

    def __post_init__(self) -> None:
        for name in ("max_connections", "max_unauthenticated", "min_body_rate"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, not {value!r}")
        for name in ("body_deadline", "idle_timeout"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
                raise ValueError(f"{name} must be a positive number of seconds, not {value!r}")

    def chunk_deadline(self, length: int) -> float:
        """Seconds a chunk body of ``length`` bytes may take to arrive."""
        return max(self.body_deadline, length / self.min_body_rate)


def unavailable_response(message: str, retry_after: int) -> bytes:
    """A complete HTTP/1.1 ``503 unavailable`` protocol error answer that closes the connection."""
    body = json.dumps({"error": {"code": "unavailable", "message": message, "retryable": True}}).encode()
    head = ("HTTP/1.1 503 Service Unavailable\r\n"
            "Content-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n"
            f"{H_ERROR}: unavailable\r\n"
            f"{H_PROTOCOL}: {PROTOCOL_VERSION}\r\n"
            f"{H_SERVER_TIME}: {int(time.time() * 1000)}\r\n"
            f"Retry-After: {retry_after}\r\n"
            "Connection: close\r\n\r\n")
    return head.encode() + body


class ConnectionGate:
    """The protocol factory given to the event loop's server: counts and guards connections."""

    def __init__(self, server_factory: Any, limits: HubLimits) -> None:
        self.server_factory = server_factory
        self.limits = limits
        self.open = 0
        self.guards: dict[Any, _Guarded] = {}  # transport -> its guard, for the request middleware

    def __call__(self) -> asyncio.Protocol:
        if self.open >= self.limits.max_connections:
            return _Refusal(f"the hub is serving {self.open} connections, its limit; try again shortly")
        return _Guarded(self, self.server_factory())

    # The request middleware says when a request head has arrived and when its answer is done.
    def request_started(self, transport: Any) -> None:
        guard = self.guards.get(transport)
        if guard is not None:
            guard.disarm()

    def request_finished(self, transport: Any) -> None:
        guard = self.guards.get(transport)
        if guard is not None:
            guard.arm(self.limits.idle_timeout)


class _Guarded(asyncio.Protocol):
    """The HTTP server's protocol for one connection, with a deadline for each request head."""

    def __init__(self, gate: ConnectionGate, inner: Any) -> None:
        self.gate = gate
        self.inner = inner
        self.transport: asyncio.Transport | None = None
        self.timer: asyncio.TimerHandle | None = None

    def arm(self, seconds: float) -> None:
        self.disarm()
        if self.transport is not None:
            self.timer = asyncio.get_running_loop().call_later(seconds, self._expired)

    def disarm(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None

    def _expired(self) -> None:
        self.timer = None
        if self.transport is not None and not self.transport.is_closing():
            logger.info("closing a connection whose request did not arrive in time")
            self.transport.abort()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.gate.open += 1
        self.gate.guards[transport] = self
        self.arm(self.gate.limits.body_deadline)
        self.inner.connection_made(transport)

    def connection_lost(self, exc: Exception | None) -> None:
        self.disarm()
        self.gate.open -= 1
        self.gate.guards.pop(self.transport, None)
        self.transport = None
        self.inner.connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        self.inner.data_received(data)

    def eof_received(self) -> bool | None:
        return self.inner.eof_received()

    def pause_writing(self) -> None:
        self.inner.pause_writing()

    def resume_writing(self) -> None:
        self.inner.resume_writing()


class _Refusal(asyncio.Protocol):
    """A connection over the cap: read its request head (briefly), answer 503, close."""

    def __init__(self, message: str) -> None:
        self.message = message
        self.seen = b""
        self.transport: asyncio.Transport | None = None
        self.timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.timer = asyncio.get_running_loop().call_later(_REFUSAL_WAIT, self._answer)

    def data_received(self, data: bytes) -> None:
        if self.timer is None:
            return  # answered: what follows is dropped until the close
        self.seen = (self.seen + data)[-_REFUSAL_READ:]
        if b"\r\n\r\n" in self.seen or len(self.seen) >= _REFUSAL_READ:
            self._answer()

    def _answer(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(unavailable_response(self.message, retry_after=5))
            self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        if self.timer is not None:
            self.timer.cancel()
        self.transport = None
