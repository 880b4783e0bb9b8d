"""udev enumeration and classification: which device is a scanner, QR scanner or card reader.

Classification works on plain property mappings (:class:`UdevInfo`), so it is tested without
udev; :func:`enumerate_udev` feeds it from a ``pyudev.Context`` (umockdev in tests).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ._model import DeviceKind, DeviceRecord, DeviceStatus, utcnow

logger = logging.getLogger(__name__)

# USB vendors whose keyboard-wedge devices are barcode/QR scanners (Honeywell/Metrologic,
# Zebra/Symbol, Datalogic, Newland, Zebex, Netum/Winson-type generic scanners).
QR_VENDOR_IDS = frozenset({"0c2e", "05e0", "05f9", "1eab", "1a86:e026", "0536", "2dd6", "065a"})
_QR_NAME = re.compile(r"barcode|bar code|qr|scanner|2d imager|symbol|honeywell|newland|datalogic",
                      re.IGNORECASE)


@dataclass(frozen=True, slots=True, kw_only=True)
class UdevInfo:
    """What classification needs from one udev device."""

    sys_path: str
    subsystem: str
    device_type: str = ""
    device_node: str = ""
    properties: Mapping[str, str] = field(default_factory=dict)
    name: str = ""  # input devices: the parent's NAME / name attribute


@dataclass(frozen=True, slots=True, kw_only=True)
class QrMatcher:
    """``devices.qr_input_device``: comma-separated ``vvvv:pppp`` ids, device paths or names.

    Empty: only devices from known scanner vendors or with a scanner-like name are taken, never
    an ordinary keyboard.
    """

    ids: frozenset[str] = frozenset()
    paths: frozenset[str] = frozenset()
    names: tuple[str, ...] = ()

    @classmethod
    def parse(cls, spec: str) -> QrMatcher:
        ids, paths, names = set(), set(), []
        for raw in spec.split(","):
            item = raw.strip()
            if not item:
                continue
            if re.fullmatch(r"[0-9a-fA-F]{4}:[0-9a-fA-F]{4}", item):
                ids.add(item.lower())
            elif item.startswith("/"):
                paths.add(item)
            else:
                names.append(item.lower())
        return cls(ids=frozenset(ids), paths=frozenset(paths), names=tuple(names))

    @property
    def configured(self) -> bool:
        return bool(self.ids or self.paths or self.names)

    def matches(self, info: UdevInfo) -> bool:
        props = info.properties
        vid = props.get("ID_VENDOR_ID", "").lower()
        pid = props.get("ID_MODEL_ID", "").lower()
        name = (info.name or props.get("NAME", "")).strip('"')
        links = set(props.get("DEVLINKS", "").split())
        if self.configured:
            return (f"{vid}:{pid}" in self.ids
                    or bool(self.paths & ({info.device_node} | links))
                    or any(n in name.lower() for n in self.names))
        return vid in QR_VENDOR_IDS or f"{vid}:{pid}" in QR_VENDOR_IDS or bool(_QR_NAME.search(name))


def _clean(value: str) -> str:
    return value.replace("_", " ").replace("\\x20", " ").strip()


def _usb_id(props: Mapping[str, str], sys_path: str, prefix: str = "usb") -> str:
    vid = props.get("ID_VENDOR_ID", "").lower() or "0000"
    pid = props.get("ID_MODEL_ID", "").lower() or "0000"
    serial = props.get("ID_SERIAL_SHORT", "")
    return f"{prefix}:{vid}:{pid}:{serial or props.get('DEVPATH', sys_path)}"


def classify(info: UdevInfo, *, qr: QrMatcher, now: str | None = None) -> DeviceRecord | None:
    """A DeviceRecord for a peripheral this appliance uses, or None."""
    props = info.properties
    now = now or utcnow()
    common: dict[str, Any] = {
        "vendor": _clean(props.get("ID_VENDOR_FROM_DATABASE") or props.get("ID_VENDOR", "")),
        "model": _clean(props.get("ID_MODEL_FROM_DATABASE") or props.get("ID_MODEL", "")),
        "serial": props.get("ID_SERIAL_SHORT", ""),
        "source": "udev",
        "status": DeviceStatus.READY,
        "last_seen": now,
    }
    if info.subsystem == "usb" and (info.device_type or props.get("DEVTYPE")) == "usb_device":
        interfaces = props.get("ID_USB_INTERFACES", "")
        extra = (("busnum", props.get("BUSNUM", "")), ("devnum", props.get("DEVNUM", "")),
                 ("vendor_id", props.get("ID_VENDOR_ID", "")),
                 ("model_id", props.get("ID_MODEL_ID", "")))
        if props.get("libsane_matched") == "yes":
            kind = DeviceKind.SCANNER
        elif ":0b" in interfaces:  # CCID smart-card interface class
            kind = DeviceKind.CARD_READER
        elif ":0701" in interfaces:  # printer class
            kind = DeviceKind.PRINTER
        else:
            return None
        return DeviceRecord(id=_usb_id(props, info.sys_path), kind=kind,
                            dev_path=info.device_node or props.get("DEVNAME", ""),
                            transport="usb", properties=extra, **common)
    if info.subsystem == "input":
        node = info.device_node or props.get("DEVNAME", "")
        if not node.startswith("/dev/input/event") or props.get("ID_INPUT_KEYBOARD") != "1":
            return None
        if not qr.matches(info):
            return None
        if not common["model"] and info.name:
            common["model"] = info.name.strip('"')
        extra = (("vendor_id", props.get("ID_VENDOR_ID", "")),
                 ("model_id", props.get("ID_MODEL_ID", "")))
        return DeviceRecord(id=_usb_id(props, info.sys_path, prefix="input"),
                            kind=DeviceKind.QR_SCANNER, dev_path=node, name=node,
                            transport=props.get("ID_BUS", "usb"), properties=extra, **common)
    return None


def info_from_pyudev(device: Any) -> UdevInfo:
    props = {k: str(v) for k, v in device.properties.items()}
    name = ""
    if device.subsystem == "input":
        parent = device.parent
        if parent is not None and parent.subsystem == "input":
            name = parent.properties.get("NAME", "") or _attr(parent, "name")
    return UdevInfo(sys_path=device.sys_path, subsystem=device.subsystem or "",
                    device_type=device.device_type or "", device_node=device.device_node or "",
                    properties=props, name=name.strip('"'))


def _attr(device: Any, key: str) -> str:
    try:
        value = device.attributes.get(key)
    except (KeyError, OSError):
        return ""
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace").strip()
    return str(value or "")


def enumerate_udev(context: Any, *, qr: QrMatcher) -> list[DeviceRecord]:
    """All peripherals udev knows about (blocking: run in an executor)."""
    now = utcnow()
    records: list[DeviceRecord] = []
    for subsystem in ("usb", "input"):
        for device in context.list_devices(subsystem=subsystem):
            try:
                rec = classify(info_from_pyudev(device), qr=qr, now=now)
            except Exception:  # one odd device must not hide the others
                logger.exception("could not classify udev device %s", device.sys_path)
                continue
            if rec is not None:
                records.append(rec)
    return records


def watched_subsystems() -> Iterable[str]:
    return ("usb", "input")
