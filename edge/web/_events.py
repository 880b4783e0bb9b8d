"""Fan-out of DeviceManager events to the browsers (Server-Sent Events) and a short memory
of the last QR scans for polling clients. Scanned data is personal: kept in memory only,
for a few minutes, and never logged."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from typing import Any

logger = logging.getLogger(__name__)

QR_TYPES = ("cccd_scanned", "receipt_scanned", "qr_error")
_KEEP_SECONDS = 120.0


def _plain(value: Any) -> Any:
    if hasattr(value, "to_dict"):
        return value.to_dict()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    return value


def event_to_dict(event: Any) -> dict[str, Any]:
    data = _plain(event)
    if not isinstance(data, dict):
        return {"type": str(getattr(event, "type", "unknown"))}
    data = dict(data)
    if "data" in data:
        data["data"] = _plain(data["data"])
    return data


def device_to_dict(device: Any) -> dict[str, Any]:
    if hasattr(device, "to_dict"):
        return device.to_dict()
    if dataclasses.is_dataclass(device) and not isinstance(device, type):
        return dataclasses.asdict(device)
    return dict(device) if isinstance(device, dict) else {"id": str(device)}


class EventHub:
    """Subscribes once to the DeviceManager and hands each event to every open stream.

    Each stream belongs to a session: it asks ``alive()`` before handing over every event and at
    every heartbeat (``heartbeat`` seconds without an event), and :meth:`close_session` /
    :meth:`close_account` end it at once on logout or when an account is disabled.
    """

    def __init__(self, devices: Any, *, heartbeat: float = 15.0) -> None:
        self._devices = devices
        self.heartbeat = heartbeat
        self._queues: dict[asyncio.Queue[dict[str, Any]], tuple[str, str]] = {}
        self._recent: deque[tuple[int, float, dict[str, Any]]] = deque(maxlen=20)
        self._seq = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._unsubscribe: Any = None

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        if self._devices is not None and hasattr(self._devices, "subscribe"):
            try:
                self._unsubscribe = self._devices.subscribe(self._on_event)
            except Exception:
                logger.exception("could not subscribe to device events")

    async def stop(self) -> None:
        if self._unsubscribe is not None:
            with contextlib.suppress(Exception):
                self._unsubscribe()
        for queue in list(self._queues):
            queue.put_nowait({"type": "_closed"})

    def close_session(self, token_hash: str) -> None:
        """End the streams of one session (its logout)."""
        for queue, (th, _user) in list(self._queues.items()):
            if th == token_hash:
                queue.put_nowait({"type": "_closed"})

    def close_account(self, username: str) -> None:
        """End every stream of an account (disabled, password changed)."""
        for queue, (_th, user) in list(self._queues.items()):
            if user == username:
                queue.put_nowait({"type": "_closed"})

    def _on_event(self, event: Any) -> None:
        # May be called from the loop or from a driver's thread.
        loop = self._loop
        if loop is None:
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            self.publish(event_to_dict(event))
        else:
            loop.call_soon_threadsafe(self.publish, event_to_dict(event))

    def publish(self, data: dict[str, Any]) -> None:
        self._seq += 1
        data = {**data, "seq": self._seq}
        if data.get("type") in QR_TYPES:
            self._recent.append((self._seq, time.monotonic(), data))
        for queue in list(self._queues):
            if queue.qsize() < 200:
                queue.put_nowait(data)

    def recent_qr(self, since: int = 0) -> list[dict[str, Any]]:
        cutoff = time.monotonic() - _KEEP_SECONDS
        return [d for seq, at, d in self._recent if seq > since and at >= cutoff]

    @property
    def seq(self) -> int:
        return self._seq

    async def stream(self, *, alive: Callable[[], bool], token_hash: str = "",
                     username: str = "") -> AsyncIterator[dict[str, Any]]:
        """Events (and ``_ping`` heartbeats) for one session, until ``alive()`` says it has ended."""
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._queues[queue] = (token_hash, username)
        try:
            while True:
                try:
                    item = await asyncio.wait_for(queue.get(), timeout=self.heartbeat)
                except TimeoutError:
                    item = {"type": "_ping"}
                if item.get("type") == "_closed" or not alive():
                    return
                yield item
        finally:
            self._queues.pop(queue, None)
