"""Data groups: EF.COM, DG1 (TD1 MRZ) and the Vietnamese DG13."""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from dataclasses import dataclass

from asn1crypto import core

from . import _tlv
from ._errors import CardProtocolError
from ._mrz import check_digit

# DG13 field numbers (REFERENCE.md "CCCD card"). The old ID sits at 15 on most cards; some
# readers see it at 16: the reader takes the index as a parameter (old_id_field).
DG13_FIELDS = {
    1: "id_number", 2: "full_name", 3: "date_of_birth", 4: "gender", 5: "nationality",
    6: "ethnicity", 7: "religion", 8: "place_of_origin", 9: "place_of_residence",
    10: "identifying_marks", 11: "issue_date", 12: "expiry_date", 13: "parents", 14: "spouse",
}


@dataclass(frozen=True, slots=True, kw_only=True)
class Mrz:
    """A TD1 machine-readable zone (3 lines of 30), check digits verified."""

    document_code: str
    issuing_state: str
    document_number: str
    optional_data_1: str
    date_of_birth: str   # YYMMDD
    sex: str
    date_of_expiry: str  # YYMMDD
    nationality: str
    optional_data_2: str
    names: str
    checks_ok: bool

    @property
    def id_number(self) -> str:
        """The 12-digit CCCD number, which Vietnamese cards carry in the optional data."""
        found = re.search(r"[0-9]{12}", self.optional_data_1.replace("<", ""))
        return found.group(0) if found else ""


@dataclass(frozen=True, slots=True, kw_only=True)
class Dg13:
    """The Vietnam-specific data group; values NFC-normalised, keyed by name and by number."""

    version: int
    fields: dict[int, tuple[str, ...]]
    old_id_field: int = 15

    def get(self, number: int) -> str:
        values = self.fields.get(number, ())
        return values[0] if values else ""

    def named(self) -> dict[str, str | list[str]]:
        out: dict[str, str | list[str]] = {}
        for number, name in DG13_FIELDS.items():
            values = self.fields.get(number, ())
            if name in ("parents",):
                out["father_name"] = values[0] if values else ""
                out["mother_name"] = values[1] if len(values) > 1 else ""
            else:
                out[name] = values[0] if values else ""
        out["old_id_number"] = self.get(self.old_id_field)
        return out


def parse_dg1(data: bytes) -> Mrz:
    outer = _tlv.expect(data, 0x61, what="DG1")
    inner = _tlv.find(_tlv.parse_all(outer.value, what="DG1"), 0x5F1F)
    if inner is None:
        raise CardProtocolError("DG1 has no MRZ (tag 5F1F)")
    try:
        text = inner.value.decode("ascii")
    except UnicodeDecodeError:
        raise CardProtocolError("DG1 MRZ is not ASCII") from None
    if len(text) != 90 or not re.fullmatch(r"[0-9A-Z<]{90}", text):
        raise CardProtocolError(f"DG1 MRZ has {len(text)} characters or foreign ones; only TD1 (90) is read")
    l1, l2, l3 = text[:30], text[30:60], text[60:]
    checks = [
        (l1[5:14], l1[14]), (l2[0:6], l2[6]), (l2[8:14], l2[14]),
        (l1[5:30] + l2[0:7] + l2[8:15] + l2[18:29], l2[29]),
    ]
    ok = all(check_digit(value) == digit for value, digit in checks)
    return Mrz(document_code=l1[0:2].rstrip("<"), issuing_state=l1[2:5], document_number=l1[5:14].rstrip("<"),
               optional_data_1=l1[15:30], date_of_birth=l2[0:6], sex=l2[7], date_of_expiry=l2[8:14],
               nationality=l2[15:18], optional_data_2=l2[18:29], names=l3.rstrip("<").replace("<<", ", ").replace("<", " "),
               checks_ok=ok)


_STRING_TAGS = {0x0C, 0x12, 0x13, 0x14, 0x16, 0x1A, 0x1E}  # UTF8, Numeric, Printable, T61, IA5, Visible, BMP


def _integer(item: _tlv.Tlv) -> int | None:
    if item.tag != 0x02:
        return None
    return core.Integer.load(item.encoded, strict=True).native


def _strings(item: _tlv.Tlv, depth: int = 0) -> tuple[str, ...]:
    """Every text under one DG13 field value (a string, or nested SEQUENCEs of strings)."""
    if depth > 4:
        raise ValueError("DG13 nests too deep")
    if item.tag in (0x30, 0x31):
        out: list[str] = []
        for child in _tlv.parse_all(item.value, what="DG13"):
            out.extend(_strings(child, depth + 1))
        return tuple(out)
    if item.tag in _STRING_TAGS:
        text = core.load(item.encoded, strict=True).native if item.tag == 0x1E else item.value.decode("utf-8")
        return (unicodedata.normalize("NFC", text).strip(),)
    if item.tag == 0x02:
        return (str(_integer(item)),)
    return ()


def parse_dg13(data: bytes, *, old_id_field: int = 15) -> Dg13:
    outer = _tlv.expect(data, 0x6D, what="DG13")
    try:
        seq = _tlv.expect(outer.value, 0x30, what="DG13")
        items = _tlv.parse_all(seq.value, what="DG13")
        if len(items) < 3 or items[0].tag != 0x02 or items[1].tag != 0x06:
            raise ValueError("body is not SEQUENCE{INTEGER version, OID, SET}")
        version = _integer(items[0])
        fields: dict[int, tuple[str, ...]] = {}
        for container in items[2:]:
            if container.tag not in (0x30, 0x31):
                continue
            for entry in _tlv.parse_all(container.value, what="DG13"):
                parts = _tlv.parse_all(entry.value, what="DG13") if entry.tag == 0x30 else []
                number = _integer(parts[0]) if parts else None
                if number is None:
                    raise ValueError("a field is not SEQUENCE{INTEGER, value}")
                values: tuple[str, ...] = ()
                for part in parts[1:]:
                    values += _strings(part)
                if 1 <= number <= 32:
                    fields[number] = values
    except (ValueError, TypeError, UnicodeDecodeError) as exc:
        raise CardProtocolError(f"DG13 is malformed: {exc}") from None
    return Dg13(version=version or 0, fields=fields, old_id_field=old_id_field)


def parse_com(data: bytes) -> tuple[int, ...]:
    """The data-group tags EF.COM lists (tag 5C)."""
    outer = _tlv.expect(data, 0x60, what="EF.COM")
    tags = _tlv.find(_tlv.parse_all(outer.value, what="EF.COM"), 0x5C)
    return tuple(tags.value) if tags else ()


def vn_date(text: str) -> str:
    """DG13 dates are dd/MM/yyyy (some cards ddMMyyyy); return ISO or the text unchanged.

    Card data: only ASCII digits make a date (anything else is left for the clerk to see)."""
    if not text.isascii():
        return text
    digits = re.sub(r"[^0-9]", "", text)
    if len(digits) == 8:
        try:
            return dt.date(int(digits[4:]), int(digits[2:4]), int(digits[:2])).isoformat()
        except ValueError:
            return text
    return text
