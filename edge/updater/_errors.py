"""The updater's errors (one base for the package)."""

from __future__ import annotations

from edge.errors import MotcuaError


class UpdateError(MotcuaError):
    """The update cannot be done (bad command, no package, unreadable state)."""


class InstallError(UpdateError):
    """The package manager failed to install a version."""
