"""Errors of the device layer: each carries a Vietnamese message for the clerk."""

from __future__ import annotations

from edge.errors import DeviceError


class ScannerError(DeviceError):
    """A scanner could not scan: no paper, jam, cover open, busy, gone, or SANE is missing."""

    def __init__(self, message: str, *, message_vi: str | None = None, status: str = "error",
                 pages_done: int = 0) -> None:
        super().__init__(message, message_vi=message_vi)
        self.status = status
        self.pages_done = pages_done


class QrReadError(DeviceError):
    """A QR scanner sent something that is not a usable payload, or the device failed."""
