"""VietQR (NAPAS, EMVCo merchant-presented QR): build, parse and verify payloads.

The payload is a string of TLV fields (2-digit id, 2-digit length, value) ending with field
``63``: CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF) over everything before it including
``6304``, as 4 uppercase hex digits. ``binascii.crc_hqx(data, 0xFFFF)`` is exactly that CRC.
"""

from __future__ import annotations

import binascii
import io
import re
import unicodedata
from dataclasses import dataclass

from edge.errors import ValidationError

NAPAS_GUID = "A000000727"
SERVICE_ACCOUNT = "QRIBFTTA"  # transfer to an account
SERVICE_CARD = "QRIBFTTC"  # transfer to a card
DEFAULT_PURPOSE_MAX = 25  # EMVCo field 62.08 is ans..25; some banks accept up to 50

_BIN_RE = re.compile(r"^\d{6}$")
_ACCOUNT_RE = re.compile(r"^[0-9A-Za-z]{1,19}$")
_PURPOSE_OK = re.compile(r"^[A-Za-z0-9 .,:;/_+()\-#]*$")


class VietQRError(ValidationError):
    """A VietQR payload or one of its fields is malformed."""


def crc16(data: str | bytes) -> str:
    """CRC-16/CCITT-FALSE of ``data`` as 4 uppercase hex digits."""
    raw = data.encode("utf-8") if isinstance(data, str) else data
    return f"{binascii.crc_hqx(raw, 0xFFFF):04X}"


def fold_purpose(text: str, *, max_length: int = DEFAULT_PURPOSE_MAX) -> str:
    """Vietnamese text folded to what banks accept: ASCII, no diacritics, đ → d, single spaces."""
    text = unicodedata.normalize("NFD", text).replace("đ", "d").replace("Đ", "D")
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    text = "".join(ch if _PURPOSE_OK.match(ch) else " " for ch in text)
    text = " ".join(text.split())
    if len(text) > max_length:
        raise VietQRError("purpose", f"is {len(text)} characters after folding, at most {max_length} allowed",
                          message_vi=f"Nội dung chuyển khoản dài quá {max_length} ký tự.")
    return text


def _tlv(tag: str, value: str) -> str:
    if len(value) > 99:
        raise VietQRError(f"tag {tag}", "value longer than 99 characters",
                          message_vi="Một trường của mã VietQR quá dài.")
    return f"{tag}{len(value):02d}{value}"


@dataclass(frozen=True, slots=True, kw_only=True)
class VietQR:
    """The fields of a VietQR transfer request."""

    bin: str
    account: str
    amount: int | None
    purpose: str
    service: str = SERVICE_ACCOUNT

    @property
    def dynamic(self) -> bool:
        return self.amount is not None


def _check_fields(bank_bin: str, account: str, amount: int | None, service: str) -> None:
    if not isinstance(bank_bin, str) or not _BIN_RE.match(bank_bin):
        raise VietQRError("bin", f"must be 6 digits, got {bank_bin!r}", message_vi="Mã BIN ngân hàng phải gồm 6 chữ số.")
    if not isinstance(account, str) or not _ACCOUNT_RE.match(account):
        raise VietQRError("account", "must be 1-19 letters or digits",
                          message_vi="Số tài khoản phải gồm 1–19 chữ số hoặc chữ cái.")
    if amount is not None and (isinstance(amount, bool) or not isinstance(amount, int) or amount <= 0
                               or len(str(amount)) > 13):
        raise VietQRError("amount", f"must be a positive whole number of VND, got {amount!r}",
                          message_vi="Số tiền phải là số nguyên dương (đồng).")
    if service not in (SERVICE_ACCOUNT, SERVICE_CARD):
        raise VietQRError("service", f"must be {SERVICE_ACCOUNT} or {SERVICE_CARD}",
                          message_vi="Loại dịch vụ VietQR không hợp lệ.")


def build_vietqr(*, bank_bin: str, account: str, amount: int | None, purpose: str = "",
                 service: str = SERVICE_ACCOUNT, max_purpose: int = DEFAULT_PURPOSE_MAX) -> str:
    """The payload string: dynamic (``01``=12) with an amount, static (``11``) without one."""
    _check_fields(bank_bin, account, amount, service)
    folded = fold_purpose(purpose, max_length=max_purpose) if purpose else ""
    merchant = _tlv("00", NAPAS_GUID) + _tlv("01", _tlv("00", bank_bin) + _tlv("01", account)) + _tlv("02", service)
    body = _tlv("00", "01") + _tlv("01", "12" if amount is not None else "11") + _tlv("38", merchant) + _tlv("53", "704")
    if amount is not None:
        body += _tlv("54", str(amount))
    body += _tlv("58", "VN")
    if folded:
        body += _tlv("62", _tlv("08", folded))
    body += "6304"
    return body + crc16(body)


