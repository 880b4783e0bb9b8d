"""Signing digitized copies (ký số): each component's PDF of a dossier signed with the unit's token.

The signed PDF replaces the component's PDF in the store (encrypted like every page) and the
dossier's metadata records, per signed page, the signer certificate's fingerprint, the claimed
signing time and the PAdES level (``meta["signatures"]``; the manifest carries it to the city as
``signatures``). Everything is signed in memory first: a wrong PIN, a pulled token or an expired
certificate changes nothing. The signed pages and the record are written in one transaction;
the unsigned pages they replace are removed after it (a removal interrupted by a crash is
completed by the next signing of the dossier).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from edge import signing
from edge.config import Settings
from edge.errors import StoreError, ValidationError
from edge.store import PageSource, Store

PDF = PDF_MEDIA_TYPE = "application/pdf"


def signing_enabled(settings: Settings) -> bool:
    return settings.signing.configured


def signatures_of(meta: dict[str, Any]) -> dict[int, dict[str, Any]]:
    """The dossier's signature records by page index."""
    return {int(r["index"]): r for r in meta.get("signatures", []) if isinstance(r, dict) and "index" in r}


def _record(index: int, component: str, signed: Any) -> dict[str, Any]:
    return {"index": index, "component": component, "cert_sha256": signed.cert_sha256,
            "signed_at": signed.signed_at, "level": signed.level}


def _read(store: Store, dossier_id: str, index: int) -> bytes:
    return b"".join(store.read_page(dossier_id, index))


def _finish_replacements(store: Store, dossier_id: str, *, actor: str) -> None:
    dossier = store.get(dossier_id)
    present = {p.index for p in dossier.pages}
    for index in dossier.meta.get("signing_replaced", []):
        if index in present:
            store.remove_page(dossier_id, int(index), actor=actor)
    if dossier.meta.get("signing_replaced"):
        store.set_meta(dossier_id, actor=actor, signing_replaced=[])


def sign_draft(store: Store, settings: Settings, dossier_id: str, pin: str, *, actor: str) -> list[dict[str, Any]]:
    """Sign every unsigned component PDF of a draft; returns the new signature records."""
    dossier = store.get(dossier_id)
    if dossier.status != "draft":
        raise StoreError("only a draft's pages can be signed", message_vi="Chỉ ký số được hồ sơ đang tiếp nhận (nháp).")
    _finish_replacements(store, dossier_id, actor=actor)
    dossier = store.get(dossier_id)
    done = signatures_of(dossier.meta)
    todo = [p for p in dossier.pages if p.media_type == PDF and p.index not in done]
    if not todo:
        if not any(p.media_type == PDF for p in dossier.pages):
            raise ValidationError("pages", "the dossier has no PDF page to sign",
                                  message_vi="Hồ sơ chưa có thành phần nào dạng PDF để ký số.")
        return []
    now = store.now()
    signed = signing.sign_batch(settings.signing, pin, [_read(store, dossier_id, p.index) for p in todo], now=now,
                                location=settings.station.name)

    def run(_conn: Any) -> list[dict[str, Any]]:
        records = []
        for old, doc in zip(todo, signed, strict=True):
            info = store.add_page(dossier_id, doc.data, component=old.component, media_type=PDF, actor=actor)
            records.append(_record(info.index, old.component, doc))
        meta = store.get(dossier_id).meta
        store.set_meta(dossier_id, actor=actor, signatures=[*meta.get("signatures", []), *records],
                       signing_replaced=[p.index for p in todo])
        store.audit("dossier.sign", actor=actor, dossier_id=dossier_id,
                    details={"pages": [r["index"] for r in records], "cert_sha256": signed[0].cert_sha256,
                             "level": signed[0].level})
        return records

    records = store.write(run)
    _finish_replacements(store, dossier_id, actor=actor)
    return records


def sign_sources(store: Store, settings: Settings, pages: Sequence[PageSource], pin: str
                 ) -> tuple[list[PageSource], list[dict[str, Any]]]:
    """Sign the PDF pages among ``pages`` (read whole) before a one-step receive; returns the
    pages to store and the records (by their future page index, from 1 in order)."""
    now: dt.datetime = store.now()
    blobs: list[bytes | None] = []
    for page in pages:
        if page.media_type != PDF:
            blobs.append(None)
            continue
        src = page.source
        blobs.append(src if isinstance(src, bytes) else src.read() if hasattr(src, "read") else b"".join(src))
    pdfs = [b for b in blobs if b is not None]
    if not pdfs:
        raise ValidationError("pages", "no PDF page to sign", message_vi="Không có trang PDF nào để ký số.")
    signed = iter(signing.sign_batch(settings.signing, pin, pdfs, now=now, location=settings.station.name))
    out, records = [], []
    for i, (page, blob) in enumerate(zip(pages, blobs, strict=True), start=1):
        if blob is None:
            out.append(page)
            continue
        doc = next(signed)
        out.append(PageSource(source=doc.data, component=page.component, media_type=PDF))
        records.append(_record(i, page.component, doc))
    return out, records


def token_device_records(settings: Settings) -> list[Any]:
    """The signing token as a record of the device registry (a ``DeviceManager`` lister): ready,
    error (expired, locked, untrusted …, with the Vietnamese message) or absent."""
    from edge.devices import DeviceKind, DeviceRecord, DeviceStatus

    if not signing_enabled(settings):
        return []
    status = signing.token_status(settings.signing)
    state = (DeviceStatus.READY if status.can_sign else
             DeviceStatus.ABSENT if status.state in ("absent", "module") else DeviceStatus.ERROR)
    props = tuple((k, str(v)) for k, v in (("cert_subject", status.cert_subject),
                                           ("cert_not_after", status.cert_not_after),
                                           ("days_left", status.days_left), ("state", status.state),
                                           ("pin_locked", status.pin_locked)) if v not in ("", None))
    return [DeviceRecord(id=f"pkcs11:{settings.signing.token_label}", kind=DeviceKind.SIGNING_TOKEN,
                         model="PKCS#11", name=settings.signing.token_label, transport="usb", source="pkcs11",
                         status=state, last_error="" if status.state == "ok" else status.message_vi,
                         properties=props)]


def sign_receipt(store: Store, settings: Settings, pdf: bytes, pin: str) -> bytes:
    """The reception receipt (a PDF drawn on demand) signed with the token, the box's time."""
    [signed] = signing.sign_batch(settings.signing, pin, [pdf], now=store.now(), location=settings.station.name)
    return signed.data


__all__ = ["PDF_MEDIA_TYPE", "sign_draft", "sign_receipt", "sign_sources", "signatures_of", "signing_enabled",
           "token_device_records"]
