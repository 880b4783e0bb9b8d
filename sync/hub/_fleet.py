"""Mounting the fleet page (``sync.hub.fleet``) on the hub application at ``/fleet/``."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from aiohttp import web

from ._core import signed_command, wipe_builder
from .fleet import PREFIX, create_fleet_app


def install_fleet(app: web.Application, hub: Any) -> None:
    commands = SimpleNamespace(signed_command=signed_command, wipe_builder=wipe_builder)
    app.add_subapp(PREFIX, create_fleet_app(hub, commands=commands))
