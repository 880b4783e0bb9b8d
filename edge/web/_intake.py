"""Intake operations shared by the HTML views and the JSON API.

Thin glue over the store (``edge.store``) and the reception domain (``edge.reception``):
validation with Vietnamese messages, the completeness checklist, finalize with the appointment,
fees, receipts, satisfaction and hand-back.
"""

from __future__ import annotations

import base64
import datetime as dt
import logging
import re
from dataclasses import dataclass
from typing import Any

from core.codes import is_ascii_digits, normalize_digits
from edge import reception
from edge.errors import NotFoundError, StoreError, ValidationError
from edge.store import VN_TZ, Applicant

logger = logging.getLogger(__name__)

APPLICANT_FIELDS = ("full_name", "id_number", "old_id_number", "date_of_birth", "gender", "address",
                    "phone", "email")
CHANNELS = ("direct", "online", "postal")
FEE_METHODS = ("cash", "vietqr", "later")
_CASH_RE = re.compile(r"^[A-Za-z0-9./-]{1,40}$")


@dataclass(frozen=True, slots=True, kw_only=True)
class ChecklistItem:
    """One required (or optional) paper of the procedure, and the pages scanned for it."""

    code: str
    name: str
    kind: str
    count: int
    required: bool
    pages: int

    @property
    def complete(self) -> bool:
        return self.pages > 0

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "name": self.name, "kind": self.kind, "count": self.count,
                "required": self.required, "pages": self.pages, "complete": self.complete}


# --------------------------------------------------------------------------- catalog


def list_procedures(store: Any, search: str | None = None) -> list[Any]:
    return reception.list_procedures(store, search=search or None)


def get_procedure(store: Any, code: str, *, field: str = "procedure_code") -> Any:
    code = (code or "").strip()
    if not code:
        raise ValidationError(field, "is required", message_vi="Vui lòng chọn thủ tục hành chính.")
    try:
        return reception.get_procedure(store, code)
    except (NotFoundError, ValidationError, KeyError, LookupError):
        raise ValidationError(field, f"unknown procedure {code!r}",
                              message_vi=f"Không có thủ tục mã “{code}” trong danh mục của trạm.") from None


def documents_of(procedure: Any) -> list[dict[str, Any]]:
    return [{"component": c.code, "name": c.name, "kind": c.kind, "count": c.count, "provided": False}
            for c in procedure.components]


# --------------------------------------------------------------------------- applicant


def applicant_values(data: Any) -> dict[str, str]:
    """The applicant fields as strings (for re-rendering a form exactly as typed)."""
    values: dict[str, str] = {}
    for key in APPLICANT_FIELDS:
        value = data.get(key, "") if hasattr(data, "get") else ""
        values[key] = value.strip()[:500] if isinstance(value, str) else ""
    return values


# Typed by a clerk (or filled from a card): Unicode digits (full-width, Arabic-Indic …) become ASCII.
_DIGIT_FIELDS = ("id_number", "old_id_number", "date_of_birth", "phone")


def parse_applicant(values: dict[str, Any], *, today: dt.date) -> Applicant:
    """Validate; raises ValidationError naming the field, with the Vietnamese message."""
    cleaned = {k: v for k, v in values.items() if k in APPLICANT_FIELDS}
    for key in _DIGIT_FIELDS:
        if isinstance(cleaned.get(key), str):
            cleaned[key] = normalize_digits(cleaned[key])
    id_number = cleaned.get("id_number", "")
    if isinstance(id_number, str):
        cleaned["id_number"] = re.sub(r"[\s.]", "", id_number)
        if not cleaned["id_number"]:
            raise ValidationError("id_number", "is required", message_vi="Vui lòng nhập số CCCD (12 chữ số).")
        if not is_ascii_digits(cleaned["id_number"]):
            raise ValidationError("id_number", "must hold digits only",
                                  message_vi="Số CCCD chỉ gồm chữ số (12 chữ số), không có chữ cái hay ký hiệu.")
        if len(cleaned["id_number"]) != 12:
            raise ValidationError("id_number", f"must be 12 digits, got {len(cleaned['id_number'])}",
                                  message_vi=f"Số CCCD phải gồm đúng 12 chữ số (đã nhập {len(cleaned['id_number'])} chữ số).")
    return Applicant.from_dict(cleaned, today=today)


def parse_channel(value: Any, procedure: Any) -> str:
    channel = value if isinstance(value, str) and value else "direct"
    if channel not in CHANNELS:
        raise ValidationError("channel", f"unknown channel {channel!r}", message_vi="Kênh tiếp nhận không hợp lệ.")
    procedure.channel(channel)  # raises with the Vietnamese message when not offered
    return channel


# --------------------------------------------------------------------------- drafts


