"""Finalize: the code, the appointment, the fee, the seal to the city and the outbox row, in ONE
transaction; and ``receive``, the same in one step for the CLI and the demo.

Everything a finalize writes — the code and status, the meta (fee, checklist, override), the
outbox row (``edge.outbox``'s enqueue), the VietQR payload that needs the code, the supervisor's
override in the audit log — commits together or not at all: one ``store.write`` (the store's
own writes inside it run inline, as savepoints).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from core.vntime import VN_TZ
from edge import outbox, reception
from edge.config import Settings
from edge.errors import StoreError, ValidationError
from edge.store import Applicant, PageSource, Store

from ._fees import fee_meta, fee_quote, vietqr_payload
from ._intake import (
    ChecklistItem,
    checklist,
    checklist_from_counts,
    documents_of,
    get_procedure,
    intake_form,
    missing_required,
    parse_channel,
)


@dataclass(frozen=True, slots=True, kw_only=True)
class Received:
    """A dossier received in one step: its id, its code and whether an appointment was set."""

    dossier_id: str
    code: str
    due_at: dt.datetime | None


def received_now(store: Store) -> dt.datetime:
    """The moment of receipt: the store's corrected clock, in Vietnam time."""
    return store.now().astimezone(VN_TZ)


def appointment(store: Store, procedure: reception.Procedure, received: dt.datetime, *,
                channel: str = "direct") -> dt.datetime:
    """The appointment date (ngày hẹn trả) of a dossier of ``procedure`` received at ``received``."""
    return reception.due_for_procedure(reception.calendar_for(store), procedure, received, channel=channel).due_at


def _refuse_missing(missing: list[ChecklistItem], override_by: str | None) -> None:
    if missing and not override_by:
        names = "; ".join(i.name for i in missing)
        raise ValidationError("components", f"missing required components: {', '.join(i.code for i in missing)}",
                              message_vi=f"Còn thiếu thành phần hồ sơ bắt buộc: {names}. Cần lãnh đạo duyệt để tiếp nhận.")


def _finalize_meta(settings: Settings, procedure: reception.Procedure, *, channel: str, actor: str,
                   items: list[ChecklistItem], missing: list[ChecklistItem], override_by: str | None,
                   fee: Mapping[str, Any] | None, received: dt.datetime) -> dict[str, Any]:
    meta = fee_meta(settings, fee_quote(procedure, channel), dict(fee) if fee is not None else None, now=received)
    meta.update({"channel": channel, "clerk": actor, "components": [i.to_dict() for i in items],
                 "procedure_version": procedure.version_ref()})
    if missing:
        meta["override"] = {"by": override_by, "missing": [i.code for i in missing]}
    return meta


def _after_code(store: Store, settings: Settings, dossier_id: str, code: str, *, meta: Mapping[str, Any],
                actor: str, missing: list[ChecklistItem], override_by: str | None) -> None:
    """The writes that need the code; inside the finalize transaction."""
    if meta.get("fee_method") == "vietqr":
        payload = vietqr_payload(settings, int(meta["fee"]["total"]), code)
        if payload:
            store.set_meta(dossier_id, actor=actor, vietqr_payload=payload)
    if missing:
        store.audit("dossier.override_missing", actor=override_by or actor, dossier_id=dossier_id,
                    details={"clerk": actor, "missing": [i.code for i in missing]})


def finalize(store: Store, settings: Settings, dossier_id: str, *, actor: str, fee: Mapping[str, Any] | None,
             override_by: str | None = None) -> str:
    """Assign the code, compute the appointment, seal and queue, in one transaction. Missing
    required components are refused unless ``override_by`` names a supervisor who has just
    confirmed their credentials."""
    def run(conn: Any) -> str:
        dossier = store.get(dossier_id)
        if dossier.status != "draft":
            raise StoreError("dossier is already finalized", message_vi="Hồ sơ đã được tiếp nhận trước đó.")
        received = received_now(store)
        procedure = get_procedure(store, dossier.procedure_code, at=received)  # the version in force now
        channel = dossier.form.get("channel", "direct")
        items = checklist(dossier, procedure)
        missing = missing_required(items)
        _refuse_missing(missing, override_by)
        meta = _finalize_meta(settings, procedure, channel=channel, actor=actor, items=items, missing=missing,
                              override_by=override_by, fee=fee, received=received)
        due = appointment(store, procedure, received, channel=channel)
        code = outbox.finalize_and_enqueue(store, dossier_id, conn=conn, actor=actor, received_at=received,
                                           due_at=due, meta=meta)
        _after_code(store, settings, dossier_id, code, meta=meta, actor=actor, missing=missing,
                    override_by=override_by)
        return code

    return store.write(run)


def receive(store: Store, settings: Settings, *, procedure_code: str, applicant: Applicant | Mapping[str, Any],
            pages: Iterable[PageSource] = (), actor: str, channel: str = "direct", note: str = "",
            fee: Mapping[str, Any] | None = None, override_by: str | None = None) -> Received:
    """Create, fill and finalize a dossier in one transaction (the CLI, the demo, an import).

    The dossier has the shape of one received through the screens: the same form, documents,
    meta (fee, channel, clerk, checklist, override) and appointment. A station whose catalog is
    still empty receives without a procedure check, checklist or appointment (``due_at`` None).
    Missing required components need ``override_by`` (recorded as on the screens).
    """
    if not isinstance(applicant, Applicant):
        applicant = Applicant.from_dict(dict(applicant), today=store.now().date())
    pages = list(pages)
    received = received_now(store)
    catalog = bool(reception.list_procedures(store))
    if not catalog:
        dossier_id, code = outbox.ingest_and_enqueue(
            store, procedure_code=procedure_code, applicant=applicant, pages=pages, actor=actor,
            form=intake_form(channel or "direct", note), received_at=received, due_at=None,
            meta={"channel": channel or "direct", "clerk": actor})
        return Received(dossier_id=dossier_id, code=code, due_at=None)
    procedure = get_procedure(store, procedure_code, at=received)
    channel = parse_channel(channel, procedure)
    counts: dict[str, int] = {}
    for page in pages:
        counts[page.component] = counts.get(page.component, 0) + 1
    items = checklist_from_counts(counts, procedure)
    missing = missing_required(items)
    _refuse_missing(missing, override_by)
    meta = _finalize_meta(settings, procedure, channel=channel, actor=actor, items=items, missing=missing,
                          override_by=override_by, fee=fee, received=received)
    due = appointment(store, procedure, received, channel=channel)
    def run(_conn: Any) -> tuple[str, str]:
        dossier_id, code = outbox.ingest_and_enqueue(
            store, procedure_code=procedure.code, applicant=applicant, pages=pages, actor=actor,
            form=intake_form(channel, note), received_at=received, due_at=due, meta=meta,
            documents=documents_of(procedure, provided=frozenset(counts)))
        _after_code(store, settings, dossier_id, code, meta=meta, actor=actor, missing=missing,
                    override_by=override_by)
        return dossier_id, code

    dossier_id, code = store.write(run)
    return Received(dossier_id=dossier_id, code=code, due_at=due)