def _parse_tlv(text: str, where: str) -> dict[str, str]:
    fields: dict[str, str] = {}
    i = 0
    while i < len(text):
        head = text[i:i + 4]
        if len(head) < 4 or not head.isdigit():
            raise VietQRError(where, f"malformed TLV header at offset {i}: {head!r}",
                              message_vi="Mã VietQR không đúng định dạng.")
        tag, length = head[:2], int(head[2:])
        value = text[i + 4:i + 4 + length]
        if len(value) != length:
            raise VietQRError(where, f"field {tag} is truncated (wants {length} characters)",
                              message_vi="Mã VietQR bị cắt cụt.")
        if tag in fields:
            raise VietQRError(where, f"field {tag} appears twice", message_vi="Mã VietQR có trường bị lặp.")
        fields[tag] = value
        i += 4 + length
    return fields


def parse_vietqr(payload: str) -> VietQR:
    """Parse and verify a payload (CRC, structure, NAPAS GUID, currency, country)."""
    if not isinstance(payload, str) or len(payload) < 12 or len(payload) > 512:
        raise VietQRError("payload", "is not a VietQR string", message_vi="Mã VietQR không hợp lệ.")
    if payload[-8:-4] != "6304":
        raise VietQRError("payload", "does not end with the CRC field 6304xxxx",
                          message_vi="Mã VietQR thiếu mã kiểm tra CRC.")
    expected = crc16(payload[:-4])
    if payload[-4:].upper() != expected:
        raise VietQRError("crc", f"CRC mismatch: payload says {payload[-4:]}, computed {expected}",
                          message_vi="Mã VietQR sai mã kiểm tra CRC (dữ liệu bị hỏng hoặc bị sửa).")
    fields = _parse_tlv(payload, "payload")
    if fields.get("00") != "01":
        raise VietQRError("00", "payload format indicator must be 01", message_vi="Mã VietQR sai phiên bản định dạng.")
    if fields.get("01") not in ("11", "12"):
        raise VietQRError("01", "initiation method must be 11 or 12", message_vi="Mã VietQR sai phương thức khởi tạo.")
    if "38" not in fields:
        raise VietQRError("38", "missing NAPAS merchant account field", message_vi="Mã VietQR thiếu thông tin tài khoản.")
    merchant = _parse_tlv(fields["38"], "38")
    if merchant.get("00") != NAPAS_GUID:
        raise VietQRError("38.00", f"GUID must be {NAPAS_GUID}", message_vi="Mã VietQR không phải của NAPAS.")
    beneficiary = _parse_tlv(merchant.get("01", ""), "38.01")
    if fields.get("53") != "704":
        raise VietQRError("53", "currency must be 704 (VND)", message_vi="Mã VietQR phải dùng đồng Việt Nam.")
    if fields.get("58") != "VN":
        raise VietQRError("58", "country must be VN", message_vi="Mã VietQR phải có mã quốc gia VN.")
    amount: int | None = None
    if "54" in fields:
        if not fields["54"].isdigit():
            raise VietQRError("54", f"amount {fields['54']!r} is not a whole number of VND",
                              message_vi="Số tiền trong mã VietQR không hợp lệ.")
        amount = int(fields["54"])
    if (fields["01"] == "12") != (amount is not None):
        raise VietQRError("01", "a dynamic code (12) needs an amount, a static one (11) has none",
                          message_vi="Mã VietQR không khớp giữa loại mã và số tiền.")
    purpose = _parse_tlv(fields["62"], "62").get("08", "") if "62" in fields else ""
    bank_bin, account = beneficiary.get("00", ""), beneficiary.get("01", "")
    service = merchant.get("02", "")
    _check_fields(bank_bin, account, amount, service)
    return VietQR(bin=bank_bin, account=account, amount=amount, purpose=purpose, service=service)


def vietqr_png(payload: str, *, scale: int = 6) -> bytes:
    """The payload as a QR code PNG."""
    import segno

    buf = io.BytesIO()
    segno.make(payload, error="m", micro=False).save(buf, kind="png", scale=scale, border=4)
    return buf.getvalue()
