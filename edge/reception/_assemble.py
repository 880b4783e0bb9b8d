"""Glue between the store and the reception domain: appointment and receipt of a dossier."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import TYPE_CHECKING

from core.vntime import VN_TZ
from edge.errors import NotFoundError, ValidationError

from ._calendar import DueResult, WorkCalendar
from ._catalog import Procedure, archived_procedure, get_procedure
from ._fees import payment_of
from ._receipt import ReceiptComponent, ReceiptData

if TYPE_CHECKING:
    from edge.store import Store


def calendar_for(store: Store) -> WorkCalendar:
    """The calendar of a store: office hours from its settings, overrides from its database."""
    return WorkCalendar.from_config(store.settings.reception, db=store)


def due_for_procedure(calendar: WorkCalendar, procedure: Procedure, received_at: dt.datetime, *,
                      channel: str = "direct",
                      suspensions: Sequence[tuple[dt.datetime, dt.datetime]] = ()) -> DueResult:
    """Appointment for a procedure through a channel: its processing time or its special rule."""
    if procedure.special_rule:
        return calendar.due(received_at, rule=procedure.special_rule, suspensions=suspensions)
    return calendar.due(received_at, suspensions=suspensions, **procedure.channel(channel).processing_time.kwargs())


def _local(value: str | None, what: str) -> dt.datetime:
    if not value:
        raise ValidationError(what, "is not set: finalize the dossier first",
                              message_vi="Hồ sơ chưa được tiếp nhận chính thức (chưa có mã hồ sơ).")
    moment = dt.datetime.fromisoformat(value)
    return moment.astimezone(VN_TZ).replace(tzinfo=None) if moment.tzinfo else moment


def recorded_version(store: Store, dossier) -> Procedure | None:
    """The procedure version a dossier was received under: by the fingerprint in its meta (kept
    in the archive even after the catalog changes), else the version in force on its day."""
    ref = (dossier.meta or {}).get("procedure_version") or {}
    if ref.get("sha256"):
        found = archived_procedure(store, ref["sha256"])
        if found is not None:
            return found
    at = dt.datetime.fromisoformat(dossier.received_at) if dossier.received_at else None
    try:
        return get_procedure(store, dossier.procedure_code, at=at)
    except NotFoundError:
        return None


def receipt_for_dossier(store: Store, dossier_id: str, *, clerk_name: str) -> ReceiptData:
    """Everything the receipt of a finalized dossier prints (for reprints too)."""
    dossier = store.get(dossier_id)
    if not dossier.code:
        raise ValidationError("code", "the dossier has no code yet",
                              message_vi="Hồ sơ chưa được tiếp nhận chính thức (chưa có mã hồ sơ).")
    if dossier.applicant is None:
        raise ValidationError("applicant", "the dossier's personal data has been shredded",
                              message_vi="Dữ liệu cá nhân của hồ sơ đã được hủy, không thể in lại giấy hẹn.")
    if (dossier.meta or {}).get("outcome", "received") != "received":
        raise ValidationError("outcome", "a refused or sent-back dossier has no receipt",
                              message_vi="Hồ sơ bị từ chối hoặc yêu cầu bổ sung không có giấy tiếp nhận: in phiếu 02/03.")
    settings = store.settings
    meta = dossier.meta or {}
    channel = meta.get("channel", "direct")
    procedure = recorded_version(store, dossier)
    documents = [d for d in store.documents(dossier_id) if d.get("provided")] or store.documents(dossier_id)
    if documents:
        components = tuple(ReceiptComponent(name=d["name"], kind=d["kind"], count=d["count"]) for d in documents)
    elif procedure is not None:
        given = {p.component for p in dossier.pages}
        components = tuple(ReceiptComponent(name=c.name, kind=c.kind, count=c.count)
                           for c in procedure.components if c.code in given)
    else:
        components = ()
    processing = ""
    if procedure is not None:
        processing = ("Trong ngày (nhận trước 15 giờ), hoặc ngày làm việc tiếp theo"
                      if procedure.special_rule else procedure.channel(channel).processing_time.text_vi())
    payment = payment_of(meta)
    fee_total = int((meta.get("fee") or {}).get("total", payment.amount if payment else 0))
    applicant = dossier.applicant
    return ReceiptData(
        agency_name=settings.reception.agency_name or settings.station.name,
        station_name=settings.station.name,
        station_address=settings.station.address,
        place=settings.reception.place_name,
        code=dossier.code,
        applicant_name=applicant.full_name,
        applicant_address=applicant.address,
        applicant_phone=applicant.phone,
        applicant_email=applicant.email,
        procedure_name=procedure.name if procedure else dossier.procedure_code,
        procedure_code=dossier.procedure_code,
        components=components,
        sets=int(meta.get("sets", 1)),
        processing_time=processing or "Theo quy định",
        received_at=_local(dossier.received_at, "received_at"),
        due_at=_local(dossier.due_at, "due_at"),
        result_place=settings.reception.result_place,
        fee_amount=fee_total,
        fee_paid_method=payment.method if payment else "",
        fee_receipt_number=payment.receipt_number if payment else "",
        vietqr_payload=(payment.payload if payment and payment.method == "vietqr" else None)
        or meta.get("vietqr_payload"),
        clerk_name=clerk_name,
        tracking_url=settings.station.tracking_url,
        register_book=str(meta.get("register_book", "")),
        register_number=str(meta.get("register_number", "")),
    )
