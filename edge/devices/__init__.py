"""Peripherals: device registry, scanners, CCCD QR and chip readers."""

from ._errors import QrReadError, ScannerError
from ._keymap import LineAssembler
from ._model import DeviceEvent, DeviceKind, DeviceRecord, DeviceStatus, DriverStatus
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
from ._udev import QrMatcher, UdevInfo, classify

__all__ = [
    "DeviceEvent",
    "DeviceKind",
    "DeviceManager",
    "DeviceRecord",
    "DeviceStatus",
    "DriverStatus",
    "LineAssembler",
    "QrMatcher",
    "QrReadError",
    "QrWedgeReader",
    "SaneDevice",
    "ScanProgress",
    "ScanRequest",
    "ScanResult",
    "ScannerError",
    "ScannerOptions",
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
