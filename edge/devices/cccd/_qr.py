"""The QR printed on a CCCD card, and the dossier-code QR printed on our receipts.

CCCD QR (UTF-8, ``|``-separated, parsed by index; newer cards append more fields)::

    0 ID number (12 digits) | 1 old CMND (may be empty) | 2 full name | 3 birth ddMMyyyy
    | 4 gender | 5 permanent address | 6 issue date ddMMyyyy | ...

The numbers and dates of a card's QR are read with Unicode decimal digits (full-width …) taken as
ASCII, then only ASCII is accepted. A receipt's dossier code is printed by this system: ASCII only.
"""

from __future__ import annotations

import datetime as dt
import unicodedata
from dataclasses import dataclass
from urllib.parse import parse_qs, unquote, urlsplit

from core.codes import CodeError, is_ascii_digits, normalize_digits, parse_dossier_code

from ._errors import CccdQrError

MAX_PAYLOAD_CHARS = 1000
MIN_FIELDS = 7
MAX_FIELDS = 16
_GENDERS = {"nam": "Nam", "nữ": "Nữ", "nu": "Nữ", "khác": "Khác"}


@dataclass(frozen=True, slots=True, kw_only=True)
class CccdQrData:
    """Fields of a CCCD card's QR, NFC-normalised, dates in ISO format."""

    id_number: str
    old_id_number: str
    full_name: str
    date_of_birth: str
    gender: str
    address: str
    issue_date: str
    extra: tuple[str, ...] = ()

    def to_applicant(self) -> dict[str, str]:
        """The store's Applicant keys (edge.store Applicant.from_dict accepts this)."""
        return {
            "full_name": self.full_name,
            "id_number": self.id_number,
            "date_of_birth": self.date_of_birth,
            "gender": self.gender,
            "address": self.address,
            "old_id_number": self.old_id_number,
        }


def _err(field: str, message: str, message_vi: str) -> CccdQrError:
    return CccdQrError(field, message, message_vi=message_vi)


def _check_text(payload: object) -> str:
    if not isinstance(payload, str):
        raise _err("payload", "must be text", "Mã QR phải là chuỗi ký tự.")
    if len(payload) > MAX_PAYLOAD_CHARS:
        raise _err("payload", f"is longer than {MAX_PAYLOAD_CHARS} characters",
                   f"Mã QR quá dài (tối đa {MAX_PAYLOAD_CHARS} ký tự).")
    # Scanners acting as keyboards often end with Enter: strip line ends only at the edges.
    text = unicodedata.normalize("NFC", payload.strip("\r\n\t "))
    if not text:
        raise _err("payload", "is empty", "Mã QR rỗng.")
    for ch in text:
        if unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co", "Cn") and ch != "\u200d":
            raise _err("payload", f"contains a control character U+{ord(ch):04X}",
                       "Mã QR chứa ký tự điều khiển không hợp lệ.")
    return text


def _date(field: str, value: str, label_vi: str, *, required: bool = True) -> str:
    if not value and not required:
        return ""
    if not is_ascii_digits(value, 8):
        raise _err(field, "must be a date ddMMyyyy", f"{label_vi} trong mã QR phải có dạng ngày/tháng/năm (8 chữ số).")
    try:
        day = dt.date(int(value[4:]), int(value[2:4]), int(value[:2]))
    except ValueError:
        raise _err(field, "is not a calendar date", f"{label_vi} trong mã QR không phải ngày hợp lệ.") from None
    if day.year < 1900:
        raise _err(field, "is before 1900", f"{label_vi} trong mã QR không hợp lệ (trước năm 1900).")
    return day.isoformat()


