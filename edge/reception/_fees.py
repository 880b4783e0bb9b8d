"""Fees (phí, lệ phí): the amount from the catalog, and the payment record of a dossier.

A payment is non-personal (method, amount, time, a cash receipt number or the VietQR payload,
which names the station's account and the dossier code), so it lives in the dossier's ``meta``
through ``store.set_meta`` (or ``finalize(meta=...)``), under the key ``payment``.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from edge.errors import ValidationError

from ._catalog import Procedure
from ._vietqr import VietQRError, build_vietqr, parse_vietqr

if TYPE_CHECKING:
    from edge.store import Store

_RECEIPT_NO = re.compile(r"^[0-9A-Za-z./_-]{1,40}$")


@dataclass(frozen=True, slots=True, kw_only=True)
class FeeLine:
    description: str
    unit: str
    amount: int
    quantity: int
    total: int

    def to_dict(self) -> dict[str, Any]:
        return {"description": self.description, "unit": self.unit, "amount": self.amount,
                "quantity": self.quantity, "total": self.total}


@dataclass(frozen=True, slots=True, kw_only=True)
class FeeQuote:
    """What a dossier owes for a procedure through a channel."""

    procedure_code: str
    channel: str
    lines: tuple[FeeLine, ...]
    total: int

    def to_dict(self) -> dict[str, Any]:
        return {"procedure_code": self.procedure_code, "channel": self.channel,
                "lines": [line.to_dict() for line in self.lines], "total": self.total}


def quote_fee(procedure: Procedure, channel: str = "direct", *,
              quantities: Mapping[int, int] | None = None) -> FeeQuote:
    """Fee lines of the channel, each times its quantity (default 1; e.g. pages for a copy)."""
    fees = procedure.channel(channel).fees
    quantities = dict(quantities or {})
    for index, qty in quantities.items():
        if not isinstance(index, int) or not 0 <= index < len(fees):
            raise ValidationError("quantities", f"no fee line {index!r} for {procedure.code} ({channel})",
                                  message_vi="Dòng phí, lệ phí không tồn tại.")
        if isinstance(qty, bool) or not isinstance(qty, int) or qty < 0 or qty > 100_000:
            raise ValidationError("quantities", f"quantity for fee line {index} must be 0..100000",
                                  message_vi="Số lượng tính phí không hợp lệ.")
    lines = tuple(FeeLine(description=f.description, unit=f.unit, amount=f.amount,
                          quantity=quantities.get(i, 1), total=f.amount * quantities.get(i, 1))
                  for i, f in enumerate(fees))
    return FeeQuote(procedure_code=procedure.code, channel=channel, lines=lines,
                    total=sum(line.total for line in lines))


@dataclass(frozen=True, slots=True, kw_only=True)
class Payment:
    """A fee payment: cash (with the receipt number) or VietQR (with the payload shown)."""

    method: Literal["cash", "vietqr"]
    amount: int
    paid_at: dt.datetime
    receipt_number: str = ""
    payload: str = ""

    def __post_init__(self) -> None:
        if self.method not in ("cash", "vietqr"):
            raise ValidationError("method", f"must be cash or vietqr, got {self.method!r}",
                                  message_vi="Hình thức nộp phí phải là tiền mặt hoặc VietQR.")
        if isinstance(self.amount, bool) or not isinstance(self.amount, int) or self.amount < 0:
            raise ValidationError("amount", f"must be a whole number of VND ≥ 0, got {self.amount!r}",
                                  message_vi="Số tiền phải là số nguyên không âm (đồng).")
        if not isinstance(self.paid_at, dt.datetime):
            raise ValidationError("paid_at", "must be a datetime", message_vi="Thời điểm nộp phí không hợp lệ.")
        if self.method == "cash":
            if not _RECEIPT_NO.match(self.receipt_number or ""):
                raise ValidationError("receipt_number", "a cash payment needs the receipt number (1-40 letters, digits, . / _ -)",
                                      message_vi="Vui lòng nhập số biên lai thu tiền mặt.")
        else:
            try:
                parsed = parse_vietqr(self.payload)
            except VietQRError as exc:
                raise ValidationError("payload", f"invalid VietQR payload: {exc}",
                                      message_vi=exc.message_vi or "Mã VietQR không hợp lệ.") from None
            if parsed.amount != self.amount:
                raise ValidationError("amount", f"VietQR amount {parsed.amount} differs from the payment amount {self.amount}",
                                      message_vi="Số tiền trong mã VietQR không khớp với số tiền nộp.")

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"method": self.method, "amount": self.amount,
                                "paid_at": self.paid_at.isoformat(timespec="seconds")}
        if self.receipt_number:
            data["receipt_number"] = self.receipt_number
        if self.payload:
            data["payload"] = self.payload
        return data

    @classmethod
    def from_dict(cls, data: Any) -> Payment:
        if not isinstance(data, Mapping):
            raise ValidationError("payment", "must be an object", message_vi="Thông tin nộp phí không hợp lệ.")
        unknown = sorted(set(data) - {"method", "amount", "paid_at", "receipt_number", "payload"})
        if unknown:
            raise ValidationError(unknown[0], "unknown payment field", message_vi=f"Trường không hợp lệ: {unknown[0]}.")
        paid_at = data.get("paid_at")
        try:
            when = dt.datetime.fromisoformat(paid_at) if isinstance(paid_at, str) else paid_at
        except ValueError:
            raise ValidationError("paid_at", f"not an ISO datetime: {paid_at!r}",
                                  message_vi="Thời điểm nộp phí không hợp lệ.") from None
        return cls(method=data.get("method"), amount=data.get("amount"), paid_at=when,
                   receipt_number=data.get("receipt_number", "") or "", payload=data.get("payload", "") or "")


def vietqr_for_fee(*, reception: Any, amount: int, code: str, max_purpose: int = 25) -> str:
    """The dynamic VietQR payload for a fee: the station's account, the amount, the dossier code."""
    if not reception.vietqr_bin or not reception.vietqr_account:
        raise ValidationError("reception.vietqr_bin", "VietQR is not configured (reception.vietqr_bin / vietqr_account)",
                              message_vi="Chưa cấu hình tài khoản nhận VietQR của điểm tiếp nhận.")
    return build_vietqr(bank_bin=reception.vietqr_bin, account=reception.vietqr_account, amount=amount,
                        purpose=code, max_purpose=max_purpose)