def create_draft(store: Any, *, actor: str, procedure_code: str, applicant: dict[str, Any],
                 channel: str = "direct", note: str = "") -> str:
    """Validate everything first (nothing is written when a field is wrong), then create."""
    procedure = get_procedure(store, procedure_code)
    person = parse_applicant(applicant, today=store.now().date())
    channel = parse_channel(channel, procedure)
    return store.create_draft(procedure_code=procedure.code, applicant=person,
                              form={"channel": channel, "note": note[:1000]}, actor=actor,
                              documents=documents_of(procedure))


def update_draft(store: Any, dossier_id: str, *, actor: str, procedure_code: str | None = None,
                 applicant: dict[str, Any] | None = None, channel: str | None = None,
                 note: str | None = None) -> None:
    dossier = store.get(dossier_id)
    if dossier.status != "draft":
        raise StoreError("only a draft can be changed", message_vi="Hồ sơ đã hoàn tất tiếp nhận, không thể sửa.")
    procedure = get_procedure(store, procedure_code or dossier.procedure_code)
    person = parse_applicant(applicant, today=store.now().date()) if applicant is not None else None
    form = dict(dossier.form)
    if channel is not None:
        form["channel"] = parse_channel(channel, procedure)
    if note is not None:
        form["note"] = note[:1000]
    changed_procedure = procedure.code != dossier.procedure_code
    documents = None
    if changed_procedure:
        documents = documents_of(procedure)
        have = {p.component for p in dossier.pages}
        for doc in documents:
            doc["provided"] = doc["component"] in have
    store.update_draft(dossier_id, actor=actor, applicant=person, form=form,
                       procedure_code=procedure.code if changed_procedure else None, documents=documents)


def checklist(dossier: Any, procedure: Any) -> list[ChecklistItem]:
    counts: dict[str, int] = {}
    for page in dossier.pages:
        counts[page.component] = counts.get(page.component, 0) + 1
    return [ChecklistItem(code=c.code, name=c.name, kind=c.kind, count=c.count, required=c.required,
                          pages=counts.get(c.code, 0)) for c in procedure.components]


def missing_required(items: list[ChecklistItem]) -> list[ChecklistItem]:
    return [i for i in items if i.required and not i.complete]


# --------------------------------------------------------------------------- fees


def fee_quote(procedure: Any, channel: str) -> Any:
    try:
        return reception.quote_fee(procedure, channel)
    except ValidationError:
        return reception.quote_fee(procedure, "direct")


def fee_meta(settings: Any, quote: Any, data: Any, *, now: dt.datetime, code_placeholder: str = "") -> dict[str, Any]:
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
    if method == "vietqr":
        cfg = settings.reception
        if not cfg.vietqr_bin or not cfg.vietqr_account:
            raise ValidationError("fee_method", "VietQR is not configured on this station",
                                  message_vi="Trạm chưa cấu hình tài khoản nhận VietQR: vui lòng thu tiền mặt.")
    return {**reception.fee_meta(quote), "fee_method": method}


def vietqr_payload(settings: Any, amount: int, code: str) -> str | None:
    cfg = settings.reception
    if not cfg.vietqr_bin or not cfg.vietqr_account or amount <= 0:
        return None
    return reception.vietqr_for_fee(reception=cfg, amount=amount, code=code)


def qr_svg_document(payload: str) -> bytes:
    """A standalone SVG image of a QR code (error correction M, 4 px modules, quiet zone 4)."""
    import io

    import segno

    out = io.BytesIO()
    segno.make(payload, error="m").save(out, kind="svg", scale=4, border=4, xmldecl=True,
                                        title="VietQR")
    return out.getvalue()


def fee_status(dossier: Any) -> dict[str, Any]:
    """For the screens: amount, how it is (to be) paid, and whether it is paid."""
    meta = dossier.meta or {}
    total = int((meta.get("fee") or {}).get("total") or 0)
    payment = meta.get("payment")
    return {"total": total, "method": (payment or {}).get("method") or meta.get("fee_method") or "",
            "paid": bool(payment) or total == 0, "receipt_number": (payment or {}).get("receipt_number", ""),
            "vietqr_payload": meta.get("vietqr_payload")}


# --------------------------------------------------------------------------- finalize


