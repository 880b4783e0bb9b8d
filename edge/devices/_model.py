"""Records of the device layer: frozen, slotted, keyword-only dataclasses."""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class DeviceKind(StrEnum):
    SCANNER = "scanner"
    QR_SCANNER = "qr_scanner"
    CARD_READER = "card_reader"
    PRINTER = "printer"
    SIGNING_TOKEN = "signing_token"  # the unit's PKCS#11 token (ký số), listed by edge.app's lister


class DeviceStatus(StrEnum):
    READY = "ready"
    BUSY = "busy"
    ERROR = "error"
    ABSENT = "absent"


def utcnow() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


@dataclass(frozen=True, slots=True, kw_only=True)
class DeviceIdentity:
    """What a peripheral is: fixed for as long as it stays plugged in.

    ``id`` is stable across rescans: ``usb:VVVV:PPPP:SERIAL`` (or the sysfs path when the device
    has no serial), ``sane:NAME`` for scanners seen only through SANE (network, eSCL, virtual),
    ``pcsc:READER`` for PC/SC readers. ``name`` is what a driver opens: the SANE device name, the
    PC/SC reader name, or the input event node.
    """

    id: str
    kind: DeviceKind
    vendor: str = ""
    model: str = ""
    serial: str = ""
    dev_path: str = ""
    name: str = ""
    transport: str = ""  # usb / network / virtual
    source: str = ""  # udev / sane / pcsc
    properties: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class DeviceState:
    """How a peripheral is doing now: the part the registry changes (busy, error, gone)."""

    status: DeviceStatus = DeviceStatus.READY
    last_seen: str = ""
    last_error: str = ""

    def same_as(self, other: DeviceState) -> bool:
        """Equal in everything but the time it was last seen."""
        return (self.status, self.last_error) == (other.status, other.last_error)


_IDENTITY_FIELDS = tuple(f.name for f in dataclasses.fields(DeviceIdentity))
_STATE_FIELDS = tuple(f.name for f in dataclasses.fields(DeviceState))


@dataclass(frozen=True, slots=True, kw_only=True)
class DeviceRecord:
    """One peripheral as the registry reports it: its identity and its current state together
    (a snapshot; see :class:`DeviceIdentity` and :class:`DeviceState`)."""

    id: str
    kind: DeviceKind
    vendor: str = ""
    model: str = ""
    serial: str = ""
    dev_path: str = ""
    name: str = ""
    transport: str = ""  # usb / network / virtual
    source: str = ""  # udev / sane / pcsc
    status: DeviceStatus = DeviceStatus.READY
    last_seen: str = ""
    last_error: str = ""
    properties: tuple[tuple[str, str], ...] = ()

    @classmethod
    def of(cls, identity: DeviceIdentity, state: DeviceState) -> DeviceRecord:
        return cls(**{k: getattr(identity, k) for k in _IDENTITY_FIELDS},
                   **{k: getattr(state, k) for k in _STATE_FIELDS})

    @property
    def identity(self) -> DeviceIdentity:
        return DeviceIdentity(**{k: getattr(self, k) for k in _IDENTITY_FIELDS})

    @property
    def state(self) -> DeviceState:
        return DeviceState(**{k: getattr(self, k) for k in _STATE_FIELDS})

    def same_as(self, other: DeviceRecord) -> bool:
        """Equal in everything but the time it was last seen."""
        mine, theirs = self.identity, other.identity
        return (dataclasses.replace(mine, source="") == dataclasses.replace(theirs, source="")
                and self.state.same_as(other.state))

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": str(self.kind),
            "vendor": self.vendor,
            "model": self.model,
            "serial": self.serial,
            "dev_path": self.dev_path,
            "name": self.name,
            "transport": self.transport,
            "source": self.source,
            "status": str(self.status),
            "last_seen": self.last_seen,
            "last_error": self.last_error,
            "properties": dict(self.properties),
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class DriverStatus:
    """Health of one enumeration source (udev, sane, pcsc): a broken one is reported here."""

    name: str
    ok: bool
    error: str = ""
    checked_at: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class DeviceEvent:
    """What subscribers receive.

    ``type`` is one of ``added``, ``removed``, ``changed`` (with ``device``), ``cccd_scanned`` and
    ``receipt_scanned`` (with ``data``, personal: never log it), ``qr_error`` (with ``error`` and
    ``error_vi``) and ``scan_progress`` (with ``data``).
    """

    type: str
    device: DeviceRecord | None = None
    data: Any = None
    error: str = ""
    error_vi: str = ""
    at: str = field(default_factory=utcnow)

    def to_dict(self) -> dict[str, Any]:
        data = self.data
        if hasattr(data, "to_dict"):
            data = data.to_dict()
        elif dataclasses.is_dataclass(data) and not isinstance(data, type):
            data = dataclasses.asdict(data)
        return {
            "type": self.type,
            "device": self.device.to_dict() if self.device else None,
            "data": data,
            "error": self.error,
            "error_vi": self.error_vi,
            "at": self.at,
        }
