"""The device manager: enumerate at start, follow udev hotplug, keep a registry, tell subscribers.

Start-up (blocking udev set-up in the executor) → first scan → a netlink ``pyudev.Monitor`` whose
file descriptor is watched by the asyncio loop. A udev event only schedules a debounced rescan;
the rescan's result is diffed against the last known set (added / removed / changed). Each source
(udev, SANE, PC/SC) runs isolated: a failing one gets a driver status and the others still count.
Subscriber callbacks are isolated too: one raising is logged and the others still run.
"""

from __future__ import annotations

import asyncio
import dataclasses
import inspect
import logging
from collections.abc import Callable, Mapping
from typing import Any

from edge.config import Settings
from edge.errors import MotcuaError

from ._errors import QrReadError
from ._model import (
    DeviceEvent,
    DeviceIdentity,
    DeviceKind,
    DeviceRecord,
    DeviceState,
    DeviceStatus,
    DriverStatus,
    utcnow,
)
from ._sink import PageSink
from ._udev import QrMatcher, enumerate_udev, watched_subsystems

logger = logging.getLogger(__name__)

Subscriber = Callable[[DeviceEvent], Any]


def _default_context() -> Any:
    import pyudev

    return pyudev.Context()


def _sane_records(configured: str) -> list[DeviceRecord]:
    from ._sane import list_devices

    now = utcnow()
    extra = tuple(n.strip() for n in configured.split(",") if n.strip())
    records = []
    for dev in list_devices(extra_names=extra):
        records.append(DeviceRecord(
            id=f"sane:{dev.name}", kind=DeviceKind.SCANNER, vendor=dev.vendor, model=dev.model,
            name=dev.name, transport=dev.transport, source="sane", status=DeviceStatus.READY,
            last_seen=now, properties=(("sane_type", dev.type),)))
    return records


def _pcsc_records() -> list[DeviceRecord]:
    from ._pcsc import list_pcsc_readers

    return list_pcsc_readers()


def merge(udev: list[DeviceRecord], sane: list[DeviceRecord],
          pcsc: list[DeviceRecord]) -> list[DeviceRecord]:
    """One record per physical device: a USB scanner's SANE name joins its udev record."""
    out = list(udev)
    by_busdev = {}
    for i, rec in enumerate(out):
        props = dict(rec.properties)
        if rec.kind is DeviceKind.SCANNER and props.get("busnum") and props.get("devnum"):
            by_busdev[(int(props["busnum"]), int(props["devnum"]))] = i
    from ._sane import SaneDevice

    for rec in sane:
        key = SaneDevice(name=rec.name, vendor="", model="", type="").usb_bus_dev
        if key is not None and key in by_busdev:
            i = by_busdev[key]
            out[i] = dataclasses.replace(out[i], name=rec.name)
        else:
            out.append(rec)
    out.extend(pcsc)
    return out


