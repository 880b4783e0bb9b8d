"""Typed keys of the application's shared objects."""

from __future__ import annotations

from typing import Any

from aiohttp import web

SETTINGS: web.AppKey[Any] = web.AppKey("settings", object)
STORE: web.AppKey[Any] = web.AppKey("store", object)
DEVICES: web.AppKey[Any] = web.AppKey("devices", object)
SYNC: web.AppKey[Any] = web.AppKey("sync", object)
EVENTS: web.AppKey[Any] = web.AppKey("events", object)
STARTED: web.AppKey[float] = web.AppKey("started", float)
SESSION: web.RequestKey[Any] = web.RequestKey("session", object)
AUTH_VIA: web.RequestKey[Any] = web.RequestKey("auth_via", object)
EXPIRED: web.RequestKey[bool] = web.RequestKey("session_expired", bool)
