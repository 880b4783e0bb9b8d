"""`GET /metrics`: the fleet and the hub in Prometheus's text format (prometheus-client).

Per station (from the database at scrape time, so every hub worker answers the same): last contact
age, backlog, oldest unsynced age, disk free and total, clock offset, version (an info series),
device states, sync errors by code, the offline guardrail warnings by code, and ``motcua_station_update_failed`` (0 unless the update
status source says otherwise: :data:`UPDATE_STATUS` holds a callable ``() -> {station_id: bool}``,
set by the rollout). Per worker: requests by route and status code, the commit's latency, storage
errors, and the TLS certificate's expiry.

Access: open to loopback peers; from anywhere else only with ``Authorization: Bearer <token>``
whose SHA-256 is in ``DATA_DIR/metrics-token.sha256`` (``motcua hub metrics-token``); without that
file, other peers get 403.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import logging
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from aiohttp import web
from prometheus_client import (
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, InfoMetricFamily

from sync.errors import ApiError, HubError

from .fleet._rows import FleetRow, fleet_rows

logger = logging.getLogger(__name__)

TOKEN_FILE = "metrics-token.sha256"
METRICS_KEY = web.AppKey("motcua_hub_metrics", object)
# () -> {station_id: True when its last update failed}; the rollout sets it (docs/deploy.md).
UPDATE_STATUS: web.AppKey[Callable[[], Mapping[str, bool]]] = web.AppKey("motcua_update_status")
# The classic text format, which every Prometheus 2 (Debian 12 ships 2.42) and promtool read.
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
COMMIT_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class HubMetrics:
    """The hub's own counters (one set per application) and the per-station snapshot."""

    def __init__(self, *, data_dir: Path, clock: Callable[[], int]) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.data_dir = Path(data_dir)
        self.clock = clock
        self.requests = Counter("motcua_hub_requests", "HTTP requests answered, by route and status code",
                                ("route", "code"), registry=self.registry)
        self.commit_latency = Histogram("motcua_hub_commit_latency_seconds",
                                        "Time from a commit request's arrival to its answer",
                                        buckets=COMMIT_BUCKETS, registry=self.registry)
        self.storage_errors = Counter("motcua_hub_storage_errors", "Failed storage calls, by kind",
                                      ("kind",), registry=self.registry)
        for kind in ("unavailable", "disk_full", "io"):
            self.storage_errors.labels(kind)
        self.certificate: Path | None = None

    # --- what the requests feed -----------------------------------------------------------------

    def observe(self, request: web.Request, response: web.StreamResponse, started: float | None) -> None:
        route = request.match_info.route.resource
        name = route.canonical if route is not None else "unmatched"
        self.requests.labels(name, str(response.status)).inc()
        if name == "/v1/dossiers/{dossier_id}/commit" and started is not None:
            import asyncio

            self.commit_latency.observe(max(0.0, asyncio.get_running_loop().time() - started))

    def storage_failed(self, exc: BaseException) -> None:
        if isinstance(exc, ApiError):
            return
        if isinstance(exc, OSError):
            import errno

            self.storage_errors.labels("disk_full" if exc.errno == errno.ENOSPC else "io").inc()
        elif isinstance(exc, HubError):
            self.storage_errors.labels("unavailable").inc()

    # --- exposition ----------------------------------------------------------------------------

    def token_hash(self) -> str | None:
        try:
            return (self.data_dir / TOKEN_FILE).read_text(encoding="ascii").strip() or None
        except (OSError, UnicodeDecodeError):
            return None

    def allowed(self, request: web.Request) -> bool:
        from ._serve import is_loopback

        if request.remote and is_loopback(request.remote):
            return True
        expected = self.token_hash()
        header = request.headers.get("Authorization", "")
        if expected is None or header[:7].lower() != "bearer ":
            return False
        given = hashlib.sha256(header[7:].strip().encode("utf-8", "replace")).hexdigest()
        return hmac.compare_digest(given, expected)

    def render(self, rows: list[FleetRow], updates: Mapping[str, bool], now_ms: int) -> bytes:
        return (generate_latest(self.registry)
                + generate_latest(_Stations(rows, updates, now_ms, self.certificate)))  # type: ignore[arg-type]


