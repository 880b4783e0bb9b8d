"""Automatic import on insertion: a stick that appears on udev is mounted, imported if it holds a
transfer or receipts (``import_stick``), and unmounted.

A udev ``add`` event only triggers work for that device; one stick is handled at a time, and a
failure is logged and audited, never raised into ``motcua serve``. Nothing is written to a stick
here: export stays a person's decision (the sync panel's button).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sync.errors import SyncError
from sync.protocol import scan_stick

from ._import import ImportReport, import_stick_async
from ._stick import Mounter, StickDevice, mounted_stick, stick_from_udev

logger = logging.getLogger(__name__)


class StickWatcher:
    """Follows udev's block events for ``motcua serve`` (``[transfer] auto_import``)."""

    def __init__(self, *, store, settings, monitor: Any = None, mounter: Mounter | None = None,
                 on_report: Callable[[StickDevice, ImportReport | None], None] | None = None) -> None:
        self.store = store
        self.settings = settings
        self.cfg = settings.transfer
        self.filesystems = frozenset(f.strip() for f in self.cfg.filesystems.split(",") if f.strip())
        self._monitor = monitor
        self.mounter = mounter or Mounter()
        self.on_report = on_report
        self._loop: asyncio.AbstractEventLoop | None = None
        self._queue: asyncio.Queue[StickDevice] | None = None
        self._task: asyncio.Task | None = None
        self._busy: set[str] = set()

    async def start(self) -> None:
        if self._monitor is None:
            import pyudev

            self._monitor = pyudev.Monitor.from_netlink(pyudev.Context())
            self._monitor.filter_by("block")
            self._monitor.start()
        self._loop = asyncio.get_running_loop()
        self._queue = asyncio.Queue()
        self._loop.add_reader(self._monitor.fileno(), self._readable)
        self._task = self._loop.create_task(self._work(), name="stick-watcher")

    async def stop(self) -> None:
        if self._loop is not None and self._monitor is not None:
            with contextlib.suppress(Exception):
                self._loop.remove_reader(self._monitor.fileno())
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def _readable(self) -> None:
        device = self._monitor.poll(timeout=0)
        if device is None or getattr(device, "action", None) != "add":
            return
        props = {k: str(v) for k, v in dict(device.properties).items()}
        stick = stick_from_udev(props, sys_path=device.sys_path, device_node=device.device_node or "",
                                filesystems=self.filesystems)
        if stick is not None and stick.device_node not in self._busy and self._queue is not None:
            self._busy.add(stick.device_node)
            self._queue.put_nowait(stick)

    async def _work(self) -> None:
        assert self._queue is not None
        while True:
            stick = await self._queue.get()
            report = None
            try:
                report = await self.handle(stick)
            except Exception:
                logger.exception("stick %s could not be imported", stick.device_node)
            finally:
                self._busy.discard(stick.device_node)
            if self.on_report is not None:
                self.on_report(stick, report)

    async def handle(self, stick: StickDevice) -> ImportReport | None:
        """Mount, import what the stick holds (None: nothing of ours on it), unmount."""
        cm = mounted_stick(stick, mount_dir=Path(self.cfg.mount_dir), mounter=self.mounter)
        point = await asyncio.to_thread(cm.__enter__)
        try:
            if not any(item.kind != "partial" for item in scan_stick(point)):
                return None
            try:
                report = await import_stick_async(self.store, self.settings, point)
            except SyncError as exc:
                logger.error("stick import failed: %s", exc)
                await self.store.aaudit("transfer.auto_import_failed", actor="transfer",
                                        details={"reason": str(exc)[:200]})
                return None
            logger.info("stick imported: %s transfer(s), %s receipt(s) applied", len(report.transfers),
                        len(report.receipts_applied))
            return report
        finally:
            await asyncio.to_thread(cm.__exit__, None, None, None)
