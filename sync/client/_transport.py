"""HTTP to the hub: pinned TLS (or loopback HTTP), signed requests, hub time from every answer.

Only this module talks HTTP. Each call returns a :class:`HubResponse` for a success status and
raises :class:`~sync.errors.ApiError` (from the protocol's error body, or from the status when a
proxy answered) or :class:`~sync.errors.TransportError` (no answer at all).
"""

from __future__ import annotations

import inspect
import ipaddress
import json
import logging
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from sync.errors import ApiError, TransportError
from sync.protocol import (
    H_ERROR,
    H_PROTOCOL,
    H_SERVER_TIME,
    PROTOCOL_VERSION,
    sha256_hex,
    sign_request,
)

from ._backoff import parse_retry_after
from ._clock import HubClock, server_time_of
from ._errors import InsecureTransportError

logger = logging.getLogger(__name__)

MIN_LINK_RATE = 64 * 1024  # bytes/s a chunk is given at least, before a request is abandoned


def _is_loopback(host: str) -> bool:
    if host in ("localhost", "localhost."):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_hub_url(url: str, *, ca_file: str | None) -> str:
    """Validate the hub URL: https with a pinned CA, or http to a loopback host only."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.scheme not in ("http", "https") or not host:
        raise InsecureTransportError(f"hub URL {url!r} must be https://HOST[:PORT] (or http:// to loopback)",
                                     message_vi="Địa chỉ máy chủ thành phố không hợp lệ.")
    if parts.scheme == "http" and not _is_loopback(host):
        raise InsecureTransportError(
            f"refusing plain http to {host}: the feed carries clerk accounts and statuses; "
            "use https with the hub's CA (--ca-file); plain http is allowed only to 127.0.0.1/::1/localhost",
            message_vi="Không được đồng bộ qua kết nối không mã hoá; cần địa chỉ https và chứng chỉ của thành phố.")
    if parts.scheme == "https" and not ca_file:
        raise InsecureTransportError(
            "https to the hub needs the hub's CA certificate (sync.ca_file / --ca-file): the system trust store is not used",
            message_vi="Thiếu chứng chỉ gốc của máy chủ thành phố; liên hệ bộ phận CNTT.")
    return url.rstrip("/")


def pinned_ssl_context(ca_file: str) -> ssl.SSLContext:
    """TLS that trusts only the hub's CA (no system CAs) and checks the host name."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        ctx.load_verify_locations(cafile=ca_file)
    except (OSError, ssl.SSLError) as exc:
        raise InsecureTransportError(f"cannot load the hub CA file {ca_file}: {exc}",
                                     message_vi="Không đọc được chứng chỉ gốc của máy chủ thành phố.") from exc
    ctx.check_hostname = True
    ctx.verify_mode = ssl.CERT_REQUIRED
    return ctx


@dataclass(frozen=True, slots=True)
class HubResponse:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        if not self.body:
            return None
        try:
            return json.loads(self.body)
        except (ValueError, RecursionError) as exc:
            raise ApiError(502, "invalid_response", f"hub answered invalid JSON: {type(exc).__name__}",
                           retryable=True) from None

    def header(self, name: str) -> str | None:
        for key, value in self.headers.items():
            if key.lower() == name.lower():
                return value
        return None


@dataclass(frozen=True, slots=True, kw_only=True)
class Identity:
    station_id: str
    key: Ed25519PrivateKey


