"""Fees: the quote at finalize, how it is (to be) paid, VietQR, a payment recorded afterwards."""

from __future__ import annotations

import datetime as dt
import io
import re
from typing import Any

from edge import reception
from edge.config import Settings
from edge.errors import ValidationError
from edge.store import Dossier, Store

FEE_METHODS = ("cash", "vietqr", "later")
_CASH_RE = re.compile(r"^[A-Za-z0-9./-]{1,40}$")


def vietqr_configured(settings: Settings) -> bool:
    return bool(settings.reception.vietqr_bin and settings.reception.vietqr_account)


def fee_quote(procedure: reception.Procedure, channel: str) -> reception.FeeQuote:
    try:
        return reception.quote_fee(procedure, channel)
    except ValidationError:
        return reception.quote_fee(procedure, "direct")


def fee_meta(settings: Settings, quote: reception.FeeQuote, data: Any, *, now: dt.datetime) -> dict[str, Any]:
    """What goes into the dossier meta at finalize: the quote, a cash payment, or the choice of
    VietQR (its payload is made once the code exists)."""
    if quote.total <= 0:
        return reception.fee_meta(quote)
    data = data if isinstance(data, dict) else {}
    method = data.get("method") or ""
    if method not in FEE_METHODS:
        raise ValidationError("fee_method", "choose cash, vietqr or later",
                              message_vi="Vui lòng chọn cách thu lệ phí: tiền mặt, VietQR hoặc thu sau.")
    if method == "cash":
        number = str(data.get("receipt_number") or "").strip()
        if not number:
            raise ValidationError("fee_receipt_number", "is required for a cash payment",
                                  message_vi="Vui lòng nhập số biên lai thu tiền mặt.")
        if not _CASH_RE.match(number):
            raise ValidationError("fee_receipt_number", "1-40 letters, digits, '.', '/', '-'",
                                  message_vi="Số biên lai chỉ gồm chữ, số và các ký tự . / - (tối đa 40 ký tự).")
        payment = reception.Payment(method="cash", amount=quote.total, paid_at=now, receipt_number=number)
        return reception.fee_meta(quote, payment)
    if method == "vietqr" and not vietqr_configured(settings):
        raise ValidationError("fee_method", "VietQR is not configured on this station",
                              message_vi="Trạm chưa cấu hình tài khoản nhận VietQR: vui lòng thu tiền mặt.")
    return {**reception.fee_meta(quote), "fee_method": method}


def vietqr_payload(settings: Settings, amount: int, code: str) -> str | None:
    if not vietqr_configured(settings) or amount <= 0:
        return None
    return reception.vietqr_for_fee(reception=settings.reception, amount=amount, code=code)


def qr_svg_document(payload: str) -> bytes:
    """A standalone SVG image of a QR code (error correction M, 4 px modules, quiet zone 4)."""
    import segno

    out = io.BytesIO()
    segno.make(payload, error="m").save(out, kind="svg", scale=4, border=4, xmldecl=True, title="VietQR")
    return out.getvalue()


def fee_status(dossier: Dossier) -> dict[str, Any]:
    """For the screens: amount, how it is (to be) paid, and whether it is paid."""
    meta = dossier.meta or {}
    total = int((meta.get("fee") or {}).get("total") or 0)
    payment = meta.get("payment")
    return {"total": total, "method": (payment or {}).get("method") or meta.get("fee_method") or "",
            "paid": bool(payment) or total == 0, "receipt_number": (payment or {}).get("receipt_number", ""),
            "vietqr_payload": meta.get("vietqr_payload")}


def record_payment(store: Store, dossier_id: str, *, actor: str, method: str, receipt_number: str = "") -> None:
    """After finalize: the citizen paid in cash (receipt number) or the VietQR transfer arrived."""
    def run(_conn: Any) -> None:
        dossier = store.get(dossier_id)
        status = fee_status(dossier)
        if status["paid"]:
            return
        now = store.now()
        if method == "cash":
            if not receipt_number or not _CASH_RE.match(receipt_number):
                raise ValidationError("fee_receipt_number", "is required for a cash payment",
                                      message_vi="Vui lòng nhập số biên lai thu tiền mặt (chữ, số, . / -).")
            payment = reception.Payment(method="cash", amount=status["total"], paid_at=now,
                                        receipt_number=receipt_number)
        elif method == "vietqr":
            payload = status["vietqr_payload"] or vietqr_payload(store.settings, status["total"], dossier.code or "")
            if not payload:
                raise ValidationError("fee_method", "VietQR is not configured",
                                      message_vi="Trạm chưa cấu hình tài khoản nhận VietQR.")
            payment = reception.Payment(method="vietqr", amount=status["total"], paid_at=now, payload=payload)
        else:
            raise ValidationError("fee_method", "choose cash or vietqr", message_vi="Vui lòng chọn tiền mặt hoặc VietQR.")
        reception.record_payment(store, dossier_id, payment, actor=actor, expected_amount=status["total"])

    store.write(run)
