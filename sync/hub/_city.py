"""The city connector (docs/city-connector.md): committed dossiers out to the city's system, status
changes in from it.

Outbound: every committed dossier has an event in ``city_outbox``, written in the commit's
transaction. Each hub worker's delivery loop claims due events (a lease in the database, so two
workers do not send the same one at once), POSTs them signed with HMAC-SHA256 and an
``Idempotency-Key``, and marks them delivered on a 2xx; otherwise it retries with exponential
backoff (5 s doubling up to 1 h), for ever: an event waits until the city system takes it.
``hub city-events`` shows what waits, how old it is and the last error (the dead-letter view).

Inbound: ``POST /v1/city/status``, signed by the city system with the same shared secret; its
status codes mapped to the protocol's 1-10; the change goes on the feed to the box.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sync.errors import ApiError, HubError
from sync.protocol import DOSSIER_STATUSES, TIMESTAMP_WINDOW_MS

logger = logging.getLogger(__name__)

H_CITY_SIGNATURE = "X-Motcua-City-Signature"
IDEMPOTENCY_KEY = "Idempotency-Key"
SECRET_ENV = "MOTCUA_CITY_SECRET"
DEAD_AFTER = 8  # attempts: from then on the event shows as dead-lettered (it is still retried)
BACKOFF_FIRST_S = 5
BACKOFF_MAX_S = 3600
LEASE_MS = 60_000
_KEYS = frozenset({"url", "status_map", "secret_file", "timeout", "ca_file"})


@dataclass(frozen=True)
class CityConfig:
    """The ``city`` section of ``hub.json``; the shared secret is never part of it."""

    secret: bytes
    url: str | None = None  # where events go (None: inbound only)
    status_map: dict[str, int] = field(default_factory=lambda: {str(n): n for n in DOSSIER_STATUSES})
    timeout: float = 10.0
    ca_file: str | None = None

    @classmethod
    def from_dict(cls, doc: dict[str, Any], *, env: dict[str, str] | None = None) -> CityConfig:
        unknown = set(doc) - _KEYS
        if unknown:
            raise HubError(f"unknown key(s) in the city configuration: {', '.join(sorted(unknown))}")
        env = os.environ if env is None else env
        secret = env.get(SECRET_ENV, "").encode()
        if not secret and doc.get("secret_file"):
            try:
                secret = Path(doc["secret_file"]).read_bytes().strip()
            except OSError as exc:
                raise HubError(f"city secret file {doc['secret_file']}: {exc.strerror}") from None
        if len(secret) < 16:
            raise HubError(f"the city connector needs a shared secret of at least 16 bytes in {SECRET_ENV} "
                           "or the file named by secret_file")
        status_map = doc.get("status_map") or {str(n): n for n in DOSSIER_STATUSES}
        bad = {k: v for k, v in status_map.items() if v not in DOSSIER_STATUSES}
        if bad:
            raise HubError(f"city status_map maps to codes the protocol does not have: {bad}")
        return cls(secret=secret, url=doc.get("url"), status_map={str(k): int(v) for k, v in status_map.items()},
                   timeout=float(doc.get("timeout", 10.0)), ca_file=doc.get("ca_file"))


def load_city_config(data_dir: Path) -> CityConfig | None:
    from ._keys import read_config

    doc = read_config(data_dir).get("city")
    return CityConfig.from_dict(doc) if doc else None


def sign(secret: bytes, timestamp_ms: int, body: bytes) -> str:
    """``t=<ms>,v1=<hex HMAC-SHA256 of "<ms>." + body>``."""
    mac = hmac.new(secret, f"{timestamp_ms}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp_ms},v1={mac}"


def verify(secret: bytes, header: str | None, body: bytes, *, now_ms: int) -> None:
    """Raise ``401`` unless ``header`` signs ``body`` with ``secret`` within the time window."""
    if not header:
        raise ApiError(401, "unsigned", f"{H_CITY_SIGNATURE} header missing")
    fields = dict(part.split("=", 1) for part in header.split(",") if "=" in part)
    try:
        ts = int(fields.get("t", ""))
    except ValueError:
        raise ApiError(401, "unsigned", f"{H_CITY_SIGNATURE} has no timestamp t=") from None
    if abs(ts - now_ms) > TIMESTAMP_WINDOW_MS:
        raise ApiError(401, "clock_skew", f"timestamp {ts} is {ts - now_ms} ms from hub time {now_ms}")
    expected = sign(secret, ts, body).split("v1=", 1)[1]
    if not hmac.compare_digest(expected, fields.get("v1", "")):
        raise ApiError(401, "bad_signature", "the city signature does not verify")


def backoff_ms(attempts: int) -> int:
    """Delay before attempt ``attempts + 1``: 5 s doubling to 1 h, with ±20 % jitter."""
    base = min(BACKOFF_FIRST_S * 2 ** min(attempts, 20), BACKOFF_MAX_S)
    return int(base * 1000 * random.uniform(0.8, 1.2))


class CityConnector:
    """Delivers due outbox events (run by each hub worker's loop) and applies inbound statuses."""

    def __init__(self, hub, config: CityConfig) -> None:
        self.hub = hub
        self.config = config
        self._session = None

    async def _client(self):
        import ssl

        import aiohttp

        if self._session is None:
            ctx = ssl.create_default_context(cafile=self.config.ca_file) if self.config.ca_file else None
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.config.timeout),
                                                  connector=aiohttp.TCPConnector(ssl=ctx) if ctx else None)
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def deliver_due(self, *, limit: int = 50) -> tuple[int, int]:
        """One round: (delivered, failed)."""
        if not self.config.url:
            return 0, 0
        now = self.hub.clock()
        events = await self.hub.db(self.hub.storage.claim_city_events, now=now, limit=limit, lease_ms=LEASE_MS)
        delivered = failed = 0
        session = await self._client()
        for ev in events:
            body = json.dumps(ev.event, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()
            headers = {"Content-Type": "application/json", IDEMPOTENCY_KEY: ev.event_id,
                       H_CITY_SIGNATURE: sign(self.config.secret, self.hub.clock(), body)}
            error = ""
            try:
                async with session.post(self.config.url, data=body, headers=headers) as resp:
                    await resp.read()
                    if 200 <= resp.status < 300:
                        await self.hub.db(self.hub.storage.city_event_delivered, ev.event_id, now=self.hub.clock())
                        delivered += 1
                        continue
                    error = f"HTTP {resp.status}"
            except Exception as exc:  # the city system down, a timeout, TLS: the event waits
                error = f"{type(exc).__name__}: {exc}"[:300]
            failed += 1
            await self.hub.db(self.hub.storage.city_event_failed, ev.event_id, error=error,
                              next_attempt_at=self.hub.clock() + backoff_ms(ev.attempts))
            if ev.attempts + 1 == DEAD_AFTER:
                logger.error("city event %s undelivered after %s attempts: %s", ev.event_id, DEAD_AFTER, error)
        return delivered, failed

    def status_of(self, city_code: Any) -> int:
        code = str(city_code)
        if code not in self.config.status_map:
            raise ApiError(400, "invalid_request", f"unknown city status code {code!r} "
                           f"(known: {', '.join(sorted(self.config.status_map))})", extra={"field": "status"})
        return self.config.status_map[code]


def outbox_view(ev, *, now: int) -> dict[str, Any]:
    """One line of ``hub city-events``: no personal data (the events hold none)."""
    from sync.protocol import ms_to_rfc3339

    return {"event_id": ev.event_id, "dossier_id": ev.dossier_id, "code": ev.event.get("code"),
            "created_at": ms_to_rfc3339(ev.created_at), "age_s": max(0, (now - ev.created_at) // 1000),
            "attempts": ev.attempts, "dead": ev.attempts >= DEAD_AFTER and ev.delivered_at is None,
            "next_attempt_at": ms_to_rfc3339(ev.next_attempt_at), "last_error": ev.last_error,
            "delivered_at": ms_to_rfc3339(ev.delivered_at) if ev.delivered_at else None}
