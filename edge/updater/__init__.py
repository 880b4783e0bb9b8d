"""The box's updater: install a release the hub rolled out, check the box, roll back if it is not healthy.

Run by ``motcua-update.service`` (root, oneshot, from a timer in a quiet hour; docs/deploy.md §7).
Its parts are interfaces with real and test implementations: :class:`PackageInstaller` (apt or
dpkg), :class:`HealthCheck` (READY, ``motcua check``, web, sync) and :class:`Box` (the store's
pending ``update`` command, whether a clerk is mid-intake, the report to the hub).
"""

from __future__ import annotations

from core.lazy import lazy_exports

# Loaded on first use: the CLI imports this package for its _extension, and ``motcua --help``
# must not pay for the store and aiohttp behind these names.
_LAZY = {
    **{n: ("._box", n) for n in ("Box", "PendingUpdate", "StoreBox", "intake_in_progress", "verify_update")},
    **{n: ("._errors", n) for n in ("InstallError", "UpdateError")},
    **{n: ("._health", n) for n in ("HealthCheck", "SystemHealth")},
    **{n: ("._installer", n) for n in ("AptInstaller", "DpkgInstaller", "PackageInstaller")},
    **{n: ("._updater", n) for n in ("Updater", "UpdateResult")},
}
__all__ = sorted(_LAZY)
__getattr__, __dir__ = lazy_exports(__name__, _LAZY)
