"""Scanning from async code: the blocking batch runs in a thread, progress comes as an iterator."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from ._errors import ScannerError
from ._model import DeviceEvent, DeviceStatus
from ._scan import ScanProgress, ScanRequest, ScanResult, scan_to_store
from ._sink import PageSink

_DONE = object()


async def scan_events(store: PageSink, request: ScanRequest, *, manager: Any = None,
                      **kwargs: Any) -> AsyncIterator[ScanProgress | ScanResult]:
    """Yield ScanProgress events while the batch runs, then the ScanResult.

    A batch that stores no page raises ScannerError after its ``error`` progress event. With a
    ``manager`` the scanner is marked busy meanwhile (error afterwards if it failed) and each
    progress event is also published to the manager's subscribers as ``scan_progress``.
    """
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[Any] = asyncio.Queue()

    def on_progress(event: ScanProgress) -> None:
        loop.call_soon_threadsafe(queue.put_nowait, event)

    device = manager.find_scanner(request.device) if manager is not None else None
    if device is not None:
        manager.set_status(device.id, DeviceStatus.BUSY)
    future = loop.run_in_executor(
        None, lambda: scan_to_store(store, request, on_progress=on_progress, **kwargs))
    future.add_done_callback(lambda _f: loop.call_soon_threadsafe(queue.put_nowait, _DONE))
    error: BaseException | None = None
    try:
        while True:
            item = await queue.get()
            if item is _DONE:
                break
            if manager is not None:
                manager.publish(DeviceEvent(type="scan_progress", device=device, data=item))
            yield item
        result: ScanResult = future.result()
        error = result.error
        yield result
    except ScannerError as exc:
        error = exc
        raise
    finally:
        if device is not None:
            if error is not None and getattr(error, "status", "") not in ("no_docs",):
                manager.set_status(device.id, DeviceStatus.ERROR,
                                   getattr(error, "message_vi", None) or str(error))
            else:
                manager.set_status(device.id, DeviceStatus.READY)
