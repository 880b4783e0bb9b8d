"""After finalize — the citizen's rating, hand-back of the result — and the look-up."""

from __future__ import annotations

import base64
import dataclasses
import re
from typing import Any

from core.codes import is_ascii_digits, normalize_digits
from edge import reception
from edge.errors import StoreError, ValidationError
from edge.store import DossierSummary, Store

from ._fees import fee_status
from ._intake import checklist, recorded_procedure

COMMENT_LIMIT = 1000


def rate(store: Store, dossier_id: str, *, actor: str, rating: Any, comment: str) -> None:
    try:
        value = int(rating)
    except (TypeError, ValueError):
        value = 0
    if not 1 <= value <= 5:
        raise ValidationError("rating", "must be 1 to 5", message_vi="Vui lòng chọn mức đánh giá từ 1 đến 5 sao.")
    comment = (comment or "").strip()
    if len(comment) > COMMENT_LIMIT:
        raise ValidationError("comment", f"at most {COMMENT_LIMIT} characters",
                              message_vi=f"Góp ý tối đa {COMMENT_LIMIT} ký tự.")
    def run(_conn: Any) -> None:
        summary = store.summary(dossier_id)
        if summary.status not in ("finalized", "handed_over"):
            raise StoreError("only a received dossier can be rated",
                             message_vi="Chỉ đánh giá sau khi hồ sơ đã được tiếp nhận.")
        value_meta: dict[str, Any] = {"rating": value, "at": store.now().isoformat(timespec="seconds")}
        if comment:
            # A comment may name people: sealed with the dossier's key like every personal field.
            value_meta["comment_sealed"] = base64.b64encode(
                store.seal(dossier_id, comment.encode(), "satisfaction_comment")).decode()
        store.set_meta(dossier_id, actor=actor, satisfaction=value_meta)

    store.write(run)


def hand_over(store: Store, dossier_id: str, *, actor: str) -> None:
    """The result was handed back to the citizen (a refused or sent-back dossier has none)."""
    meta = store.get(dossier_id).meta or {}
    if meta.get("outcome", "received") != "received":
        raise StoreError("a refused or sent-back dossier has no result to hand over",
                         message_vi="Hồ sơ đã bị từ chối hoặc yêu cầu bổ sung: không có kết quả để trả.")
    store.mark_handed_over(dossier_id, actor=actor)


def find(store: Store, *, code: str = "", id_number: str = "", name: str = "") -> list[DossierSummary]:
    """Look a dossier up by its code (typed or scanned from a receipt), an ID number or a name."""
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


def dossier_view(store: Store, dossier_id: str) -> dict[str, Any]:
    """One dossier as the API shows it (personal data opened for an authorized clerk)."""
    dossier = store.get(dossier_id)
    procedure = recorded_procedure(store, dossier)
    items = [i.to_dict() for i in checklist(dossier, procedure)] if procedure else []
    return {
        "id": dossier.id, "code": dossier.code, "procedure_code": dossier.procedure_code,
        "status": dossier.status, "outcome": (dossier.meta or {}).get("outcome", "received")
        if dossier.status != "draft" else None, "city_status": dossier.city_status, "sync_state": dossier.sync_state,
        "created_at": dossier.created_at, "finalized_at": dossier.finalized_at,
        "received_at": dossier.received_at, "due_at": dossier.due_at,
        "applicant": dossier.applicant.to_dict() if dossier.applicant else None,
        "channel": dossier.form.get("channel", "direct"),
        "pages": [dataclasses.asdict(p) for p in dossier.pages],
        "procedure_version": (procedure.version_ref() if procedure else None),
        "checklist": items, "fee": fee_status(dossier) if dossier.status != "draft" else None,
        "satisfaction": ({"rating": dossier.meta["satisfaction"]["rating"]}
                         if dossier.meta.get("satisfaction") else None),
    }
