"""CCCD (Vietnamese citizen ID card): QR payload parsing and chip reading (ICAO 9303)."""

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
from ._reader import CardEvent, CardEvents, CardReadResult, PcscTransport, list_readers, read_card
from ._sod import PassiveAuthResult, load_csca_dir, parse_sod, passive_authentication

__all__ = [
    "EMRTD_AID", "AccessDeniedError", "CanRejectedError", "CardEvent", "CardEvents",
    "CardProtocolError", "CardReadResult", "CardRemovedError", "CccdError", "CccdQrData",
    "CccdQrError", "Dg13", "EmrtdSession", "Mrz", "MrzKey", "NoCardError", "NoReaderError",
    "NotSupportedError", "PaceInfo", "PacePassword", "PassiveAuthResult", "PcscTransport", "Transport", "UnknownCardError",
    "check_digit", "classify_qr", "list_readers", "load_csca_dir", "parse_cccd_qr", "parse_dg1",
    "pace_protocols", "parse_card_access", "parse_dg13", "parse_receipt_qr", "parse_sod", "passive_authentication", "read_card",
    "validate_can",
]
