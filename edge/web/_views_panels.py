"""Devices panel (live through Server-Sent Events), scanner batches, sync panel, status page and
``/healthz``."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import Any

from aiohttp import web

from edge.errors import MotcuaError, ValidationError

from . import _intake, _sessions
from ._auth import current
from ._common import audit, maybe_await
from ._errors import HttpError
from ._events import device_to_dict
from ._keys import DEVICES, EVENTS, SETTINGS, STARTED, STORE, SYNC
from ._render import render
from ._roles import PUBLIC, allow

logger = logging.getLogger(__name__)
_tasks: set[asyncio.Task] = set()


def devices_state(app: web.Application) -> dict[str, Any]:
    devices = app[DEVICES]
    if devices is None:
        return {"available": False, "devices": [], "drivers": []}
    try:
        listed = [device_to_dict(d) for d in devices.snapshot()]
        drivers = [device_to_dict(d) for d in devices.drivers()] if hasattr(devices, "drivers") else []
    except Exception as exc:
        logger.warning("device snapshot failed: %s", exc)
        return {"available": True, "devices": [], "drivers": [], "error": str(exc)}
    return {"available": True, "devices": listed, "drivers": drivers}


async def sync_state(app: web.Application) -> dict[str, Any] | None:
    sync = app[SYNC]
    if sync is None:
        return None
    try:
        status = await maybe_await(sync.status())
    except Exception as exc:
        logger.warning("sync status failed: %s", exc)
        return {"error_vi": "Không đọc được trạng thái đồng bộ."}
    return status.to_dict() if hasattr(status, "to_dict") else dict(status)


@allow("devices.view")
async def devices_page(request: web.Request) -> web.StreamResponse:
    return render("devices.html", request, devices_state(request.app))


@allow("devices.view")
async def events_stream(request: web.Request) -> web.StreamResponse:
    """Server-Sent Events: device changes, QR scans, scan progress. ``?types=a,b`` filters.

    The stream lives only as long as its session: checked before every event and every heartbeat,
    and closed at once by a logout or an account being disabled. A browser that leaves the page
    closes the connection: that ends the stream quietly.
    """
    wanted = {t for t in request.query.get("types", "").split(",") if t}
    session = current(request)
    store = request.app[STORE]
    idle_minutes = request.app[SETTINGS].web.session_idle_minutes
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-store",
                                           "X-Accel-Buffering": "no"})
    await response.prepare(request)
    if request.method == "HEAD":
        return response  # headers only: a body here would corrupt the keep-alive connection

    def alive() -> bool:
        return _sessions.session_alive(store, session.token_hash, idle_minutes=idle_minutes)

    try:
        await response.write(b"retry: 3000\n\n")
        async for event in request.app[EVENTS].stream(alive=alive, token_hash=session.token_hash,
                                                       username=session.account.username):
            kind = event.get("type", "")
            if kind == "_ping":
                await response.write(b": ping\n\n")
                continue
            if wanted and kind not in wanted:
                continue
            data = json.dumps(event, ensure_ascii=False, default=str)
            await response.write(f"id: {event.get('seq', 0)}\nevent: {kind}\ndata: {data}\n\n".encode())
    except ConnectionError:  # aiohttp's ClientConnectionResetError is one
        logger.debug("event stream client went away")
    return response


@allow("dossier.read")
async def qr_recent(request: web.Request) -> web.Response:
    """Polling alternative to the event stream for the last QR scans (kept two minutes)."""
    try:
        since = int(request.query.get("since", "0"))
    except ValueError:
        since = 0
    return web.json_response({"seq": request.app[EVENTS].seq, "events": request.app[EVENTS].recent_qr(since)})


SOURCES = {"": "", "ADF": "ADF", "Flatbed": "Flatbed", "Duplex": "Duplex"}


async def start_scan(request: web.Request, dossier_id: str, *, component: str, pages: Any,
                     device: str = "", source: str = "") -> dict[str, Any]:
    """Check everything that can be checked at once (answers with a precise message), then run
    the batch in the background. Progress reaches the browsers as ``scan_status`` events and the
    end as ``scan_done`` (with ``error_vi`` when the scanner stopped: no paper, jam, gone…)."""
    devices = request.app[DEVICES]
    store = request.app[STORE]
    if devices is None:
        raise HttpError(409, "no_devices", "no device manager", message_vi="Không có máy quét trên trạm này.")
    from edge.devices import ScanRequest, scan_events

    settings = request.app[SETTINGS]
    try:
        count = int(pages)
    except (TypeError, ValueError):
        raise ValidationError("pages", "must be a number", message_vi="Số trang phải là một số.") from None
    if source not in SOURCES:
        raise ValidationError("source", "ADF, Flatbed or Duplex",
                              message_vi="Nguồn giấy phải là khay nạp giấy, mặt kính hoặc quét hai mặt.")
    procedure = _intake.get_procedure(store, store.summary(dossier_id).procedure_code)
    procedure.component(component)
    if store.summary(dossier_id).status != "draft":
        raise HttpError(409, "not_draft", "not a draft", message_vi="Hồ sơ đã hoàn tất tiếp nhận, không thể quét thêm.")
    if device:
        record = devices.find_scanner(device)
        if record is None or str(record.status) == "absent":
            raise HttpError(409, "scanner_gone", f"scanner {device!r} is not connected",
                            message_vi=f"Không tìm thấy máy quét “{device[:80]}”: kiểm tra cáp và nguồn điện "
                                       "của máy quét rồi tải lại trang.")
        if str(record.status) == "busy":
            raise HttpError(409, "scanner_busy", f"scanner {device!r} is busy",
                            message_vi="Máy quét đang bận với một lượt quét khác: chờ xong rồi thử lại.")
    else:
        ready = [d for d in devices.snapshot() if str(d.kind) == "scanner" and str(d.status) == "ready"]
        if not ready:
            raise HttpError(409, "no_scanner", "no scanner ready", message_vi="Không có máy quét sẵn sàng.")
        device = ready[0].name
    scan = ScanRequest(device=device, dossier_id=dossier_id, component=component, pages=count,
                       resolution=settings.devices.scan_resolution, mode=settings.devices.scan_mode,
                       source=SOURCES[source], duplex=source == "Duplex",
                       actor=current(request).account.username)
    scan.validate()
    hub = request.app[EVENTS]
    where = {"dossier_id": dossier_id, "component": component}

    async def run() -> None:
        result: dict[str, Any] = {"type": "scan_done", **where}
        try:
            async for item in scan_events(store, scan, manager=devices):
                if hasattr(item, "requested"):
                    result["result"] = item.to_dict()
                    result["stored"] = len(item.pages)
                    if item.error is not None:
                        result["error_vi"] = item.error.message_vi or "Quét dừng giữa chừng."
                else:
                    hub.publish({"type": "scan_status", **where, "data": item.to_dict()})
        except MotcuaError as exc:
            result["error_vi"] = exc.message_vi or "Quét không thành công."
            result["stored"] = 0
        except Exception:
            logger.exception("scan batch failed")
            result["error_vi"] = "Quét không thành công (lỗi hệ thống)."
            result["stored"] = 0
        hub.publish(result)

    task = asyncio.create_task(run())
    _tasks.add(task)
    task.add_done_callback(_tasks.discard)
    audit(request, "scan.start", dossier_id=dossier_id, component=component, pages=count, device=device)
    return {"started": True, "device": device, "component": component, "pages": count, "source": source}


@allow("devices.scan")
async def scan_submit(request: web.Request) -> web.Response:
    """Started from the page's script (JSON body, header X-CSRF-Token)."""
    try:
        body = await request.json()
    except (ValueError, UnicodeDecodeError, RecursionError):
        body = {}
    if not isinstance(body, dict):
        body = {}
    started = await start_scan(request, request.match_info["id"], component=str(body.get("component", "")),
                               pages=body.get("pages", 1), device=str(body.get("device") or ""),
                               source=str(body.get("source") or ""))
    return web.json_response(started, status=202)


