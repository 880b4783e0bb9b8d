"""Typed keys of the application's shared objects."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import TYPE_CHECKING, Any, Protocol

from aiohttp import web

if TYPE_CHECKING:
    from edge.config import Settings
    from edge.devices import DeviceManager
    from edge.store import Store

    from ._events import EventHub
    from ._sessions import Session


class SyncControl(Protocol):
    """What the web app needs of the sync client: wake it, read its status."""

    def kick(self) -> Awaitable[Any] | Any: ...

    def status(self) -> Awaitable[Any] | Any: ...


SETTINGS: web.AppKey[Settings] = web.AppKey("settings")
STORE: web.AppKey[Store] = web.AppKey("store")
DEVICES: web.AppKey[DeviceManager | None] = web.AppKey("devices")
SYNC: web.AppKey[SyncControl | None] = web.AppKey("sync")
EVENTS: web.AppKey[EventHub] = web.AppKey("events")
STARTED: web.AppKey[float] = web.AppKey("started", float)
SESSION: web.RequestKey[Session | None] = web.RequestKey("session")
AUTH_VIA: web.RequestKey[str | None] = web.RequestKey("auth_via")
EXPIRED: web.RequestKey[bool] = web.RequestKey("session_expired", bool)
