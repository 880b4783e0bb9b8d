"""The box's updater: install a release the hub rolled out, check the box, roll back if it is not healthy.

Run by ``motcua-update.service`` (root, oneshot, from a timer in a quiet hour; docs/deploy.md §7).
Its parts are interfaces with real and test implementations: :class:`PackageInstaller` (apt or
dpkg), :class:`HealthCheck` (READY, ``motcua check``, web, sync) and :class:`Box` (the store's
pending ``update`` command, whether a clerk is mid-intake, the report to the hub).
"""

from __future__ import annotations

from ._box import Box, PendingUpdate, StoreBox, intake_in_progress, verify_update
from ._errors import InstallError, UpdateError
from ._health import HealthCheck, SystemHealth
from ._installer import AptInstaller, DpkgInstaller, PackageInstaller
from ._updater import Updater, UpdateResult

__all__ = ["AptInstaller", "Box", "DpkgInstaller", "HealthCheck", "InstallError", "PackageInstaller",
           "PendingUpdate", "StoreBox", "SystemHealth", "UpdateError", "UpdateResult", "Updater",
           "intake_in_progress", "verify_update"]
