"""The receipt, form 01 "Giấy tiếp nhận hồ sơ và hẹn trả kết quả", as a PDF; and printing it.

Two copies (Liên 1: lưu, Liên 2: giao người nộp), each on its own A4 page, with a QR code of the
tracking link (which carries the dossier code) and a Code 39 barcode of the dossier code. The
PDF holds personal data: it is returned as bytes and sent to CUPS through ``lp``'s standard
input, never written to disk.

This module holds the receipt's data and its checks, and no reportlab: the drawing is ``_draw``'s,
which the daemon runs only in a short-lived helper process (``_helper``).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import re
import subprocess
import unicodedata
from dataclasses import dataclass
from xml.sax.saxutils import escape

from core import labels
from core.vntime import VN_TZ
from edge.errors import DeviceError, MotcuaError, ValidationError

log = logging.getLogger(__name__)

PAYMENT_VI = labels.PAYMENT_METHOD_VI


class ReceiptError(MotcuaError):
    """The receipt could not be rendered (e.g. the font is missing)."""


class PrintError(DeviceError):
    """The printer (CUPS ``lp``) refused or failed the job."""

@dataclass(frozen=True, slots=True, kw_only=True)
class ReceiptComponent:
    """A paper the applicant handed over."""

    name: str
    kind: str  # original | certified_copy | photocopy
    count: int = 1


@dataclass(frozen=True, slots=True, kw_only=True)
class ReceiptData:
    """Everything printed on the receipt."""

    agency_name: str
    station_name: str
    code: str
    applicant_name: str
    procedure_name: str
    received_at: dt.datetime
    due_at: dt.datetime
    processing_time: str  # e.g. "5 ngày làm việc"
    result_place: str
    clerk_name: str
    station_address: str = ""
    place: str = ""  # place name of the date line, e.g. "Hà Nội"
    applicant_address: str = ""
    applicant_phone: str = ""
    applicant_email: str = ""
    procedure_code: str = ""
    components: tuple[ReceiptComponent, ...] = ()
    sets: int = 1
    fee_amount: int = 0
    fee_paid_method: str = ""  # "" (not paid yet) | cash | vietqr
    fee_receipt_number: str = ""
    vietqr_payload: str | None = None
    tracking_url: str = ""
    register_book: str = ""
    register_number: str = ""


def receipt_qr_payload(code: str, tracking_url: str) -> str:
    """What the receipt's QR code holds: the tracking link ending with the code (or the code)."""
    return f"{tracking_url}{code}" if tracking_url else code


_CODE_IN_TEXT = re.compile(r"(\d{3}\.\d{2}\.\d{2}\.[A-Z]\d{2}-\d{6}-\d{4,})")


def code_from_scan(text: str) -> str:
    """The dossier code from a scanned receipt QR (tracking link) or barcode (the bare code)."""
    match = _CODE_IN_TEXT.search(text.strip())
    if not match:
        raise ValidationError("code", "no dossier code in the scanned text",
                              message_vi="Không đọc được mã hồ sơ từ mã quét.")
    return match.group(1)


def _t(text: str) -> str:
    return escape(unicodedata.normalize("NFC", text or ""))


def _check_text(r, names: tuple[str, ...]) -> None:
    for name in names:
        if not str(getattr(r, name) or "").strip():
            raise ValidationError(name, "is required on the form",
                                  message_vi=f"Thiếu thông tin '{name}' để in phiếu.")


def check_receipt(r: ReceiptData) -> ReceiptData:
    """The receipt as it will be drawn (times in Vietnam time), or the clerk's error."""
    r = dataclasses.replace(r, received_at=vn_local(r.received_at), due_at=vn_local(r.due_at))
    for name in ("agency_name", "station_name", "code", "applicant_name", "procedure_name", "clerk_name"):
        if not str(getattr(r, name) or "").strip():
            raise ValidationError(name, "is required on the receipt",
                                  message_vi=f"Thiếu thông tin '{name}' để in giấy hẹn.")
    if r.due_at < r.received_at:
        raise ValidationError("due_at", "is before received_at", message_vi="Ngày hẹn trả trước ngày nhận hồ sơ.")
    if r.sets < 1 or r.fee_amount < 0:
        raise ValidationError("sets", "sets must be ≥ 1 and the fee ≥ 0", message_vi="Số bộ hồ sơ hoặc lệ phí không hợp lệ.")
    return r


def vn_local(moment: dt.datetime) -> dt.datetime:
    """An aware moment as Vietnam's wall-clock time (naive); a naive one as it is."""
    return moment.astimezone(VN_TZ).replace(tzinfo=None) if moment.tzinfo else moment


def print_pdf(pdf_bytes: bytes, printer: str, *, title: str = "receipt", timeout: float = 60) -> str:
    """Send a PDF to CUPS through ``lp -d PRINTER -`` (stdin); returns lp's job message."""
    if not printer or not re.fullmatch(r"[A-Za-z0-9_.@:/-]{1,127}", printer):
        raise PrintError(f"invalid printer name {printer!r}", message_vi="Tên máy in không hợp lệ.")
    if not pdf_bytes.startswith(b"%PDF"):
        raise PrintError("refusing to print: not a PDF", message_vi="Dữ liệu in không phải tệp PDF.")
    try:
        done = subprocess.run(["lp", "-d", printer, "-t", title, "-"], input=pdf_bytes,
                              capture_output=True, timeout=timeout, check=False)
    except FileNotFoundError:
        raise PrintError("lp is not installed (cups-client)", message_vi="Máy chưa cài đặt dịch vụ in (CUPS).") from None
    except subprocess.TimeoutExpired:
        raise PrintError(f"lp did not answer within {timeout:g} s", message_vi="Máy in không phản hồi.") from None
    if done.returncode != 0:
        detail = done.stderr.decode("utf-8", "replace").strip() or f"exit status {done.returncode}"
        raise PrintError(f"printing on {printer} failed: {detail}",
                         message_vi=f"In giấy hẹn trên máy in {printer} không thành công.")
    message = done.stdout.decode("utf-8", "replace").strip()
    log.info("receipt sent to printer %s: %s", printer, message)
    return message

