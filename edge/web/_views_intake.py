"""Intake screens: new dossier, draft (applicant, checklist, pages), finalize, receipt, fee,
satisfaction rating."""

from __future__ import annotations

import logging
from typing import Any

from aiohttp import web

from edge import reception, services
from edge.errors import MotcuaError, ValidationError

from . import _chip, _views_signing
from ._actions import kick_sync, receipt_response, render_receipt_for, supervisor_override
from ._auth import check_csrf, current
from ._common import audit, blocking, form_str, off_loop
from ._errors import HttpError, not_found
from ._keys import DEVICES, EVENTS, SETTINGS, STORE
from ._render import render
from ._roles import allow
from ._uploads import save_stream

logger = logging.getLogger(__name__)

NOTICES = {
    "created": "Đã tạo hồ sơ nháp. Tiếp tục tải lên hoặc quét các thành phần hồ sơ.",
    "saved": "Đã lưu thông tin người nộp.",
    "page_added": "Đã lưu trang tài liệu (đã mã hóa).",
    "scanned": "Đã quét và lưu các trang (đã mã hóa), kèm bản PDF của thành phần hồ sơ.",
    "page_removed": "Đã xóa trang tài liệu.",
    "signed": "Đã ký số các thành phần hồ sơ (bản PDF đã ký được lưu, đã mã hóa).",
    "finalized": "Đã tiếp nhận hồ sơ. Giao giấy tiếp nhận và hẹn trả kết quả cho người nộp.",
    "refused": "Đã lập phiếu từ chối tiếp nhận. In phiếu (mẫu 03) và giao cho người nộp.",
    "supplement_requested": "Đã lập phiếu yêu cầu bổ sung. In phiếu (mẫu 02) và giao cho người nộp.",
    "printed": "Đã gửi giấy tiếp nhận tới máy in.",
    "paid": "Đã ghi nhận nộp lệ phí.",
    "rated": "Cảm ơn ông/bà đã đánh giá chất lượng phục vụ.",
    "handed_over": "Đã ghi nhận trả kết quả cho người nộp.",
}


def notice(request: web.Request) -> str | None:
    return NOTICES.get(request.query.get("msg", ""))


def _dossier_id(request: web.Request) -> str:
    value = request.match_info["id"]
    if len(value) > 64:
        raise not_found()
    return value


# --------------------------------------------------------------------------- new dossier


def _units(store) -> dict[str, Any]:
    """The administrative units the current-address selects offer (data from the hub's feed)."""
    return {"provinces": reception.provinces(store), "communes": reception.communes(store)}


def _new_context(request: web.Request, *, values: dict[str, str] | None = None, procedure_code: str = "",
                 channel: str = "direct", errors: dict[str, str] | None = None, search: str = "",
                 qr_payload: str = "", chip: dict[str, str] | None = None,
                 chip_read: _chip.ChipRead | None = None) -> dict[str, Any]:
    store = request.app[STORE]
    procedures = services.list_procedures(store)
    return {
        "values": values or dict.fromkeys(services.APPLICANT_FIELDS, ""),
        **_units(store),
        "procedures": procedures, "procedure_code": procedure_code, "channel": channel,
        "errors": errors or {}, "search": search, "qr_payload": qr_payload,
        "notice": notice(request), "qr_seq": request.app[EVENTS].seq,
        "chip": chip or dict.fromkeys(_chip.CHIP_FIELDS, ""), "chip_read": chip_read,
        "unverified_vi": _chip.UNVERIFIED_VI,
    }