def fee_meta(quote: FeeQuote, payment: Payment | None = None) -> dict[str, Any]:
    """The dossier meta entries for a fee quote and its payment (for ``finalize(meta=...)``)."""
    meta: dict[str, Any] = {"fee": quote.to_dict()}
    if payment is not None:
        if payment.amount != quote.total:
            raise ValidationError("amount", f"paid {payment.amount} but the fee is {quote.total}",
                                  message_vi=f"Số tiền nộp ({payment.amount}) khác số phí phải nộp ({quote.total}).")
        meta["payment"] = payment.to_dict()
    return meta


def record_payment(store: Store, dossier_id: str, payment: Payment, *, actor: str,
                   expected_amount: int | None = None) -> None:
    """Store a payment in the dossier's meta (audited by the store with the actor)."""
    if expected_amount is not None and payment.amount != expected_amount:
        raise ValidationError("amount", f"paid {payment.amount} but the fee is {expected_amount}",
                              message_vi=f"Số tiền nộp ({payment.amount}) khác số phí phải nộp ({expected_amount}).")
    store.set_meta(dossier_id, actor=actor, payment=payment.to_dict())


def payment_of(meta: Mapping[str, Any]) -> Payment | None:
    """The payment recorded in a dossier's meta, if any."""
    data = meta.get("payment")
    return Payment.from_dict(data) if data else None