@allow("sync.view")
async def sync_page(request: web.Request) -> web.StreamResponse:
    return render("sync.html", request, {
        "sync": await sync_state(request.app), "notice": "Đã yêu cầu đồng bộ ngay." if request.query.get("msg") == "kicked" else None})


@allow("sync.kick")
async def sync_kick(request: web.Request) -> web.StreamResponse:
    sync = request.app[SYNC]
    if sync is None:
        raise HttpError(409, "no_sync", "sync is not running", message_vi="Đồng bộ: không có.")
    await maybe_await(sync.kick())
    audit(request, "sync.kick")
    raise web.HTTPSeeOther("/sync?msg=kicked")


def health(app: web.Application) -> dict[str, Any]:
    store = app[STORE]
    ok = True
    try:
        store.count()
    except Exception:
        ok = False
    return {"status": "ok" if ok else "error", "store": "ok" if ok else "error",
            "uptime_seconds": round(time.time() - app[STARTED], 1),
            "devices": "absent" if app[DEVICES] is None else "present",
            "sync": "absent" if app[SYNC] is None else "present",
            "version": _version()}


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("motcua")
    except PackageNotFoundError:
        return "dev"


@allow(PUBLIC)
async def healthz(request: web.Request) -> web.Response:
    body = health(request.app)
    return web.json_response(body, status=200 if body["status"] == "ok" else 503)


@allow("status.view")
async def status_page(request: web.Request) -> web.StreamResponse:
    store = request.app[STORE]
    return render("status.html", request, {
        "health": health(request.app), "devices": devices_state(request.app),
        "sync": await sync_state(request.app),
        "counts": {s: store.count(status=s) for s in ("draft", "finalized", "handed_over", "shredded")},
        "agency_code": store.agency_code, "station_id": store.station_id,
    })


def setup(app: web.Application) -> None:
    r = app.router
    r.add_get("/devices", devices_page, name="devices")
    r.add_get("/events", events_stream, name="events")
    r.add_get("/qr/recent", qr_recent)
    r.add_post("/dossiers/{id}/scan", scan_submit)
    r.add_get("/sync", sync_page, name="sync")
    r.add_post("/sync/kick", sync_kick)
    r.add_get("/healthz", healthz, name="healthz")
    r.add_get("/status", status_page, name="status")