def parse_cccd_qr(payload: str, *, today: dt.date | None = None) -> CccdQrData:
    """Parse a CCCD QR payload; raise :class:`CccdQrError` naming the faulty field."""
    text = _check_text(payload)
    parts = [p.strip() for p in text.split("|")]
    if len(parts) < MIN_FIELDS:
        raise _err("payload", f"has {len(parts)} fields, expected at least {MIN_FIELDS} (truncated?)",
                   "Mã QR thiếu thông tin (bị cắt ngắn hoặc không phải QR của thẻ CCCD). Hãy quét lại.")
    if len(parts) > MAX_FIELDS:
        raise _err("payload", f"has {len(parts)} fields, expected at most {MAX_FIELDS}",
                   "Mã QR có quá nhiều trường: không phải QR của thẻ CCCD.")
    id_number, old_id, name, dob, gender, address, issued = parts[:MIN_FIELDS]
    id_number, old_id, dob, issued = (normalize_digits(v) for v in (id_number, old_id, dob, issued))
    if not is_ascii_digits(id_number, 12):
        raise _err("id_number", "must be exactly 12 digits", "Số CCCD trong mã QR phải gồm đúng 12 chữ số.")
    if old_id and not (is_ascii_digits(old_id, 9) or is_ascii_digits(old_id, 12)):
        raise _err("old_id_number", "must be empty, 9 or 12 digits", "Số CMND cũ trong mã QR phải gồm 9 hoặc 12 chữ số.")
    if not name:
        raise _err("full_name", "is empty", "Họ và tên trong mã QR bị trống.")
    if len(name) > 200 or any(ch.isdigit() for ch in name):
        raise _err("full_name", "is not a name", "Họ và tên trong mã QR không hợp lệ.")
    birth = _date("date_of_birth", dob, "Ngày sinh")
    issue = _date("issue_date", issued, "Ngày cấp", required=False)
    today = today or dt.date.today()
    if birth > today.isoformat():
        raise _err("date_of_birth", "is in the future", "Ngày sinh trong mã QR ở tương lai.")
    if issue and issue < birth:
        raise _err("issue_date", "is before the date of birth", "Ngày cấp trong mã QR trước ngày sinh.")
    gender_norm = _GENDERS.get(gender.casefold())
    if gender and gender_norm is None:
        raise _err("gender", "must be Nam or Nữ", "Giới tính trong mã QR phải là Nam hoặc Nữ.")
    if len(address) > 500:
        raise _err("address", "is longer than 500 characters", "Địa chỉ trong mã QR quá dài.")
    return CccdQrData(id_number=id_number, old_id_number=old_id, full_name=name,
                      date_of_birth=birth, gender=gender_norm or "", address=address,
                      issue_date=issue, extra=tuple(parts[MIN_FIELDS:]))


def parse_receipt_qr(payload: str) -> str:
    """Return the dossier code of a receipt QR: the code alone, or a URL carrying it.

    Accepted: ``000.00.06.H56-231027-0361``, ``https://…/tra-cuu?ma=<code>`` or a URL whose path
    ends with the code. Raises :class:`CccdQrError` otherwise.
    """
    text = _check_text(payload)
    candidates = [text]
    if "://" in text:
        try:
            url = urlsplit(text)
        except ValueError:
            raise _err("payload", "is not a valid URL", "Mã QR không phải đường dẫn hợp lệ.") from None
        if url.scheme not in ("http", "https"):
            raise _err("payload", "URL scheme must be http(s)", "Mã QR chứa đường dẫn không hợp lệ.")
        candidates = [*parse_qs(url.query).get("ma", []), unquote(url.path.rstrip("/").rsplit("/", 1)[-1])]
    for candidate in candidates:
        try:
            return str(parse_dossier_code(candidate.strip()))
        except CodeError:
            continue
    raise _err("payload", "carries no dossier code <agency>-<yyMMdd>-<NNNN>",
               "Mã QR không chứa mã hồ sơ hợp lệ.")


def classify_qr(payload: str) -> CccdQrData | str:
    """A scanned QR is either a CCCD card (returns its data) or a receipt (returns the code)."""
    text = _check_text(payload)
    if "|" in text:
        return parse_cccd_qr(text)
    return parse_receipt_qr(text)
