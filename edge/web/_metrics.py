"""``GET /metrics`` on the box: its health in Prometheus's text format (prometheus-client).

Loopback-only by default (a node exporter or an agent on the box scrapes it); from elsewhere only
with an admin's session (cookie or bearer token from ``POST /api/v1/session``). The figures are
the ones the heartbeat carries to the hub: backlog, oldest unsynced age, disk, clock offset,
device states, sync errors by code, and how long ago sync last succeeded.
"""

from __future__ import annotations

import ipaddress
import shutil
import time
from collections.abc import Iterable
from typing import Any

from aiohttp import web
from prometheus_client import generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, InfoMetricFamily

from ._actions import _version
from ._auth import current
from ._common import maybe_await, off_loop
from ._errors import forbidden, unauthorized
from ._keys import DEVICES, SETTINGS, STORE, SYNC
from ._roles import PUBLIC, allow

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def is_loopback(remote: str | None) -> bool:
    try:
        return remote is not None and ipaddress.ip_address(remote).is_loopback
    except ValueError:
        return False


def may_read(remote: str | None, role: str | None) -> bool:
    """Loopback peers, or an admin's session from anywhere."""
    return is_loopback(remote) or role == "admin"


class _Box:
    """One scrape's figures, in the custom-collector shape ``generate_latest`` reads."""

    def __init__(self, facts: dict[str, Any]) -> None:
        self.facts = facts

    def collect(self) -> Iterable[Any]:
        f = self.facts
        info = InfoMetricFamily("motcua_box", "This box: station, agency and software version",
                                labels=("station", "agency", "version"))
        info.add_metric([f["station"], f["agency"], f["version"]], {})
        yield info
        free = GaugeMetricFamily("motcua_box_disk_free_bytes", "Free bytes on the state disk")
        total = GaugeMetricFamily("motcua_box_disk_total_bytes", "Size of the state disk")
        if f["disk"] is not None:
            free.add_metric([], f["disk"].free)
            total.add_metric([], f["disk"].total)
        yield from (free, total)
        devices = GaugeMetricFamily("motcua_box_device_state", "1 for each device in its current state",
                                    labels=("device", "kind", "state"))
        for d in f["devices"]:
            devices.add_metric([d.id, str(d.kind), str(d.status)], 1.0)
        yield devices
        status = f["sync"]
        if status is None:
            return
        yield GaugeMetricFamily("motcua_box_backlog_dossiers", "Dossiers not yet receipted by the city",
                                value=status.pending)
        yield GaugeMetricFamily("motcua_box_oldest_unsynced_age_seconds",
                                "Age of the oldest dossier not yet receipted (0: none waiting)",
                                value=status.oldest_unsynced_age_seconds or 0)
        yield GaugeMetricFamily("motcua_box_clock_offset_seconds", "Hub time minus box time",
                                value=status.clock_offset_seconds)
        yield GaugeMetricFamily("motcua_box_sync_locked", "1 when sync is locked (station revoked or retired)",
                                value=1.0 if status.locked else 0.0)
        since = GaugeMetricFamily("motcua_box_last_sync_success_age_seconds",
                                  "Seconds since the last successful exchange with the hub")
        if f["success_age"] is not None:
            since.add_metric([], f["success_age"])
        yield since
        errors = CounterMetricFamily("motcua_box_sync_errors", "Failed sync calls since the daemon started, by code",
                                     labels=("code",))
        for code, n in sorted(f["errors"].items()):
            errors.add_metric([code], n)
        yield errors


@allow(PUBLIC)
async def metrics(request: web.Request) -> web.StreamResponse:
    session = current(request)
    if not may_read(request.remote, session.account.role if session else None):
        raise forbidden("xem số liệu giám sát") if session else unauthorized()
    app = request.app
    settings = app[SETTINGS]
    store = app[STORE]
    sync = app[SYNC]
    devices = app[DEVICES]
    status = await maybe_await(await off_loop(sync.status)) if sync is not None else None
    try:
        disk = shutil.disk_usage(store.root)
    except OSError:
        disk = None
    success_age = None
    if status is not None and status.last_success_at:
        from edge.outbox import parse_iso

        at = parse_iso(status.last_success_at)
        success_age = None if at is None else max(0.0, time.time() - at)
    errors = getattr(getattr(sync, "errors", None), "snapshot", dict)()
    facts = {"station": getattr(status, "station_id", None) or settings.station.station_id or "",
             "agency": settings.station.agency_code or "", "version": _version(), "disk": disk,
             "devices": devices.snapshot() if devices is not None else [], "sync": status,
             "success_age": success_age, "errors": errors}
    body = generate_latest(_Box(facts))  # type: ignore[arg-type]
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE, "Cache-Control": "no-store"})


def setup(app: web.Application) -> None:
    app.router.add_get("/metrics", metrics, allow_head=False)
