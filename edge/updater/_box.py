"""The box as the updater sees it: the hub's signed ``update`` command, intake activity, the report.

The sync client records every verified hub command in ``sync_commands`` (docs/sync-protocol.md
§7); the updater takes the newest ``update`` command from there and verifies its signature again
with the hub's receipt key, so a row written by anything else is never obeyed.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import asdict, dataclass
from typing import Any, Protocol

from sync.protocol import verify_command

from ._errors import UpdateError

#: A Debian version as scripts/build-deb writes it: upstream[-revision], no epoch.
VERSION_RE = re.compile(r"^[0-9][A-Za-z0-9.+~]{0,63}(-[A-Za-z0-9.+~]{1,32})?$")
META_RESULT = "updater.last_result"
#: A draft dossier touched this recently means a clerk is mid-intake: the update waits.
INTAKE_QUIET_MINUTES = 20


@dataclass(frozen=True, slots=True, kw_only=True)
class PendingUpdate:
    command_id: str
    rollout_id: str | None
    version: str
    wave: int | None


class Box(Protocol):
    def pending_update(self) -> PendingUpdate | None: ...

    def intake_busy(self) -> str | None:
        """Why the box must not be updated now (a clerk is mid-intake), or None."""

    def schema_min_version(self) -> str | None: ...

    def record(self, result: dict[str, Any]) -> None: ...

    def last_result(self) -> dict[str, Any] | None: ...

    def report(self, result: dict[str, Any]) -> None:
        """Send the outcome to the hub (``POST /v1/update-report``); raise on failure."""


def verify_update(signed: Any, receipt_key: bytes, *, station_id: str) -> PendingUpdate:
    cmd = verify_command(signed, receipt_key, station_id=station_id)
    if cmd["kind"] != "update":
        raise UpdateError(f"command {cmd['command_id']} is a {cmd['kind']!r} command, not an update")
    args = cmd["args"] if isinstance(cmd["args"], dict) else {}
    version = args.get("version")
    if not isinstance(version, str) or not VERSION_RE.match(version):
        raise UpdateError(f"update command {cmd['command_id']} names no valid version: {version!r}")
    rollout_id = args.get("rollout_id")
    wave = args.get("wave")
    return PendingUpdate(command_id=str(cmd["command_id"]), version=version,
                         rollout_id=rollout_id if isinstance(rollout_id, str) else None,
                         wave=wave if isinstance(wave, int) and not isinstance(wave, bool) else None)


def intake_in_progress(store, *, now: dt.datetime | None = None, minutes: int = INTAKE_QUIET_MINUTES) -> str | None:
    """A draft dossier (a clerk between "new dossier" and "finalize") touched in the last ``minutes``."""
    now = now or dt.datetime.now(dt.UTC)
    latest = None
    for row in store.query("SELECT updated_at FROM dossiers WHERE status = 'draft'"):
        try:
            at = dt.datetime.fromisoformat(row["updated_at"])
        except (TypeError, ValueError):
            continue
        if at.tzinfo is None:
            at = at.replace(tzinfo=dt.UTC)
        latest = at if latest is None or at > latest else latest
    if latest is not None and now - latest < dt.timedelta(minutes=minutes):
        return f"a draft dossier was touched {int((now - latest).total_seconds() // 60)} min ago (intake in progress)"
    return None


class StoreBox:
    """The real :class:`Box` over an open store (run as the service user, like the daemon)."""

    def __init__(self, settings, store, *, receipt_key: bytes | None = None, intake_minutes: int = INTAKE_QUIET_MINUTES,
                 now=None) -> None:
        self.settings = settings
        self.store = store
        self._receipt_key = receipt_key
        self.intake_minutes = intake_minutes
        self._now = now

    def _key(self) -> bytes:
        from sync.protocol import b64d

        text = self.store.meta_get("sync.receipt_key")
        key = self._receipt_key or (b64d(text, "sync.receipt_key") if text else None)
        if key is None:
            raise UpdateError("no hub receipt key on this box: it is not enrolled")
        return key

    def pending_update(self) -> PendingUpdate | None:
        last = self.last_result() or {}
        rows = self.store.query("SELECT command_id, body FROM sync_commands WHERE kind = 'update' "
                                "ORDER BY received_at DESC, rowid DESC LIMIT 1")
        if not rows or rows[0]["command_id"] == last.get("command_id"):
            return None
        return verify_update(json.loads(rows[0]["body"]), self._key(), station_id=self.store.station_id)

    def intake_busy(self) -> str | None:
        return intake_in_progress(self.store, now=self._now() if self._now else None, minutes=self.intake_minutes)

    def schema_min_version(self) -> str | None:
        from edge.store import SCHEMA_MIN_VERSION

        return self.store.meta_get(SCHEMA_MIN_VERSION)

    def record(self, result: dict[str, Any]) -> None:
        self.store.meta_set(META_RESULT, json.dumps(result, ensure_ascii=False, sort_keys=True))

    def last_result(self) -> dict[str, Any] | None:
        raw = self.store.meta_get(META_RESULT)
        return json.loads(raw) if raw else None

    def report(self, result: dict[str, Any]) -> None:
        import asyncio

        asyncio.run(self.areport(result))

    async def areport(self, result: dict[str, Any]) -> None:
        from sync.client import SyncClient

        body = {k: result[k] for k in ("rollout_id", "command_id", "version", "outcome", "running_version", "detail")
                if result.get(k) is not None}
        client = SyncClient(settings=self.settings, store=self.store)
        try:
            await client.transport().call("POST", "/v1/update-report", json_body=body)
        finally:
            await client.stop()


def result_dict(pending: PendingUpdate, **fields: Any) -> dict[str, Any]:
    return {**asdict(pending), **fields}
