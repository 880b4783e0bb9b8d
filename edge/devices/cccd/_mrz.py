"""MRZ check digits and the BAC key inputs (document number, birth date, expiry date)."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from dataclasses import dataclass

from edge.errors import ValidationError

_WEIGHTS = (7, 3, 1)
_DOC_RE = re.compile(r"[0-9A-Z<]{1,9}|[0-9A-Z<]{10,20}")


def _value(ch: str) -> int:
    if ch.isdigit():
        return int(ch)
    if "A" <= ch <= "Z":
        return ord(ch) - 55
    if ch == "<":
        return 0
    raise ValueError(f"character {ch!r} is not allowed in an MRZ")


def check_digit(text: str) -> str:
    return str(sum(_value(c) * _WEIGHTS[i % 3] for i, c in enumerate(text)) % 10)


def _yymmdd(field: str, value: str, label_vi: str) -> str:
    if not re.fullmatch(r"\d{6}", value or ""):
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
        doc = (document_number or "").strip().upper().replace(" ", "")
        if re.fullmatch(r"\d{12}", doc):
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
    can = (can or "").strip()
    if not re.fullmatch(r"\d{6}", can):
        raise ValidationError("can", "must be 6 digits", message_vi="Mã CAN phải gồm đúng 6 chữ số (6 số cuối của số CCCD).")
    return can
