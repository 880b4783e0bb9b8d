"""What a request does beyond its own page: log in with lockout, a supervisor's override, the
receipt of a dossier, the devices, sync and health state, a scanner batch, waking the sync
client. Shared by the HTML views and the JSON API (neither imports the other)."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from aiohttp import web

from edge import reception, services
from edge.errors import MotcuaError, ValidationError

from . import accounts
from ._auth import current
from ._common import audit, blocking, maybe_await
from ._errors import HttpError
from ._events import device_to_dict
from ._keys import DEVICES, EVENTS, SETTINGS, STARTED, STORE, SYNC

logger = logging.getLogger(__name__)
_tasks: set[asyncio.Task] = set()


async def login_with_password(request: web.Request, username: str, password: str,
                              roles: tuple[str, ...] = accounts.ROLES) -> accounts.Account:
    """Check credentials with lockout; the argon2id work runs off the event loop, the writes
    (counting the attempt, settling it) are awaited on the store's writer thread.

    The form, the API session endpoint and the supervisor override all come here: the attempt is
    counted before the check, at most :data:`accounts.MAX_CONCURRENT_CHECKS` checks of one account
    run at once, and a success is refused if the account got locked meanwhile.
    """
    settings = request.app[SETTINGS]
    store = request.app[STORE]
    limits = {"max_attempts": settings.web.lockout_attempts, "lockout_minutes": settings.web.lockout_minutes}
    attempt = await accounts.abegin_login(store, username, **limits)
    try:
        with accounts.check_slot(attempt.username):
            ok = await blocking(accounts.verify_password, attempt, password)
    except accounts.AuthError:
        await accounts.arefuse_unchecked(store, attempt, **limits)
        raise
    return await accounts.afinish_login(store, attempt, ok, roles=roles, **limits)


async def kick_sync(request: web.Request) -> None:
    sync = request.app[SYNC]
    if sync is None or not hasattr(sync, "kick"):
        return
    try:
        await maybe_await(sync.kick())
    except Exception:  # a sync hiccup never blocks intake
        logger.warning("could not wake the sync client after finalize", exc_info=True)


async def supervisor_override(request: web.Request, username: str, password: str) -> str:
    """A supervisor confirms on the spot; their own lockout counter applies."""
    if not username or not password:
        raise ValidationError("override_password", "supervisor credentials required",
                              message_vi="Hồ sơ còn thiếu thành phần bắt buộc: lãnh đạo cần nhập tên đăng nhập và mật khẩu để duyệt.")
    try:
        account = await login_with_password(request, username, password, roles=("supervisor", "admin"))
    except accounts.AuthError as exc:
        await audit(request, "dossier.override_refused", reason=exc.code)
        raise ValidationError("override_password", exc.code, message_vi=exc.message_vi) from None
    return account.username


async def render_receipt_for(request: web.Request, dossier_id: str) -> tuple[Any, bytes]:
    """The receipt of a finalized dossier, drawn for the clerk making the request: (data, PDF)."""
    store = request.app[STORE]
    if not store.summary(dossier_id).code:
        raise HttpError(409, "not_finalized", "dossier has no receipt yet",
                        message_vi="Hồ sơ chưa tiếp nhận: chưa có giấy tiếp nhận.")
    data = reception.receipt_for_dossier(store, dossier_id, clerk_name=current(request).account.display_name)
    return data, await blocking(lambda: reception.render_receipt_apart(receipt=data))  # no reportlab here


def receipt_response(code: str, pdf: bytes) -> web.Response:
    return web.Response(body=pdf, content_type="application/pdf", headers={
        "Content-Disposition": f'attachment; filename="giay-tiep-nhan-{code}.pdf"'})


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


SOURCES = {"": "", "ADF": "ADF", "Flatbed": "Flatbed", "Duplex": "Duplex"}


def _check_room(store, settings, pages: int) -> None:
    """Offline guardrail: refuse a scan only when the store could not hold its pages."""
    from sync.client import NoRoomError, check_room_for_scan

    try:
        check_room_for_scan(store, settings.guardrails, pages=pages, now=store.clock.now_s())
    except NoRoomError as exc:
        raise HttpError(507, "no_room", str(exc), message_vi=exc.message_vi) from None


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
    services.check_component(store, dossier_id, component)
    _check_room(store, settings, count)
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
            async for item in scan_events(store, scan, manager=devices,
                                         max_page_bytes=services.page_limit_bytes(settings)):
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
    await audit(request, "scan.start", dossier_id=dossier_id, component=component, pages=count, device=device)
    return {"started": True, "device": device, "component": component, "pages": count, "source": source}


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


