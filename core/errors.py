"""The one exception base of Trạm Một Cửa, and the errors of the core's sealed formats.

Every error raised on purpose derives from :class:`MotcuaError`; each layer (the box's
``edge.errors``, ``sync.errors``, provisioning's errors) keeps its own base deriving from it. Errors
a clerk may see carry a Vietnamese message in ``message_vi``; ``str(error)`` stays in English for
logs and IT staff.
"""

from __future__ import annotations


class MotcuaError(Exception):
    """Base of every error the appliance and the hub raise on purpose."""

    message_vi: str | None = None

    def __init__(self, message: str, *, message_vi: str | None = None) -> None:
        super().__init__(message)
        if message_vi is not None:
            self.message_vi = message_vi


class SealedError(MotcuaError):
    """Base of the errors of the sealed formats (city keys, sealed values, page streams, manifests)."""


class KeyFormatError(SealedError):
    """A city key (its JSON form) is malformed, of another kind or of an unsupported KEM."""


class IntegrityError(SealedError):
    """Sealed data does not open: wrong key, corruption, truncation or tampering."""
