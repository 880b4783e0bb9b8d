"""The fleet page for IT (``/fleet/`` on the hub) and the rows it shares with ``/metrics``."""

from __future__ import annotations

from ._auth import hash_password
from ._rows import FleetRow, fleet_rows, newest_version
from ._views import PREFIX, create_fleet_app

__all__ = ["PREFIX", "FleetRow", "create_fleet_app", "fleet_rows", "hash_password", "newest_version"]
