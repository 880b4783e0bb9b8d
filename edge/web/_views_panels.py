"""Devices panel (live through Server-Sent Events), scanner batches, sync panel, status page and
``/healthz``."""

from __future__ import annotations

import json
import logging

from aiohttp import web

from edge.store import LIST_STATUSES

from . import _sessions, _views_signing
from ._actions import devices_state, health, start_scan, sync_state
from ._auth import current
from ._common import audit, maybe_await
from ._errors import HttpError
from ._keys import EVENTS, SETTINGS, STORE, SYNC
from ._render import render
from ._roles import PUBLIC, allow

logger = logging.getLogger(__name__)


@allow("devices.view")
async def devices_page(request: web.Request) -> web.StreamResponse:
    ctx = devices_state(request.app)
    ctx["signing_token"] = await _views_signing.token_state(request)  # the PKCS#11 token (ký số)
    return render("devices.html", request, ctx)


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
        "sync": await sync_state(request.app), "notice": _notice(request.query.get("msg", ""))})


def _notice(msg: str) -> str | None:
    if msg == "kicked":
        return "Đã yêu cầu đồng bộ ngay."
    if msg.startswith("transfer:") and msg[9:].isdigit():
        return (f"Đã ghi {int(msg[9:])} hồ sơ vào thẻ nhớ (đã niêm phong cho thành phố). Hồ sơ vẫn được giữ trên "
                "trạm cho tới khi có biên nhận của thành phố.")
    return None


@allow("sync.kick")
async def sync_kick(request: web.Request) -> web.StreamResponse:
    sync = request.app[SYNC]
    if sync is None:
        raise HttpError(409, "no_sync", "sync is not running", message_vi="Đồng bộ: không có.")
    await maybe_await(sync.kick())
    await audit(request, "sync.kick")
    raise web.HTTPSeeOther("/sync?msg=kicked")


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
        "counts": {s: store.count(status=s) for s in LIST_STATUSES},
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
    from ._views_transfer import setup as transfer_setup  # the sync panel's "write a stick" button

    transfer_setup(app)
    r.add_get("/healthz", healthz, name="healthz")
    r.add_get("/status", status_page, name="status")