async def _fill_from_chip(request: web.Request, form: Any, values: dict[str, str]) -> web.StreamResponse:
    """Read the CCCD chip with the CAN or MRZ data typed in the panel; fill the applicant fields.
    What the clerk typed elsewhere is kept; on success the access data is not sent back."""
    chip = _chip.chip_values(form)
    errors: dict[str, str] = {}
    chip_read = None
    try:
        mrz, can = _chip.parse_access(chip)
        chip_read = await blocking(_chip.read_chip, request.app[SETTINGS], mrz, can, request.app[STORE].now())
    except ValidationError as exc:
        errors[_chip.FIELD_OF.get(exc.field, exc.field if exc.field in _chip.CHIP_FIELDS else "chip")] = (
            exc.message_vi or "Thông tin mở chip không hợp lệ.")
    except MotcuaError as exc:
        errors["chip"] = exc.message_vi or "Không đọc được chip CCCD."
        await audit(request, "cccd.chip_failed", error=type(exc).__name__)
    else:
        values.update({k: v for k, v in chip_read.applicant.items() if k in values and v})
        chip = dict.fromkeys(_chip.CHIP_FIELDS, "")
        await audit(request, "cccd.chip_read", verified=chip_read.verified)
    ctx = _new_context(request, values=values, procedure_code=form_str(form, "procedure_code", 100),
                       channel=form_str(form, "channel", 20) or "direct", errors=errors,
                       qr_payload=form_str(form, "qr_payload", 2000), chip=chip, chip_read=chip_read)
    return render("dossier_new.html", request, ctx, status=422 if errors else 200)


@allow("dossier.write")
async def new_page(request: web.Request) -> web.StreamResponse:
    return render("dossier_new.html", request, _new_context(
        request, procedure_code=request.query.get("procedure", "")))


