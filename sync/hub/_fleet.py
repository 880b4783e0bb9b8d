"""Mounting the fleet page (``sync.hub.fleet``) on the hub application at ``/fleet/``."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from aiohttp import web

from . import _rollout
from ._core import signed_command, wipe_builder
from .fleet import PREFIX, create_fleet_app


def install_fleet(app: web.Application, hub: Any) -> None:
    rollouts = SimpleNamespace(start=_rollout.start_rollout, status=_rollout.rollout_status,
                               abort=_rollout.abort_rollout, recent=_rollout.recent_rollouts,
                               station_update=_rollout.station_update, station_updates=_rollout.station_updates,
                               parse_waves=_rollout.parse_waves, version_re=_rollout.VERSION_RE,
                               plan=_rollout.RolloutPlan)
    commands = SimpleNamespace(signed_command=signed_command, wipe_builder=wipe_builder, rollouts=rollouts)
    app.add_subapp(PREFIX, create_fleet_app(hub, commands=commands))