class DeviceManager:
    """Registry of peripherals with live updates; see the module docstring."""

    def __init__(self, *, settings: Settings, store: PageSink | None = None,
                 context_factory: Callable[[], Any] | None = None,
                 sane_lister: Callable[[], list[DeviceRecord]] | None = None,
                 pcsc_lister: Callable[[], list[DeviceRecord]] | None = None,
                 start_qr_readers: bool = True,
                 listers: Mapping[str, Callable[[], list[DeviceRecord]]] | None = None) -> None:
        """``listers``: further enumeration sources by name (blocking, called on each rescan in
        a worker thread and guarded like the others), e.g. the signing token's."""
        self.settings = settings
        self.config = settings.devices
        self.store = store
        self._context_factory = context_factory or _default_context
        self._sane_lister = sane_lister or (lambda: _sane_records(self.config.scanner))
        self._pcsc_lister = pcsc_lister or _pcsc_records
        self._start_qr = start_qr_readers
        self._listers = dict(listers or {})
        self._qr = QrMatcher.parse(self.config.qr_input_device)
        # What each device is (frozen, replaced only by a rescan) and how it is doing (the state the
        # registry changes: busy during a scan, error after a failure, absent when unplugged).
        self._identities: dict[str, DeviceIdentity] = {}
        self._states: dict[str, DeviceState] = {}
        self._overlay: dict[str, tuple[DeviceStatus, str]] = {}
        self._drivers: dict[str, DriverStatus] = {}
        self._subscribers: list[Subscriber] = []
        self._context: Any = None
        self._monitor: Any = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._debounce: asyncio.TimerHandle | None = None
        self._rescan_lock = asyncio.Lock()
        self._rescan_task: asyncio.Task | None = None
        self._again = False
        self._qr_tasks: dict[str, asyncio.Task] = {}
        self._tasks: set[asyncio.Task] = set()
        self.rescans = 0

    # -- public API -------------------------------------------------------------------------
    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        try:
            self._context, self._monitor = await self._loop.run_in_executor(None, self._setup_udev)
        except Exception as exc:  # no udev (container, broken libudev): keep going without it
            logger.warning("udev unavailable: %s", exc)
            self._set_driver("udev", False, str(exc))
        await self.rescan()
        if self._monitor is not None:
            self._loop.add_reader(self._monitor.fileno(), self._on_udev_readable)

    async def stop(self) -> None:
        if self._debounce is not None:
            self._debounce.cancel()
            self._debounce = None
        if self._monitor is not None and self._loop is not None:
            self._loop.remove_reader(self._monitor.fileno())
            self._monitor = None
        tasks = list(self._qr_tasks.values()) + list(self._tasks)
        if self._rescan_task is not None:
            tasks.append(self._rescan_task)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        self._qr_tasks.clear()
        self._tasks.clear()

    @property
    def _records(self) -> dict[str, DeviceRecord]:
        return {i: DeviceRecord.of(identity, self._states[i]) for i, identity in self._identities.items()}

    def _set_records(self, records: dict[str, DeviceRecord]) -> None:
        self._identities = {i: r.identity for i, r in records.items()}
        self._states = {i: r.state for i, r in records.items()}

    def identity(self, device_id: str) -> DeviceIdentity | None:
        return self._identities.get(device_id)

    def state(self, device_id: str) -> DeviceState | None:
        return self._states.get(device_id)

    def snapshot(self) -> list[DeviceRecord]:
        return sorted(self._records.values(), key=lambda r: (str(r.kind), r.id))

    def drivers(self) -> list[DriverStatus]:
        return sorted(self._drivers.values(), key=lambda d: d.name)

    def get(self, device_id: str) -> DeviceRecord | None:
        identity = self._identities.get(device_id)
        return DeviceRecord.of(identity, self._states[device_id]) if identity is not None else None

    def find_scanner(self, name: str) -> DeviceRecord | None:
        for device_id, identity in self._identities.items():
            if identity.kind is DeviceKind.SCANNER and name in (identity.name, identity.id):
                return self.get(device_id)
        return None

    def subscribe(self, callback: Subscriber) -> Callable[[], None]:
        self._subscribers.append(callback)

        def unsubscribe() -> None:
            if callback in self._subscribers:
                self._subscribers.remove(callback)

        return unsubscribe

    def publish(self, event: DeviceEvent) -> None:
        """Deliver an event to every subscriber; one failing never stops the others."""
        for callback in list(self._subscribers):
            try:
                result = callback(event)
                if inspect.isawaitable(result):
                    task = asyncio.ensure_future(result)
                    self._tasks.add(task)
                    task.add_done_callback(self._subscriber_task_done)
            except Exception:
                logger.exception("device subscriber %r failed on %s", callback, event.type)

    def set_status(self, device_id: str, status: DeviceStatus, error: str = "") -> None:
        """A driver reports on a device (busy during a scan, error after a failure)."""
        if status is DeviceStatus.READY and not error:
            self._overlay.pop(device_id, None)
        else:
            self._overlay[device_id] = (status, error)
        old = self._states.get(device_id)
        if old is None or old.status is DeviceStatus.ABSENT:
            return
        new = dataclasses.replace(old, status=status, last_error=error or old.last_error)
        if not new.same_as(old):
            self._states[device_id] = new
            self.publish(DeviceEvent(type="changed", device=DeviceRecord.of(self._identities[device_id], new)))

    def scan(self, request: Any, **kwargs: Any):
        """Scan into this manager's store: an async iterator of ScanProgress, then ScanResult.

        The scanner shows busy meanwhile, and every progress event also reaches subscribers
        as ``scan_progress`` (the web app's live view).
        """
        from ._scan_async import scan_events

        if self.store is None:
            raise MotcuaError("DeviceManager has no store to scan into")
        kwargs.setdefault("max_page_bytes", self.settings.store.max_page_mb * 1024 * 1024)
        return scan_events(self.store, request, manager=self, **kwargs)

    def enumerate_once(self) -> list[DeviceRecord]:
        """Blocking one-shot enumeration without the monitor (``motcua devices``)."""
        try:
            self._context = self._context or self._context_factory()
        except Exception as exc:
            self._set_driver("udev", False, str(exc))
        records = self._collect()
        self._set_records({r.id: r for r in records})
        return self.snapshot()

    async def rescan(self) -> None:
        """Enumerate now and diff; concurrent calls coalesce into one more pass."""
        if self._rescan_lock.locked():
            self._again = True
            return
        async with self._rescan_lock:
            while True:
                self._again = False
                assert self._loop is not None
                records = await self._loop.run_in_executor(None, self._collect)
                self._apply(records)
                if not self._again:
                    break

    # -- internals ---------------------------------------------------------------------------
    def _setup_udev(self) -> tuple[Any, Any]:
        import pyudev

        context = self._context_factory()
        monitor = pyudev.Monitor.from_netlink(context)
        for subsystem in watched_subsystems():
            monitor.filter_by(subsystem)
        monitor.start()
        self._set_driver("udev", True)
        return context, monitor

    def _set_driver(self, name: str, ok: bool, error: str = "") -> None:
        self._drivers[name] = DriverStatus(name=name, ok=ok, error=error, checked_at=utcnow())

    def _collect(self) -> list[DeviceRecord]:
        udev: list[DeviceRecord] = []
        sane: list[DeviceRecord] = []
        pcsc: list[DeviceRecord] = []
        if self._context is not None:
            udev = self._guard("udev", lambda: enumerate_udev(self._context, qr=self._qr))
        sane = self._guard("sane", self._sane_lister)
        pcsc = self._guard("pcsc", self._pcsc_lister)
        extra = [rec for name, lister in self._listers.items() for rec in self._guard(name, lister)]
        self.rescans += 1
        return merge(udev, sane, pcsc) + extra

    def _guard(self, name: str, fn: Callable[[], list[DeviceRecord]]) -> list[DeviceRecord]:
        try:
            result = fn()
        except MotcuaError as exc:
            self._set_driver(name, False, str(exc))
            return [self._error_record(name, exc)] if name == "sane" else []
        except Exception as exc:  # a broken driver gets a status, never takes the daemon down
            logger.warning("device source %s failed: %s", name, exc)
            self._set_driver(name, False, f"{type(exc).__name__}: {exc}")
            return []
        self._set_driver(name, True)
        return result

    def _error_record(self, name: str, exc: MotcuaError) -> DeviceRecord:
        return DeviceRecord(id=f"driver:{name}", kind=DeviceKind.SCANNER, model="SANE",
                            source=name, status=DeviceStatus.ERROR, last_seen=utcnow(),
                            last_error=exc.message_vi or str(exc))

    def _apply(self, records: list[DeviceRecord]) -> None:
        now: dict[str, DeviceRecord] = {}
        known = self._records
        for rec in records:
            if rec.id in self._overlay:
                status, error = self._overlay[rec.id]
                rec = dataclasses.replace(rec, status=status, last_error=error)
            now[rec.id] = rec
        events: list[DeviceEvent] = []
        for device_id, rec in now.items():
            old = known.get(device_id)
            if old is None or old.status is DeviceStatus.ABSENT:
                events.append(DeviceEvent(type="added", device=rec))
            elif not rec.same_as(old):
                events.append(DeviceEvent(type="changed", device=rec))
        for device_id, old in known.items():
            if device_id not in now and old.status is not DeviceStatus.ABSENT:
                gone = dataclasses.replace(old, status=DeviceStatus.ABSENT)
                now[device_id] = gone
                self._overlay.pop(device_id, None)
                events.append(DeviceEvent(type="removed", device=gone))
            elif device_id not in now:
                now[device_id] = old
        self._set_records(now)
        for event in events:
            self._follow_qr(event)
            self.publish(event)

    def _follow_qr(self, event: DeviceEvent) -> None:
        rec = event.device
        if rec is None or rec.kind is not DeviceKind.QR_SCANNER:
            return
        if event.type == "removed":
            task = self._qr_tasks.pop(rec.id, None)
            if task is not None:
                task.cancel()
        elif event.type == "added" and self._start_qr and self.config.enabled and rec.dev_path:
            self._start_qr_reader(rec)

    def _start_qr_reader(self, rec: DeviceRecord) -> None:
        from ._qr import QrWedgeReader, run_reader

        reader = QrWedgeReader(rec.dev_path, publish=self.publish, device=rec,
                               key_timeout=self.config.qr_key_timeout_ms / 1000)

        def failed(exc: QrReadError) -> None:
            self._qr_tasks.pop(rec.id, None)
            state = self._states.get(rec.id)
            if state is not None and state.status is not DeviceStatus.ABSENT:
                self.set_status(rec.id, DeviceStatus.ERROR, exc.message_vi or str(exc))

        self._qr_tasks[rec.id] = asyncio.ensure_future(run_reader(reader, on_failure=failed))

    def _on_udev_readable(self) -> None:
        seen = 0
        monitor = self._monitor
        if monitor is None:
            return
        while True:
            try:
                device = monitor.poll(timeout=0)
            except Exception as exc:
                logger.warning("udev monitor read failed: %s", exc)
                break
            if device is None:
                break
            seen += 1
        if seen:
            self._schedule_rescan()

    def _schedule_rescan(self) -> None:
        assert self._loop is not None
        if self._debounce is not None:
            self._debounce.cancel()
        delay = max(0.0, float(self.config.rescan_debounce_seconds))
        self._debounce = self._loop.call_later(delay, self._debounced)

    def _debounced(self) -> None:
        self._debounce = None
        task = asyncio.ensure_future(self._safe_rescan())
        self._rescan_task = task

    async def _safe_rescan(self) -> None:
        try:
            await self.rescan()
        except Exception:
            logger.exception("device rescan failed")

    def _subscriber_task_done(self, task: asyncio.Task) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.error("async device subscriber failed: %r", task.exception())