@allow("dossier.write")
async def new_submit(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    values = services.applicant_values(form)
    procedure_code = form_str(form, "procedure_code", 100)
    channel = form_str(form, "channel", 20) or "direct"
    qr_payload = form_str(form, "qr_payload", 2000)
    errors: dict[str, str] = {}
    if form.get("action") == "read_chip":
        return await _fill_from_chip(request, form, values)
    if form.get("action") == "fill_qr":
        # Fill the applicant from a pasted CCCD QR payload; nothing typed elsewhere is lost.
        from edge.devices.cccd import parse_cccd_qr

        try:
            data = parse_cccd_qr(qr_payload, today=request.app[STORE].now().date())
        except MotcuaError as exc:
            errors["qr_payload"] = exc.message_vi or "Không đọc được mã QR trên CCCD."
        else:
            values.update({k: v for k, v in data.to_applicant().items() if k in values and v})
            qr_payload = ""
        ctx = _new_context(request, values=values, procedure_code=procedure_code, channel=channel,
                           errors=errors, qr_payload=qr_payload)
        return render("dossier_new.html", request, ctx, status=422 if errors else 200)
    try:
        dossier_id = await off_loop(services.create_draft, request.app[STORE], actor=current(request).account.username,
                                          procedure_code=procedure_code, applicant=values, channel=channel)
    except ValidationError as exc:
        errors[exc.field] = exc.message_vi or str(exc)
        ctx = _new_context(request, values=values, procedure_code=procedure_code, channel=channel,
                           errors=errors, qr_payload=qr_payload)
        return render("dossier_new.html", request, ctx, status=422)
    raise web.HTTPSeeOther(f"/dossiers/{dossier_id}?msg=created")


# --------------------------------------------------------------------------- one dossier


def dossier_context(request: web.Request, dossier_id: str, *, errors: dict[str, str] | None = None,
                    values: dict[str, str] | None = None, status_notice: str | None = None) -> dict[str, Any]:
    store = request.app[STORE]
    settings = request.app[SETTINGS]
    dossier = store.get(dossier_id)
    procedure = services.recorded_procedure(store, dossier)  # the version it was received under
    items = services.checklist(dossier, procedure) if procedure else []
    channel = dossier.form.get("channel", "direct")
    quote = services.fee_quote(procedure, channel) if procedure else None
    fee = services.fee_status(dossier) if dossier.status != "draft" else None
    vietqr_payload = None
    if fee and not fee["paid"] and fee["method"] == "vietqr" and fee["vietqr_payload"]:
        vietqr_payload = fee["vietqr_payload"]
    devices = request.app[DEVICES]
    scanners = []
    if devices is not None:
        try:
            scanners = [d for d in devices.snapshot() if str(getattr(d, "kind", "")) == "scanner"
                        and str(getattr(d, "status", "")) in ("ready", "busy")]
        except Exception:
            logger.warning("device snapshot failed", exc_info=True)
    applicant = dossier.applicant.to_dict() if dossier.applicant else {}
    return {
        "dossier": dossier, "procedure": procedure, "checklist": items,
        "missing": services.missing_required(items), "channel": channel,
        "values": values or {k: applicant.get(k, "") for k in services.APPLICANT_FIELDS},
        **_units(store),
        "procedures": services.list_procedures(store) if dossier.status == "draft" else [],
        "errors": errors or {}, "notice": status_notice or notice(request), "quote": quote, "fee": fee,
        "vietqr_payload": vietqr_payload, "vietqr_configured": bool(settings.reception.vietqr_bin and settings.reception.vietqr_account),
        "printer": settings.reception.printer, "scanners": scanners,
        "max_upload_mb": services.upload_limit_mb(settings),
        "satisfaction": dossier.meta.get("satisfaction"),
        "fee_form": None,  # the fee fields as typed, set when a finalize is refused
        "counter_form": None,  # a refusal's / request's fields as typed, set when one is refused
        "outcome": services.outcome_of(dossier) or "draft",
        "outcome_vi": services.OUTCOME_VI.get(services.outcome_of(dossier), ""),
    }


@allow("dossier.read")
async def dossier_page(request: web.Request) -> web.StreamResponse:
    ctx = dossier_context(request, _dossier_id(request))
    ctx.update(await _views_signing.dossier_signing(request, ctx["dossier"]))  # ký số
    return render("dossier.html", request, ctx)


@allow("dossier.write")
async def dossier_update(request: web.Request) -> web.StreamResponse:
    dossier_id = _dossier_id(request)
    form = await request.post()
    values = services.applicant_values(form)
    try:
        await off_loop(services.update_draft, request.app[STORE], dossier_id, actor=current(request).account.username,
                             procedure_code=form_str(form, "procedure_code", 100) or None,
                             applicant=values, channel=form_str(form, "channel", 20) or None)
    except ValidationError as exc:
        ctx = dossier_context(request, dossier_id, errors={exc.field: exc.message_vi or str(exc)}, values=values)
        return render("dossier.html", request, ctx, status=422)
    raise web.HTTPSeeOther(f"/dossiers/{dossier_id}?msg=saved")


@allow("dossier.write", csrf="handler")
async def page_upload(request: web.Request) -> web.StreamResponse:
    """Multipart form: ``csrf_token`` first, then ``component``, then ``file``."""
    dossier_id = _dossier_id(request)
    store = request.app[STORE]
    settings = request.app[SETTINGS]
    fields: dict[str, str] = {}
    error: ValidationError | None = None
    page = None
    try:
        if not request.content_type.startswith("multipart/"):
            raise ValidationError("file", "expected a multipart form", message_vi="Vui lòng chọn tệp để tải lên.")
        length = request.content_length
        if length is not None and length > services.upload_limit_mb(settings) * 1024 * 1024 + 64 * 1024:
            from ._uploads import too_large

            raise too_large(services.upload_limit_mb(settings))
        reader = await request.multipart()
        while True:
            part = await reader.next()
            if part is None:
                break
            if part.name == "file":
                await check_csrf(request, fields.get("csrf_token"))
                component = fields.get("component", "")
                services.check_component(store, dossier_id, component)  # unknown component: precise message
                page = await save_stream(store, dossier_id, component=component,
                                         actor=current(request).account.username,
                                         limit_mb=services.upload_limit_mb(settings),
                                         read=lambda part=part: part.read_chunk(65536))
                break
            fields[part.name or ""] = (await part.read(decode=True))[:2000].decode("utf-8", "replace")
        if page is None:
            await check_csrf(request, fields.get("csrf_token"))
            raise ValidationError("file", "no file", message_vi="Vui lòng chọn tệp ảnh hoặc PDF để tải lên.")
    except ValidationError as exc:
        error = exc
        if exc.field == "file" and (request.content_length or 0) < 4 * services.upload_limit_mb(settings) * 1024 * 1024:
            await request.release()
    if error is not None:
        component = fields.get("component", "")
        ctx = dossier_context(request, dossier_id,
                              errors={f"file-{component}" if error.field in ("file", "media_type", "page") else error.field:
                                      error.message_vi or str(error)})
        return render("dossier.html", request, ctx, status=422)
    raise web.HTTPSeeOther(f"/dossiers/{dossier_id}?msg=page_added#component-{page.component}")


@allow("dossier.read")
async def page_view(request: web.Request) -> web.StreamResponse:
    store = request.app[STORE]
    dossier_id = _dossier_id(request)
    try:
        index = int(request.match_info["index"])
    except ValueError:
        raise not_found("page") from None
    pages = {p.index: p for p in store.pages(dossier_id)}
    if index not in pages:
        raise not_found("page")
    response = web.StreamResponse(headers={"Content-Type": pages[index].media_type,
                                           "Content-Disposition": f'inline; filename="trang-{index}"'})
    await response.prepare(request)
    for chunk in store.read_page(dossier_id, index):
        await response.write(chunk)
    await response.write_eof()
    await audit(request, "page.view", dossier_id=dossier_id, index=index)
    return response


@allow("dossier.write")
async def page_remove(request: web.Request) -> web.StreamResponse:
    dossier_id = _dossier_id(request)
    try:
        index = int(request.match_info["index"])
    except ValueError:
        raise not_found("page") from None
    await off_loop(services.remove_page, request.app[STORE], dossier_id, index, actor=current(request).account.username)
    raise web.HTTPSeeOther(f"/dossiers/{dossier_id}?msg=page_removed")


@allow("dossier.write")
async def finalize_submit(request: web.Request) -> web.StreamResponse:
    dossier_id = _dossier_id(request)
    store = request.app[STORE]
    form = await request.post()
    fee = {"method": form_str(form, "fee_method", 20), "receipt_number": form_str(form, "fee_receipt_number", 60)}
    try:
        override_by = None
        dossier = store.get(dossier_id)
        procedure = services.get_procedure(store, dossier.procedure_code)
        if services.missing_required(services.checklist(dossier, procedure)):
            if form_str(form, "override_username", 100):
                override_by = await supervisor_override(request, form_str(form, "override_username", 100),
                                                        str(form.get("override_password") or ""))
        await _views_signing.sign_before_finalize(request, dossier_id)  # ký số with the PIN held, if any
        code = await off_loop(services.finalize, store, request.app[SETTINGS], dossier_id,
                                actor=current(request).account.username, fee=fee, override_by=override_by)
    except ValidationError as exc:
        ctx = dossier_context(request, dossier_id, errors={exc.field: exc.message_vi or str(exc)})
        ctx["fee_form"] = fee
        return render("dossier.html", request, ctx, status=422)
    logger.info("dossier %s finalized as %s", dossier_id, code)
    await kick_sync(request)
    raise web.HTTPSeeOther(f"/dossiers/{dossier_id}?msg=finalized")


@allow("dossier.read")
async def receipt_download(request: web.Request) -> web.StreamResponse:
    dossier_id = _dossier_id(request)
    data, pdf = await render_receipt_for(request, dossier_id)
    pdf = await _views_signing.sign_receipt(request, pdf)  # ký số when the unit signs receipts
    await audit(request, "receipt.download", dossier_id=dossier_id)
    return receipt_response(data.code, pdf)


@allow("dossier.read")
async def receipt_print(request: web.Request) -> web.StreamResponse:
    dossier_id = _dossier_id(request)
    printer = request.app[SETTINGS].reception.printer
    if not printer:
        raise HttpError(409, "no_printer", "no printer configured",
                        message_vi="Chưa cấu hình máy in: hãy tải giấy tiếp nhận (PDF) về và in.")
    data, pdf = await render_receipt_for(request, dossier_id)
    await blocking(lambda: reception.print_pdf(pdf, printer, title=data.code))
    await audit(request, "receipt.print", dossier_id=dossier_id, printer=printer)
    raise web.HTTPSeeOther(f"/dossiers/{dossier_id}?msg=printed")


@allow("dossier.write")
async def fee_submit(request: web.Request) -> web.StreamResponse:
    dossier_id = _dossier_id(request)
    form = await request.post()
    try:
        await off_loop(services.record_payment, request.app[STORE], dossier_id, actor=current(request).account.username,
                               method=form_str(form, "fee_method", 20),
                               receipt_number=form_str(form, "fee_receipt_number", 60))
    except ValidationError as exc:
        ctx = dossier_context(request, dossier_id, errors={exc.field: exc.message_vi or str(exc)})
        return render("dossier.html", request, ctx, status=422)
    raise web.HTTPSeeOther(f"/dossiers/{dossier_id}?msg=paid")


@allow("dossier.read")
async def vietqr_image(request: web.Request) -> web.StreamResponse:
    """The fee's VietQR as an SVG drawn by the box (no outside service): the payload stored at
    finalize (the station's account, the amount, the dossier code as purpose)."""
    dossier = request.app[STORE].get(_dossier_id(request))
    payload = (dossier.meta or {}).get("vietqr_payload") if dossier.status != "draft" else None
    if not payload:
        raise not_found("vietqr")
    svg = await blocking(services.qr_svg_document, payload)
    return web.Response(body=svg, content_type="image/svg+xml", headers={"Cache-Control": "no-store"})


@allow("dossier.write")
async def rating_page(request: web.Request) -> web.StreamResponse:
    dossier_id = _dossier_id(request)
    summary = request.app[STORE].summary(dossier_id)
    return render("rating.html", request, {
        "summary": summary, "errors": {}, "comment": "", "rating": None})


@allow("dossier.write")
async def rating_submit(request: web.Request) -> web.StreamResponse:
    dossier_id = _dossier_id(request)
    store = request.app[STORE]
    form = await request.post()
    comment = form_str(form, "comment", 2000)
    try:
        await off_loop(services.rate, store, dossier_id, actor=current(request).account.username,
                     rating=form.get("rating"), comment=comment)
    except ValidationError as exc:
        return render("rating.html", request, {
            "summary": store.summary(dossier_id), "errors": {exc.field: exc.message_vi}, "comment": comment,
            "rating": form.get("rating")}, status=422)
    raise web.HTTPSeeOther(f"/dossiers/{dossier_id}?msg=rated")


def setup(app: web.Application) -> None:
    r = app.router
    r.add_get("/dossiers/new", new_page, name="dossier_new")
    r.add_post("/dossiers/new", new_submit)
    r.add_get("/dossiers/{id}", dossier_page, name="dossier")
    r.add_post("/dossiers/{id}", dossier_update)
    r.add_post("/dossiers/{id}/pages", page_upload)
    r.add_get("/dossiers/{id}/pages/{index}", page_view)
    r.add_post("/dossiers/{id}/pages/{index}/delete", page_remove)
    r.add_post("/dossiers/{id}/finalize", finalize_submit)
    r.add_get("/dossiers/{id}/receipt.pdf", receipt_download)
    r.add_post("/dossiers/{id}/print", receipt_print)
    r.add_post("/dossiers/{id}/fee", fee_submit)
    r.add_get("/dossiers/{id}/vietqr.svg", vietqr_image)
    r.add_get("/dossiers/{id}/rating", rating_page)
    r.add_post("/dossiers/{id}/rating", rating_submit)