class HubTransport:
    """One aiohttp session to one hub; signs with the station key and keeps the hub's time."""

    def __init__(self, hub_url: str, *, ca_file: str | None = None, clock: HubClock,
                 identity: Identity | None = None, timeout_seconds: float = 60.0,
                 on_clock: Callable[[HubClock], Awaitable[None] | None] | None = None) -> None:
        self.base = check_hub_url(hub_url, ca_file=ca_file)
        self._ssl: ssl.SSLContext | bool = pinned_ssl_context(ca_file) if self.base.startswith("https") else False
        self.clock = clock
        self.identity = identity
        self.timeout_seconds = timeout_seconds
        self._on_clock = on_clock
        self._session: aiohttp.ClientSession | None = None
        self.bytes_sent = 0
        # Requests answered by the hub, per kind (e.g. "PATCH blob"): [count, seconds] (for benches).
        self.stats: dict[str, list[float]] = {}

    async def __aenter__(self) -> HubTransport:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def _get_session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(ssl=self._ssl, limit=8, enable_cleanup_closed=True)
            t = self.timeout_seconds
            self._session = aiohttp.ClientSession(
                connector=connector,
                timeout=aiohttp.ClientTimeout(total=None, connect=min(t, 15), sock_connect=min(t, 15), sock_read=t),
                auto_decompress=False)
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def call(self, method: str, path: str, *, json_body: Any = None, body: bytes | None = None,
                   stream: Callable[[], AsyncIterator[bytes]] | None = None, content_sha256: str | None = None,
                   content_length: int | None = None, headers: dict[str, str] | None = None,
                   signed: bool = True, request_timeout: float | None = None) -> HubResponse:
        """Send one request. A ``401 clock_skew`` re-signs at once with the corrected offset."""
        if json_body is not None:
            body = json.dumps(json_body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
            headers = {"Content-Type": "application/json", **(headers or {})}
        for attempt in (1, 2):
            try:
                return await self._once(method, path, body=body, stream=stream, content_sha256=content_sha256,
                                        content_length=content_length, headers=headers or {}, signed=signed,
                                        request_timeout=request_timeout)
            except ApiError as exc:
                if exc.code == "clock_skew" and attempt == 1 and signed:
                    logger.warning("hub refused our timestamp (clock skew); offset corrected to %.3f s, re-signing",
                                   self.clock.state.offset)
                    continue
                raise
        raise AssertionError("unreachable")

    async def _once(self, method: str, path: str, *, body: bytes | None,
                    stream: Callable[[], AsyncIterator[bytes]] | None, content_sha256: str | None,
                    content_length: int | None, headers: dict[str, str], signed: bool,
                    request_timeout: float | None) -> HubResponse:
        send_headers = {H_PROTOCOL: str(PROTOCOL_VERSION), **headers}
        if signed:
            if self.identity is None:
                from ._errors import NotEnrolledError

                raise NotEnrolledError()
            digest = content_sha256 or sha256_hex(body or b"")
            send_headers.update(sign_request(self.identity.key, station_id=self.identity.station_id,
                                             method=method, path_qs=path, content_sha256=digest,
                                             timestamp_ms=int(self.clock.now() * 1000)))
        data: Any = body
        if stream is not None:
            data = stream()
            if content_length is not None:
                send_headers["Content-Length"] = str(content_length)
        sent_at = self.clock.wall()
        session = self._get_session()
        # aiohttp's read timeout does not cover sending the body: a stalled link would block a
        # chunk forever. A total deadline allows the body at no less than MIN_LINK_RATE.
        size = len(body) if body is not None else (content_length or 0)
        req_timeout = aiohttp.ClientTimeout(total=self.timeout_seconds + size / MIN_LINK_RATE,
                                            sock_read=self.timeout_seconds)
        if request_timeout is not None:
            req_timeout = aiohttp.ClientTimeout(total=request_timeout,
                                                sock_read=min(request_timeout, self.timeout_seconds))
        try:
            async with session.request(method, self.base + path, data=data, headers=send_headers,
                                       timeout=req_timeout, allow_redirects=False) as resp:
                raw = await resp.read()
                received_at = self.clock.wall()
                resp_headers = {k: v for k, v in resp.headers.items()}
                status = resp.status
        except (TimeoutError, aiohttp.ClientError, OSError, ssl.SSLError) as exc:
            # aiohttp never reuses a connection that failed; other requests of this session go on.
            kind = "timeout" if isinstance(exc, TimeoutError) else type(exc).__name__
            raise TransportError(f"{method} {path}: {kind}: {exc}",
                                 message_vi="Không kết nối được tới máy chủ thành phố.") from exc
        finally:
            if body is not None:
                self.bytes_sent += len(body)
        kind = _kind(method, path)
        counted = self.stats.setdefault(kind, [0, 0.0])
        counted[0] += 1
        counted[1] += received_at - sent_at
        server = _server_time(resp_headers)
        if server is not None and self.clock.observe(server, sent_at=sent_at, received_at=received_at):
            if self._on_clock is not None:
                saved = self._on_clock(self.clock)
                if inspect.isawaitable(saved):  # a write awaited on the store's writer
                    await saved
        response = HubResponse(status=status, headers=resp_headers, body=raw)
        if status >= 400:
            raise _api_error(response)
        return response


def _kind(method: str, path: str) -> str:
    """``PATCH blob``, ``POST commit``, ``PUT dossier``, ``GET feed``…: what a request does."""
    parts = path.split("?", 1)[0].strip("/").split("/")
    if len(parts) >= 4 and parts[1] == "dossiers":
        return f"{method} {'blob' if parts[3] == 'blobs' else parts[3]}"
    return f"{method} {'dossier' if parts[1:2] == ['dossiers'] else '/'.join(parts[1:])}"


def _server_time(headers: dict[str, str]) -> float | None:
    for key, value in headers.items():
        if key.lower() == H_SERVER_TIME.lower():
            try:
                return int(value) / 1000
            except ValueError:
                break
    return server_time_of(headers)


def _api_error(resp: HubResponse) -> ApiError:
    code = resp.header(H_ERROR) or ""
    message = ""
    retryable: bool | None = None
    extra: dict[str, Any] = {}
    try:
        doc = json.loads(resp.body) if resp.body else None
    except (ValueError, RecursionError):
        doc = None
    if isinstance(doc, dict) and isinstance(doc.get("error"), dict):
        err = doc["error"]
        code = str(err.get("code") or code)
        message = str(err.get("message") or "")
        if isinstance(err.get("retryable"), bool):
            retryable = err["retryable"]
        extra = {k: v for k, v in doc.items() if k != "error"}
    if not code:
        code = f"http_{resp.status}"
        retryable = resp.status in (408, 409, 429) or resp.status >= 500
    error = ApiError(resp.status, code, message or f"HTTP {resp.status}", retryable=retryable, extra=extra,
                     headers=resp.headers)
    error.retry_after = parse_retry_after(resp.header("Retry-After"))  # type: ignore[attr-defined]
    return error
