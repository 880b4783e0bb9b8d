"""Sealed transfers by USB stick (docs/sync-protocol.md §14), the box side.

``export_transfer`` writes the box's unconfirmed dossiers to a stick, sealed to the city as they
would be uploaded; ``import_stick`` on any enrolled box forwards another station's transfer to the
hub (the relay, unable to read it) or applies a receipts stick; ``write_receipts_stick`` carries
the receipts the relay got back. ``find_sticks`` / ``mounted_stick`` see a USB stick through udev
and mount it read-write without a desktop.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from core.lazy import lazy_exports

if TYPE_CHECKING:
    from ._config import TransferConfig
    from ._errors import TransferError
    from ._export import ExportReport, export_transfer
    from ._import import ImportReport, apply_receipts, import_stick, import_stick_async
    from ._receipts import write_receipts_stick
    from ._stick import Mounter, StickDevice, find_sticks, mounted_stick, stick_from_udev
    from ._watch import StickWatcher

_LAZY: dict[str, tuple[str, str | None]] = {
    "TransferConfig": ("._config", "TransferConfig"),
    "TransferError": ("._errors", "TransferError"),
    "ExportReport": ("._export", "ExportReport"),
    "export_transfer": ("._export", "export_transfer"),
    "ImportReport": ("._import", "ImportReport"),
    "apply_receipts": ("._import", "apply_receipts"),
    "import_stick": ("._import", "import_stick"),
    "import_stick_async": ("._import", "import_stick_async"),
    "write_receipts_stick": ("._receipts", "write_receipts_stick"),
    "Mounter": ("._stick", "Mounter"),
    "StickDevice": ("._stick", "StickDevice"),
    "find_sticks": ("._stick", "find_sticks"),
    "mounted_stick": ("._stick", "mounted_stick"),
    "stick_from_udev": ("._stick", "stick_from_udev"),
    "StickWatcher": ("._watch", "StickWatcher"),
}

__all__ = ["ExportReport", "ImportReport", "Mounter", "StickDevice", "StickWatcher", "TransferConfig", "TransferError",
           "apply_receipts", "export_transfer", "find_sticks", "import_stick", "import_stick_async",
           "mounted_stick", "stick_from_udev", "write_receipts_stick"]

__getattr__, __dir__ = lazy_exports(__name__, _LAZY)