class _Stations:
    """A one-scrape collector over the fleet's rows (prometheus-client's custom-collector shape)."""

    def __init__(self, rows: list[FleetRow], updates: Mapping[str, bool], now_ms: int,
                 certificate: Path | None) -> None:
        self.rows = rows
        self.updates = updates
        self.now_ms = now_ms
        self.certificate = certificate

    def collect(self) -> Iterable[Any]:
        st = ("station",)
        info = InfoMetricFamily("motcua_station", "A box: its agency, kind and software version",
                                labels=("station", "agency", "kind", "version"))
        contact = GaugeMetricFamily("motcua_station_last_contact_age_seconds",
                                    "Seconds since the box's last heartbeat reached the hub", labels=st)
        backlog = GaugeMetricFamily("motcua_station_backlog_dossiers", "Dossiers not yet receipted by the city",
                                    labels=st)
        oldest = GaugeMetricFamily("motcua_station_oldest_unsynced_age_seconds",
                                   "Age of the oldest dossier not yet receipted (0: none waiting)", labels=st)
        free = GaugeMetricFamily("motcua_station_disk_free_bytes", "Free bytes on the box's state disk", labels=st)
        total = GaugeMetricFamily("motcua_station_disk_total_bytes", "Size of the box's state disk", labels=st)
        clock = GaugeMetricFamily("motcua_station_clock_offset_seconds",
                                  "Hub time minus box time, as the box measured it", labels=st)
        devices = GaugeMetricFamily("motcua_station_device_state",
                                    "1 for each kind of device in its current (worst) state",
                                    labels=("station", "device", "state"))
        errors = CounterMetricFamily("motcua_station_sync_errors", "Failed sync calls since the box started, by code",
                                     labels=("station", "code"))
        warning = GaugeMetricFamily("motcua_station_warning",
                                    "1 for each offline guardrail warning the box's last heartbeat carried",
                                    labels=("station", "code"))
        update = GaugeMetricFamily("motcua_station_update_failed",
                                   "1 when the box's last software update failed and was rolled back", labels=st)
        states = GaugeMetricFamily("motcua_stations", "Boxes by state", labels=("state",))
        counts: dict[str, int] = dict.fromkeys(("healthy", "warning", "silent", "pending", "revoked"), 0)
        for r in self.rows:
            counts[r.state] += 1
            if r.state == "revoked":
                continue
            sid = [r.station_id]
            info.add_metric([r.station_id, r.agency_code, r.kind, r.version], {})
            update.add_metric(sid, 1.0 if self.updates.get(r.station_id) else 0.0)
            if r.contact_age_s is None:
                continue
            contact.add_metric(sid, r.contact_age_s)
            if r.pending is not None:
                backlog.add_metric(sid, r.pending)
                oldest.add_metric(sid, r.oldest_unsynced_age_s or 0)
            if r.disk_free_bytes is not None:
                free.add_metric(sid, r.disk_free_bytes)
            if r.disk_total_bytes is not None:
                total.add_metric(sid, r.disk_total_bytes)
            if r.clock_offset_ms is not None:
                clock.add_metric(sid, r.clock_offset_ms / 1000)
            for kind, state in sorted(r.devices.items()):
                devices.add_metric([r.station_id, kind, state], 1.0)
            for code, n in sorted(r.sync_errors.items()):
                errors.add_metric([r.station_id, code], n)
            for code in r.warnings:
                warning.add_metric([r.station_id, code], 1.0)
        for state, n in counts.items():
            states.add_metric([state], n)
        yield from (states, info, contact, backlog, oldest, free, total, clock, devices, errors, warning, update)
        expiry = certificate_expiry(self.certificate) if self.certificate else None
        if expiry is not None:
            cert = GaugeMetricFamily("motcua_hub_tls_certificate_expiry_timestamp_seconds",
                                     "When the hub's TLS certificate expires (Unix time)", labels=("path",))
            cert.add_metric([str(self.certificate)], expiry)
            yield cert


def certificate_expiry(path: Path) -> float | None:
    from cryptography import x509

    try:
        cert = x509.load_pem_x509_certificate(path.read_bytes())
    except (OSError, ValueError):
        return None
    return cert.not_valid_after_utc.replace(tzinfo=dt.UTC).timestamp()


class _CountingStorage:
    """The hub's storage with every failed call counted (the handlers see the same exceptions)."""

    def __init__(self, inner: Any, metrics: HubMetrics) -> None:
        self._inner = inner
        self._metrics = metrics

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._inner, name)
        if not callable(value) or name.startswith("__"):
            return value
        metrics = self._metrics

        def call(*args: Any, **kwargs: Any) -> Any:
            try:
                return value(*args, **kwargs)
            except (HubError, OSError) as exc:
                metrics.storage_failed(exc)
                raise

        return call


def install_metrics(app: web.Application, hub: Any, *, data_dir: Path) -> HubMetrics:
    """Route ``GET /metrics``, count every answer, count failed storage calls."""
    from ._app import _STARTED

    metrics = HubMetrics(data_dir=data_dir, clock=hub.clock)
    app[METRICS_KEY] = metrics
    hub.storage = _CountingStorage(hub.storage, metrics)

    async def on_prepare(request: web.Request, response: web.StreamResponse) -> None:
        metrics.observe(request, response, request.get(_STARTED))

    async def handler(request: web.Request) -> web.Response:
        if not metrics.allowed(request):
            return web.json_response({"error": {"code": "forbidden", "message":
                                      "metrics are open to loopback; elsewhere give the metrics bearer token",
                                      "retryable": False}}, status=403, headers={"X-Motcua-Error": "forbidden"})
        hub._authenticated(request)
        now = hub.clock()
        provider = request.app.get(UPDATE_STATUS)
        body = await hub.run(lambda: metrics.render(fleet_rows(hub.storage.list_stations(), now_ms=now),
                                                    provider() if provider is not None else {}, now))
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE, "Cache-Control": "no-store"})

    app.on_response_prepare.append(on_prepare)
    app.router.add_get("/metrics", handler, allow_head=False)
    return metrics


def watch_certificate(app: web.Application, path: Path | None) -> None:
    """Export the expiry of the hub's TLS certificate (``hub serve --tls-cert``)."""
    metrics = app.get(METRICS_KEY)
    if isinstance(metrics, HubMetrics) and path is not None:
        metrics.certificate = Path(path)
