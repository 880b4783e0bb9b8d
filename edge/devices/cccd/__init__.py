"""CCCD (Vietnamese citizen ID card): QR payload parsing and chip reading (ICAO 9303)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from core.lazy import lazy_exports

if TYPE_CHECKING:
    from ._apdu import Transport
    from ._dg import Dg13, Mrz, parse_dg1, parse_dg13
    from ._emrtd import EMRTD_AID, EmrtdSession
    from ._errors import (
        AccessDeniedError,
        CanRejectedError,
        CardProtocolError,
        CardRemovedError,
        CccdError,
        CccdQrError,
        NoCardError,
        NoReaderError,
        NotSupportedError,
        UnknownCardError,
    )
    from ._mrz import MrzKey, check_digit, validate_can
    from ._pace import PaceInfo, PacePassword, pace_protocols, parse_card_access
    from ._qr import CccdQrData, classify_qr, parse_cccd_qr, parse_receipt_qr
    from ._reader import (
        CardEvent,
        CardEvents,
        CardReadResult,
        PcscTransport,
        list_readers,
        read_card,
    )
    from ._sod import PassiveAuthResult, load_csca_dir, parse_sod, passive_authentication

_LAZY: dict[str, tuple[str, str | None]] = {
    "Transport": ("._apdu", "Transport"),
    "Dg13": ("._dg", "Dg13"),
    "Mrz": ("._dg", "Mrz"),
    "parse_dg1": ("._dg", "parse_dg1"),
    "parse_dg13": ("._dg", "parse_dg13"),
    "EMRTD_AID": ("._emrtd", "EMRTD_AID"),
    "EmrtdSession": ("._emrtd", "EmrtdSession"),
    "AccessDeniedError": ("._errors", "AccessDeniedError"),
    "CanRejectedError": ("._errors", "CanRejectedError"),
    "CardProtocolError": ("._errors", "CardProtocolError"),
    "CardRemovedError": ("._errors", "CardRemovedError"),
    "CccdError": ("._errors", "CccdError"),
    "CccdQrError": ("._errors", "CccdQrError"),
    "NoCardError": ("._errors", "NoCardError"),
    "NoReaderError": ("._errors", "NoReaderError"),
    "NotSupportedError": ("._errors", "NotSupportedError"),
    "UnknownCardError": ("._errors", "UnknownCardError"),
    "MrzKey": ("._mrz", "MrzKey"),
    "check_digit": ("._mrz", "check_digit"),
    "validate_can": ("._mrz", "validate_can"),
    "PaceInfo": ("._pace", "PaceInfo"),
    "PacePassword": ("._pace", "PacePassword"),
    "pace_protocols": ("._pace", "pace_protocols"),
    "parse_card_access": ("._pace", "parse_card_access"),
    "CccdQrData": ("._qr", "CccdQrData"),
    "classify_qr": ("._qr", "classify_qr"),
    "parse_cccd_qr": ("._qr", "parse_cccd_qr"),
    "parse_receipt_qr": ("._qr", "parse_receipt_qr"),
    "CardEvent": ("._reader", "CardEvent"),
    "CardEvents": ("._reader", "CardEvents"),
    "CardReadResult": ("._reader", "CardReadResult"),
    "PcscTransport": ("._reader", "PcscTransport"),
    "list_readers": ("._reader", "list_readers"),
    "read_card": ("._reader", "read_card"),
    "PassiveAuthResult": ("._sod", "PassiveAuthResult"),
    "load_csca_dir": ("._sod", "load_csca_dir"),
    "parse_sod": ("._sod", "parse_sod"),
    "passive_authentication": ("._sod", "passive_authentication"),
}

__all__ = [
    "EMRTD_AID", "AccessDeniedError", "CanRejectedError", "CardEvent", "CardEvents",
    "CardProtocolError", "CardReadResult", "CardRemovedError", "CccdError", "CccdQrData",
    "CccdQrError", "Dg13", "EmrtdSession", "Mrz", "MrzKey", "NoCardError", "NoReaderError",
    "NotSupportedError", "PaceInfo", "PacePassword", "PassiveAuthResult", "PcscTransport", "Transport", "UnknownCardError",
    "check_digit", "classify_qr", "list_readers", "load_csca_dir", "parse_cccd_qr", "parse_dg1",
    "pace_protocols", "parse_card_access", "parse_dg13", "parse_receipt_qr", "parse_sod", "passive_authentication", "read_card",
    "validate_can",
]


# Names load on first use (PEP 562), so importing the package (or its _extension) is cheap.
__getattr__, __dir__ = lazy_exports(__name__, _LAZY)
