"""Exception hierarchy of the appliance: one base per layer, each with a one-line purpose.

Every error raised on purpose derives from :class:`MotcuaError` (``core.errors``, re-exported
here). Errors a clerk may see carry a Vietnamese message in ``message_vi``; ``str(error)`` stays
in English for logs and IT staff.
"""

from __future__ import annotations

from core import errors as _core
from core.errors import MotcuaError

__all__ = ["ConfigError", "DeviceError", "IntegrityError", "MotcuaError", "NotFoundError", "StoreError",
           "StoreLockedError", "ValidationError"]


class ConfigError(MotcuaError):
    """The configuration file or environment is invalid."""


class StoreError(MotcuaError):
    """The local dossier store cannot do what was asked."""


class StoreLockedError(StoreError):
    """The station key is not available yet (passphrase not entered)."""


class NotFoundError(StoreError):
    """A dossier, document or page does not exist."""


class IntegrityError(StoreError, _core.IntegrityError):
    """Stored data failed verification: corruption, truncation or tampering.

    Also a :class:`core.errors.IntegrityError`: the store raises it where the core's sealed formats
    do not open."""


class ValidationError(MotcuaError):
    """Input from a person or a file is malformed; names the field that is wrong."""

    def __init__(self, field: str, message: str, *, message_vi: str | None = None) -> None:
        super().__init__(f"{field}: {message}", message_vi=message_vi)
        self.field = field
        self.reason = message


class DeviceError(MotcuaError):
    """A peripheral failed or answered something unexpected."""