def finalize(store: Any, settings: Any, dossier_id: str, *, actor: str, fee: dict[str, Any] | None,
             override_by: str | None = None) -> str:
    """Assign the code, compute the appointment, seal and queue. Missing required components are
    refused unless ``override_by`` names a supervisor who has just confirmed their credentials."""
    dossier = store.get(dossier_id)
    if dossier.status != "draft":
        raise StoreError("dossier is already finalized", message_vi="Hồ sơ đã được tiếp nhận trước đó.")
    procedure = get_procedure(store, dossier.procedure_code)
    channel = dossier.form.get("channel", "direct")
    items = checklist(dossier, procedure)
    missing = missing_required(items)
    if missing and not override_by:
        names = "; ".join(i.name for i in missing)
        raise ValidationError("components", f"missing required components: {', '.join(i.code for i in missing)}",
                              message_vi=f"Còn thiếu thành phần hồ sơ bắt buộc: {names}. Cần lãnh đạo duyệt để tiếp nhận.")
    received = store.now().astimezone(VN_TZ)
    meta = fee_meta(settings, fee_quote(procedure, channel), fee, now=received)
    due = reception.due_for_procedure(reception.calendar_for(store), procedure, received, channel=channel)
    meta.update({"channel": channel, "clerk": actor, "components": [i.to_dict() for i in items]})
    if missing:
        meta["override"] = {"by": override_by, "missing": [i.code for i in missing]}
    code = store.finalize(dossier_id, actor=actor, received_at=received, due_at=due.due_at, meta=meta)
    if meta.get("fee_method") == "vietqr":
        payload = vietqr_payload(settings, int(meta["fee"]["total"]), code)
        if payload:
            store.set_meta(dossier_id, actor=actor, vietqr_payload=payload)
    if missing:
        store.audit("dossier.override_missing", actor=override_by, dossier_id=dossier_id,
                    details={"clerk": actor, "missing": [i.code for i in missing]})
    return code


# --------------------------------------------------------------------------- after finalize


def rate(store: Any, dossier_id: str, *, actor: str, rating: Any, comment: str) -> None:
    try:
        value = int(rating)
    except (TypeError, ValueError):
        value = 0
    if not 1 <= value <= 5:
        raise ValidationError("rating", "must be 1 to 5", message_vi="Vui lòng chọn mức đánh giá từ 1 đến 5 sao.")
    comment = (comment or "").strip()
    if len(comment) > 1000:
        raise ValidationError("comment", "at most 1000 characters", message_vi="Góp ý tối đa 1000 ký tự.")
    summary = store.summary(dossier_id)
    if summary.status not in ("finalized", "handed_over"):
        raise StoreError("only a received dossier can be rated", message_vi="Chỉ đánh giá sau khi hồ sơ đã được tiếp nhận.")
    value_meta: dict[str, Any] = {"rating": value, "at": store.now().isoformat(timespec="seconds")}
    if comment:
        # A comment may name people: sealed with the dossier's key like every personal field.
        value_meta["comment_sealed"] = base64.b64encode(
            store.seal(dossier_id, comment.encode(), "satisfaction_comment")).decode()
    store.set_meta(dossier_id, actor=actor, satisfaction=value_meta)


def record_payment(store: Any, dossier_id: str, *, actor: str, method: str, receipt_number: str = "") -> None:
    """After finalize: the citizen paid in cash (receipt number) or the VietQR transfer arrived."""
    dossier = store.get(dossier_id)
    status = fee_status(dossier)
    if status["paid"]:
        return
    now = store.now()
    if method == "cash":
        if not receipt_number or not _CASH_RE.match(receipt_number):
            raise ValidationError("fee_receipt_number", "is required for a cash payment",
                                  message_vi="Vui lòng nhập số biên lai thu tiền mặt (chữ, số, . / -).")
        payment = reception.Payment(method="cash", amount=status["total"], paid_at=now, receipt_number=receipt_number)
    elif method == "vietqr":
        payload = status["vietqr_payload"] or vietqr_payload(store.settings, status["total"], dossier.code or "")
        if not payload:
            raise ValidationError("fee_method", "VietQR is not configured",
                                  message_vi="Trạm chưa cấu hình tài khoản nhận VietQR.")
        payment = reception.Payment(method="vietqr", amount=status["total"], paid_at=now, payload=payload)
    else:
        raise ValidationError("fee_method", "choose cash or vietqr", message_vi="Vui lòng chọn tiền mặt hoặc VietQR.")
    reception.record_payment(store, dossier_id, payment, actor=actor, expected_amount=status["total"])


def find(store: Any, *, code: str = "", id_number: str = "", name: str = "") -> list[Any]:
    if code:
        text = normalize_digits(code.strip())
        try:
            text = reception.code_from_scan(text)
        except ValidationError:
            pass
        found = store.find_by_code(text)
        return [found] if found else []
    if id_number:
        digits = re.sub(r"[\s.]", "", normalize_digits(id_number))
        if not is_ascii_digits(digits, 12):
            raise ValidationError("id_number", "must be 12 digits", message_vi="Số CCCD phải gồm đúng 12 chữ số.")
        return store.find_by_id_number(digits)
    if name:
        if len(name.strip()) < 2:
            raise ValidationError("name", "at least 2 characters", message_vi="Nhập ít nhất 2 ký tự của họ tên.")
        return store.find_by_name(name)
    raise ValidationError("q", "give a code, an ID number or a name",
                          message_vi="Nhập mã hồ sơ, số CCCD hoặc họ tên để tra cứu.")
