"""The application factory: ``create_app(settings=, store=, devices=, sync=)``."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import TYPE_CHECKING

import aiohttp_jinja2
import jinja2
from aiohttp import web

from edge import services

from . import _api, _views_admin, _views_auth, _views_intake, _views_lookup, _views_panels
from ._auth import headers_middleware, security_middleware
from ._errors import error_middleware
from ._events import EventHub
from ._format import register_filters
from ._keys import DEVICES, EVENTS, SETTINGS, STARTED, STORE, SYNC, SyncControl

if TYPE_CHECKING:
    from edge.config import Settings
    from edge.devices import DeviceManager
    from edge.store import Store

logger = logging.getLogger(__name__)

HERE = Path(__file__).parent


def create_app(*, settings: Settings, store: Store, devices: DeviceManager | None = None,
               sync: SyncControl | None = None) -> web.Application:
    """The clerk web app and the JSON API on one aiohttp application.

    ``devices`` (a DeviceManager) and ``sync`` (a SyncClient) are optional: their panels then say
    so. The store's database must already hold the web tables (``Migrations("web")``).
    """
    max_body = services.upload_limit_mb(settings) * 1024 * 1024 + 64 * 1024
    app = web.Application(middlewares=[headers_middleware, error_middleware, security_middleware],
                          client_max_size=max_body)
    app[SETTINGS] = settings
    app[STORE] = store
    app[DEVICES] = devices
    app[SYNC] = sync
    app[STARTED] = time.time()
    app[EVENTS] = EventHub(devices)
    env = aiohttp_jinja2.setup(
        app, loader=jinja2.FileSystemLoader(str(HERE / "templates")), autoescape=True,
        undefined=jinja2.StrictUndefined if settings.log.level == "DEBUG" else jinja2.Undefined,
    )
    register_filters(env)
    app[aiohttp_jinja2.static_root_key] = "/static"
    app.router.add_static("/static/", HERE / "static", name="static")
    _views_auth.setup(app)
    _views_intake.setup(app)
    _views_lookup.setup(app)
    _views_panels.setup(app)
    _views_admin.setup(app)
    _api.setup(app)
    app.on_startup.append(_start)
    # On shutdown (before aiohttp waits for open handlers): the event streams end at once.
    app.on_shutdown.append(_stop)
    return app


async def _start(app: web.Application) -> None:
    await app[EVENTS].start()


async def _stop(app: web.Application) -> None:
    await app[EVENTS].stop()
