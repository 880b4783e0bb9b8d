"""``motcua serve``: the start-up script of the appliance.

Order: settings → store (unlock first if the passphrase provider is used) → devices → sync client →
web app → tell systemd we are ready. Stopped in reverse order in ``finally``.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import logging
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from aiohttp import web

from edge.config import Settings
from edge.errors import StoreLockedError

from ._notify import sd_notify, watchdog_interval

logger = logging.getLogger(__name__)


async def _watchdog(interval: float) -> None:
    """Ping systemd from the event loop: a blocked loop stops the pings and systemd restarts us."""
    while True:
        sd_notify("WATCHDOG=1")
        await asyncio.sleep(interval)


def unlock_app(settings: Settings, opened: asyncio.Future, *,
               clock: Callable[[], float] = time.time) -> web.Application:
    """The only app a locked box serves: the unlock form, ``POST /unlock`` and ``/healthz``.

    Attempts run one at a time (each costs a scrypt derivation), so a caller on the network cannot
    multiply its guessing rate by sending them in parallel; after a second failure each attempt
    waits longer, and many failures lock the page for a while (:mod:`edge.app._unlock_guard`
    describes the policy and where its state lives). The failed attempts go into the audit log
    once the store opens.
    """
    from edge.store import Store

    from ._unlock_guard import UnlockGuard

    attempt_lock = asyncio.Lock()
    guard = UnlockGuard(Path(settings.store.state_dir), clock=clock)

    def refused(message: str, status: int, as_json: bool, headers: dict[str, str] | None = None) -> web.Response:
        if as_json:
            return web.json_response({"message": message}, status=status, headers=headers)
        return web.Response(text=_LOCKED_PAGE.format(message=html.escape(message)), content_type="text/html",
                            status=status, headers=headers)

    async def passphrase_of(request: web.Request) -> str | None:
        try:
            data = await request.json() if request.content_type == "application/json" else await request.post()
        except (ValueError, UnicodeDecodeError, RecursionError):
            return None
        value = data.get("passphrase") if hasattr(data, "get") else None
        return value if isinstance(value, str) and len(value) <= 1024 else None

    async def unlock(request: web.Request) -> web.Response:
        as_json = request.content_type == "application/json"
        passphrase = await passphrase_of(request)
        if passphrase is None:
            message = "Yêu cầu không hợp lệ: cần trường passphrase (chuỗi ký tự)."
            if as_json:
                return web.json_response({"message": message}, status=400)
            return web.Response(text=_LOCKED_PAGE.format(message=html.escape(message)), content_type="text/html", status=400)
        async with attempt_lock:
            if opened.done():
                raise web.HTTPSeeOther("/")
            left = guard.wait_left()
            if left:
                return refused(guard.refusal_vi(left), 429, as_json, {"Retry-After": str(left)})
            try:
                store = await asyncio.to_thread(Store.open, settings, passphrase=passphrase)
            except StoreLockedError as exc:
                guard.failed(request.remote)
                return refused(exc.message_vi or str(exc), 403, as_json)
            try:
                await asyncio.to_thread(guard.opened, store)
            except Exception:  # the store is open: its audit failing must not lock the box again
                logger.exception("could not record the failed unlock attempts in the audit log")
            opened.set_result(store)
        if as_json:
            return web.json_response({"message": "Đã mở khóa."})
        raise web.HTTPSeeOther("/")

    async def page(request: web.Request) -> web.Response:
        return web.Response(text=_LOCKED_PAGE.format(message=""), content_type="text/html", status=503)

    async def health(request: web.Request) -> web.Response:
        return web.json_response({"status": "locked"}, status=503)

    app = web.Application(client_max_size=64 * 1024)
    app.router.add_post("/unlock", unlock)
    app.router.add_get("/healthz", health)
    app.router.add_get("/{tail:.*}", page)
    return app


async def _wait_for_passphrase(settings: Settings, host: str, port: int) -> Any:
    """Serve only the unlock page until a supervisor enters the passphrase; returns the store."""
    opened: asyncio.Future = asyncio.get_running_loop().create_future()
    app = unlock_app(settings, opened)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    sd_notify("STATUS=locked: waiting for the passphrase")
    logger.warning("store is locked: open http://%s:%s/ or run 'motcua unlock'", host, port)
    try:
        return await opened
    finally:
        await runner.cleanup()


_LOCKED_PAGE = """<!doctype html><html lang="vi"><meta charset="utf-8"><title>Thiết bị đang khóa</title>
<body style="font-family:sans-serif;max-width:30em;margin:3em auto">
<h1>Thiết bị đang khóa</h1><p>Giám sát viên nhập mật khẩu mở khóa để bắt đầu ngày làm việc.</p>
<p style="color:#b00">{message}</p>
<form method="post" action="/unlock"><label>Mật khẩu mở khóa <input type="password" name="passphrase" autofocus required></label>
<button type="submit">Mở khóa</button></form></body></html>"""


async def serve(settings: Settings, *, host: str, port: int, demo: Any = None, stop: asyncio.Event | None = None) -> None:
    from edge.store import Store

    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)

    watchdog = None
    interval = watchdog_interval()
    if interval:
        watchdog = asyncio.create_task(_watchdog(interval))

    try:
        store = await asyncio.to_thread(Store.open, settings)
    except StoreLockedError:
        store = await _wait_for_passphrase(settings, host, port)
    report = store.startup_report
    if report.tmp_files_removed or report.orphan_blobs_removed:
        await store.aaudit("store.recovered", actor="system", details={"tmp_files": report.tmp_files_removed,
                                                                         "orphan_blobs": report.orphan_blobs_removed})

    devices = sync = runner = sticks = None
    try:
        if demo is not None:
            await demo.start_hub(store)
        if settings.devices.enabled:
            from edge.devices import DeviceManager
            from edge.services import token_device_records

            devices = DeviceManager(settings=settings, store=store,  # + the signing token (ký số)
                                    listers={"pkcs11": lambda: token_device_records(settings)})
            await devices.start()
        if settings.sync.enabled and settings.sync.hub_url:
            from sync.client import SyncClient

            sync = SyncClient(settings=settings, store=store, devices=devices)
            await sync.start()
        if settings.transfer.auto_import:  # a relay forwards sticks; a box without a link takes receipts
            from sync.transfer import StickWatcher

            sticks = StickWatcher(store=store, settings=settings)
            try:
                await sticks.start()
            except Exception as exc:  # no udev here: sticks are imported by command only
                logger.warning("USB sticks will not be imported on insertion: %s", exc)
                sticks = None

        from edge.web import create_app

        app = create_app(settings=settings, store=store, devices=devices, sync=sync)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, host, port).start()
        logger.warning("Trạm Một Cửa is serving on http://%s:%s/", host, port)
        sd_notify("READY=1\nSTATUS=serving")
        await stop.wait()
        sd_notify("STOPPING=1")
    finally:
        if runner is not None:
            await runner.cleanup()
        if sticks is not None:
            await sticks.stop()
        if sync is not None:
            await sync.stop()
        if devices is not None:
            await devices.stop()
        if demo is not None:
            await demo.stop_hub()
        if watchdog is not None:
            watchdog.cancel()
        store.close()


def run_server(ctx, *, demo: bool, host: str | None, port: int | None, demo_hub_port: int | None = None) -> None:
    settings = ctx.settings
    demo_env = None
    if demo:
        from ._demo import DEMO_HUB_PORT, prepare_demo

        demo_env = prepare_demo(ctx, port=port, hub_port=demo_hub_port or DEMO_HUB_PORT)
        settings = demo_env.settings
    logging.getLogger().setLevel(settings.log.level)
    if settings.log.level != "DEBUG":
        logging.getLogger("apscheduler").setLevel(logging.WARNING)  # one line per job run is noise
    asyncio.run(serve(settings, host=host or settings.web.host, port=port or settings.web.port, demo=demo_env))
