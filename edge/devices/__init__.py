"""Peripherals: device registry, scanners, CCCD QR and chip readers."""

from __future__ import annotations

from typing import TYPE_CHECKING

from core.lazy import lazy_exports

if TYPE_CHECKING:
    from ._config import DevicesConfig
    from ._errors import QrReadError, ScannerError
    from ._keymap import LineAssembler
    from ._model import (
        DeviceEvent,
        DeviceIdentity,
        DeviceKind,
        DeviceRecord,
        DeviceState,
        DeviceStatus,
        DriverStatus,
    )
    from ._qr import QrWedgeReader, classify_payload
    from ._registry import DeviceManager
    from ._sane import SaneDevice, ScannerOptions, device_options, list_devices, parse_options
    from ._scan import (
        ScanProgress,
        ScanRequest,
        ScanResult,
        assemble_component_pdf,
        scan_to_store,
    )
    from ._scan_async import scan_events
    from ._sink import PageSink, StoredPage
    from ._udev import QrMatcher, UdevInfo, classify

_LAZY: dict[str, tuple[str, str | None]] = {
    "DevicesConfig": ("._config", "DevicesConfig"),
    "QrReadError": ("._errors", "QrReadError"),
    "ScannerError": ("._errors", "ScannerError"),
    "LineAssembler": ("._keymap", "LineAssembler"),
    "DeviceEvent": ("._model", "DeviceEvent"),
    "DeviceIdentity": ("._model", "DeviceIdentity"),
    "DeviceKind": ("._model", "DeviceKind"),
    "DeviceState": ("._model", "DeviceState"),
    "DeviceRecord": ("._model", "DeviceRecord"),
    "DeviceStatus": ("._model", "DeviceStatus"),
    "DriverStatus": ("._model", "DriverStatus"),
    "QrWedgeReader": ("._qr", "QrWedgeReader"),
    "classify_payload": ("._qr", "classify_payload"),
    "DeviceManager": ("._registry", "DeviceManager"),
    "SaneDevice": ("._sane", "SaneDevice"),
    "ScannerOptions": ("._sane", "ScannerOptions"),
    "device_options": ("._sane", "device_options"),
    "list_devices": ("._sane", "list_devices"),
    "parse_options": ("._sane", "parse_options"),
    "ScanProgress": ("._scan", "ScanProgress"),
    "ScanRequest": ("._scan", "ScanRequest"),
    "ScanResult": ("._scan", "ScanResult"),
    "assemble_component_pdf": ("._scan", "assemble_component_pdf"),
    "scan_to_store": ("._scan", "scan_to_store"),
    "scan_events": ("._scan_async", "scan_events"),
    "PageSink": ("._sink", "PageSink"),
    "StoredPage": ("._sink", "StoredPage"),
    "QrMatcher": ("._udev", "QrMatcher"),
    "UdevInfo": ("._udev", "UdevInfo"),
    "classify": ("._udev", "classify"),
}

__all__ = [
    "DeviceEvent",
    "DeviceIdentity",
    "DeviceKind",
    "DeviceManager",
    "DeviceRecord",
    "DeviceState",
    "DeviceStatus",
    "DevicesConfig",
    "DriverStatus",
    "LineAssembler",
    "PageSink",
    "QrMatcher",
    "QrReadError",
    "QrWedgeReader",
    "SaneDevice",
    "ScanProgress",
    "ScanRequest",
    "ScanResult",
    "ScannerError",
    "ScannerOptions",
    "StoredPage",
    "UdevInfo",
    "assemble_component_pdf",
    "classify",
    "classify_payload",
    "device_options",
    "list_devices",
    "parse_options",
    "scan_events",
    "scan_to_store",
]


# Names load on first use (PEP 562), so importing the package (or its _extension) is cheap.
__getattr__, __dir__ = lazy_exports(__name__, _LAZY)
