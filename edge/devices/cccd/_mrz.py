"""MRZ check digits and the BAC key inputs (document number, birth date, expiry date).

These are typed by a clerk: Unicode decimal digits (full-width ``１``, Arabic-Indic ``١`` …) are
normalized to ASCII first, then only ASCII is accepted.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from dataclasses import dataclass

from core.codes import is_ascii_digits, normalize_digits
from edge.errors import ValidationError

_WEIGHTS = (7, 3, 1)
_DOC_RE = re.compile(r"[0-9A-Z<]{1,20}", re.ASCII)


def _value(ch: str) -> int:
    if "0" <= ch <= "9":
        return ord(ch) - 48
    if "A" <= ch <= "Z":
        return ord(ch) - 55
    if ch == "<":
        return 0
    raise ValueError(f"character {ch!r} is not allowed in an MRZ")


def check_digit(text: str) -> str:
    return str(sum(_value(c) * _WEIGHTS[i % 3] for i, c in enumerate(text)) % 10)


def _yymmdd(field: str, value: str, label_vi: str) -> str:
    value = normalize_digits((value or "").strip())
    if not is_ascii_digits(value, 6):
        raise ValidationError(field, "must be 6 digits YYMMDD", message_vi=f"{label_vi} phải gồm 6 chữ số dạng NNTTNN (năm-tháng-ngày).")
    try:
        dt.date(2000 + int(value[:2]), int(value[2:4]), int(value[4:]))
    except ValueError:
        raise ValidationError(field, "is not a date YYMMDD", message_vi=f"{label_vi} không phải ngày hợp lệ.") from None
    return value


@dataclass(frozen=True, slots=True, kw_only=True)
class MrzKey:
    """What BAC needs, as typed by a clerk: document number, date of birth, date of expiry.

    A CCCD's MRZ document number is 9 characters; a 12-digit ID number given instead is reduced
    to its last 9 digits (the convention of public CCCD readers; pass the MRZ value when unsure).
    """

    document_number: str
    date_of_birth: str   # YYMMDD
    date_of_expiry: str  # YYMMDD

    @classmethod
    def from_fields(cls, document_number: str, date_of_birth: str, date_of_expiry: str) -> MrzKey:
        doc = normalize_digits((document_number or "").strip()).replace(" ", "")
        doc = doc.upper() if doc.isascii() else "\ufffd"  # "ß".upper() is "SS": refuse, do not transliterate
        if is_ascii_digits(doc, 12):
            doc = doc[-9:]
        if not _DOC_RE.fullmatch(doc):
            raise ValidationError("document_number", "must be 1-20 characters 0-9 A-Z", message_vi="Số giấy tờ (MRZ) không hợp lệ.")
        return cls(document_number=doc,
                   date_of_birth=_yymmdd("date_of_birth", date_of_birth, "Ngày sinh"),
                   date_of_expiry=_yymmdd("date_of_expiry", date_of_expiry, "Ngày hết hạn"))

    def mrz_information(self) -> str:
        doc = self.document_number.ljust(9, "<")
        return (doc + check_digit(doc) + self.date_of_birth + check_digit(self.date_of_birth)
                + self.date_of_expiry + check_digit(self.date_of_expiry))

    def key_seed(self) -> bytes:
        return hashlib.sha1(self.mrz_information().encode("ascii")).digest()[:16]


def validate_can(can: str) -> str:
    """The 6-digit card access number, as ASCII digits."""
    can = normalize_digits(can.strip()) if isinstance(can, str) else ""
    if not is_ascii_digits(can, 6):
        raise ValidationError("can", "must be 6 digits", message_vi="Mã CAN phải gồm đúng 6 chữ số (6 số cuối của số CCCD).")
    return can
