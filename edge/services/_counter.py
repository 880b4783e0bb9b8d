"""At the counter, the two other outcomes of a draft: a refusal (form 03) and a request to
supplement (form 02); and the completion of a supplemented dossier.

Both take a dossier code, are sealed to the city and queued exactly like a received dossier (one
``store.write``: the reason or the items into the sealed form, the code, the seal, the outbox
row, the audit entry with the clerk and the time), with no appointment and no fee. The manifest
says what happened (``outcome``), so the city counts refusals and requests. The free text a clerk
types (the reason, what is missing) may name people: it travels in the sealed form, never in the
clear meta or the audit log, which record only the component codes.

A supplemented dossier is completed as a NEW draft, at this box or any other, naming the code of
form 02 (``supplement_of``); it is received under a new code of the box that receives it, on the
day it becomes complete (docs/reference.md).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any

from edge import outbox, reception
from edge.config import Settings
from edge.errors import StoreError, ValidationError
from edge.store import Dossier, Store

from ._finalize import received_now
from ._intake import checklist, get_procedure, outcome_of, recorded_procedure

REASON_LIMIT = 1000
NOTE_LIMIT = 500
OUTCOME_VI = {"received": "Đã tiếp nhận", "refused": "Từ chối tiếp nhận",
              "supplement_requested": "Yêu cầu bổ sung hồ sơ"}


def _require_draft(dossier: Dossier) -> None:
    if dossier.status != "draft":
        raise StoreError("only a draft can be refused or sent back for supplements",
                         message_vi="Chỉ hồ sơ đang soạn (chưa tiếp nhận) mới có thể từ chối hoặc yêu cầu bổ sung.")


def parse_reason(reason: Any) -> str:
    text = reason.strip() if isinstance(reason, str) else ""
    if not text:
        raise ValidationError("reason", "a refusal needs its reason",
                              message_vi="Vui lòng ghi rõ lý do từ chối tiếp nhận hồ sơ.")
    if len(text) > REASON_LIMIT:
        raise ValidationError("reason", f"at most {REASON_LIMIT} characters",
                              message_vi=f"Lý do từ chối tối đa {REASON_LIMIT} ký tự.")
    return text


def parse_items(items: Iterable[Any], procedure: reception.Procedure) -> list[dict[str, str]]:
    """``COMPONENT:TEXT`` strings or (component, text) pairs or {"component", "note"} objects,
    each naming a component of the procedure version."""
    out: list[dict[str, str]] = []
    for raw in items:
        if isinstance(raw, str):
            component, sep, note = raw.partition(":")
            if not sep:
                raise ValidationError("items", f"{raw!r} is not COMPONENT:TEXT",
                                      message_vi=f"“{raw}” phải có dạng MÃ_THÀNH_PHẦN:nội dung cần bổ sung.")
        elif isinstance(raw, Mapping):
            component, note = str(raw.get("component") or ""), str(raw.get("note") or "")
        elif isinstance(raw, list | tuple) and len(raw) == 2:
            component, note = str(raw[0]), str(raw[1])
        else:
            raise ValidationError("items", "each item needs a component and a text",
                                  message_vi="Mỗi mục cần mã thành phần hồ sơ và nội dung cần bổ sung.")
        component, note = component.strip(), note.strip()
        found = procedure.component(component)  # an unknown one: the precise Vietnamese message
        if not note:
            raise ValidationError("items", f"item {component} has no text",
                                  message_vi=f"Ghi rõ nội dung cần bổ sung cho thành phần “{found.name}”.")
        if len(note) > NOTE_LIMIT:
            raise ValidationError("items", f"item {component}: at most {NOTE_LIMIT} characters",
                                  message_vi=f"Nội dung cần bổ sung tối đa {NOTE_LIMIT} ký tự mỗi mục.")
        if any(i["component"] == component for i in out):
            raise ValidationError("items", f"component {component} is listed twice",
                                  message_vi=f"Thành phần “{found.name}” được nêu hai lần.")
        out.append({"component": component, "name": found.name, "note": note})
    if not out:
        raise ValidationError("items", "name at least one component",
                              message_vi="Nêu ít nhất một thành phần hồ sơ cần bổ sung, hoàn thiện.")
    return out


def _close(store: Store, dossier_id: str, *, actor: str, outcome: str, sealed: Mapping[str, Any],
           components: list[str], validate) -> str:
    """The one transaction of a refusal or a request: sealed text, code, seal, outbox, audit."""
    def run(conn: Any) -> str:
        dossier = store.get(dossier_id)
        _require_draft(dossier)
        received = received_now(store)
        procedure = get_procedure(store, dossier.procedure_code, at=received)
        validate(procedure)
        form = dict(dossier.form)
        form.update(sealed)
        store.update_draft(dossier_id, actor=actor, form=form)
        meta = {"outcome": outcome, "clerk": actor, "channel": form.get("channel", "direct"),
                "procedure_version": procedure.version_ref(),
                "components": [i.to_dict() for i in checklist(dossier, procedure)]}
        if components:
            meta["supplement_components"] = components
        code = outbox.finalize_and_enqueue(store, dossier_id, conn=conn, actor=actor, received_at=received,
                                           due_at=None, meta=meta)
        store.audit(f"dossier.{outcome}", actor=actor, dossier_id=dossier_id,
                    details={"code": code, "at": received.isoformat(timespec="seconds"), "components": components})
        return code

    return store.write(run)


def refuse(store: Store, dossier_id: str, *, actor: str, reason: Any, legal_basis: Any = "") -> str:
    """Refuse a draft (form 03): validated first, nothing written on a bad input; returns its code."""
    text = parse_reason(reason)
    basis = legal_basis.strip()[:REASON_LIMIT] if isinstance(legal_basis, str) else ""
    _require_draft(store.get(dossier_id))
    return _close(store, dossier_id, actor=actor, outcome="refused",
                  sealed={"refusal": {"reason": text, "legal_basis": basis}}, components=[],
                  validate=lambda procedure: None)


def request_supplement(store: Store, dossier_id: str, *, actor: str, items: Iterable[Any]) -> str:
    """Send a draft back for supplements (form 02), by component; returns its code."""
    dossier = store.get(dossier_id)
    _require_draft(dossier)
    raw = list(items)
    parsed = parse_items(raw, get_procedure(store, dossier.procedure_code, at=received_now(store)))
    return _close(store, dossier_id, actor=actor, outcome="supplement_requested",
                  sealed={"supplement": [{"component": i["component"], "note": i["note"]} for i in parsed]},
                  components=[i["component"] for i in parsed],
                  validate=lambda procedure: parse_items(raw, procedure))  # the version at the moment itself


def counter_form(store: Store, settings: Settings, dossier_id: str, *, clerk_name: str) -> bytes:
    """Form 02 or 03 of a refused or sent-back dossier (for its first print and reprints)."""
    dossier = store.get(dossier_id)
    outcome = outcome_of(dossier)
    if outcome not in ("refused", "supplement_requested"):
        raise ValidationError("outcome", "the dossier was neither refused nor sent back",
                              message_vi="Hồ sơ này không bị từ chối hay yêu cầu bổ sung: không có phiếu 02/03 để in.")
    if dossier.applicant is None:
        raise ValidationError("applicant", "the dossier's personal data has been shredded",
                              message_vi="Dữ liệu cá nhân của hồ sơ đã được hủy, không thể in lại phiếu.")
    procedure = recorded_procedure(store, dossier)
    received = dt.datetime.fromisoformat(dossier.received_at)
    number = "03" if outcome == "refused" else "02"
    template = reception.form_template(number, at=received.astimezone(reception.VN_TZ).date(), procedure=procedure)
    form = dossier.form
    names = {c.code: c.name for c in procedure.components} if procedure else {}
    items = tuple(reception.SupplementItem(component=i["component"], name=names.get(i["component"], i["component"]),
                                           note=i["note"]) for i in form.get("supplement", []))
    refusal = form.get("refusal") or {}
    return reception.render_form_apart(template, reception.CounterFormData(  # drawn in a helper process
        agency_name=settings.reception.agency_name or settings.station.name, station_name=settings.station.name,
        place=settings.reception.place_name, code=dossier.code or "", applicant_name=dossier.applicant.full_name,
        procedure_name=procedure.name if procedure else dossier.procedure_code, procedure_code=dossier.procedure_code,
        received_at=received, clerk_name=clerk_name, tracking_url=settings.station.tracking_url,
        reason=refusal.get("reason", ""), legal_basis=refusal.get("legal_basis", ""), items=items))
