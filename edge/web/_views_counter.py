"""Refuse a draft (form 03) or send it back for supplements (form 02): the screens and the JSON API.

The work is ``edge.services``' (``refuse``, ``request_supplement``, ``counter_form``); this module
reads the form or the JSON body, maps a refusal of bad input to the screen (422, what was typed
kept) or to the API's error, and serves the form's PDF.
"""

from __future__ import annotations

import logging
from typing import Any

from aiohttp import web

from edge import services
from edge.errors import ValidationError

from ._actions import kick_sync
from ._api import _body
from ._auth import current
from ._common import audit, blocking, form_str, off_loop
from ._errors import HttpError, not_found
from ._keys import SETTINGS, STORE
from ._render import render
from ._roles import allow

logger = logging.getLogger(__name__)
API = "/api/v1"


def _id(request: web.Request) -> str:
    value = request.match_info["id"]
    if len(value) > 64:
        raise not_found()
    return value


def _form_items(form: Any, store, dossier_id: str) -> list[dict[str, str]]:
    """The ticked components (``supplement``) with their text (``note_CODE``)."""
    ticked = [str(v) for v in form.getall("supplement", [])][:100]
    return [{"component": code, "note": form_str(form, f"note_{code}", 500)} for code in ticked]


def _screen_error(request: web.Request, dossier_id: str, exc: ValidationError, typed: dict[str, Any]):
    from ._views_intake import dossier_context

    ctx = dossier_context(request, dossier_id, errors={f"counter_{exc.field}": exc.message_vi or str(exc)})
    ctx["counter_form"] = typed
    return render("dossier.html", request, ctx, status=422)


@allow("dossier.write")
async def refuse_submit(request: web.Request) -> web.StreamResponse:
    dossier_id = _id(request)
    form = await request.post()
    reason, basis = form_str(form, "reason", 1000), form_str(form, "legal_basis", 1000)
    try:
        code = await off_loop(services.refuse, request.app[STORE], dossier_id,
                              actor=current(request).account.username, reason=reason, legal_basis=basis)
    except ValidationError as exc:
        return _screen_error(request, dossier_id, exc, {"reason": reason, "legal_basis": basis})
    logger.info("dossier %s refused as %s", dossier_id, code)
    await kick_sync(request)
    raise web.HTTPSeeOther(f"/dossiers/{dossier_id}?msg=refused")


@allow("dossier.write")
async def supplement_submit(request: web.Request) -> web.StreamResponse:
    dossier_id = _id(request)
    form = await request.post()
    items = _form_items(form, request.app[STORE], dossier_id)
    try:
        code = await off_loop(services.request_supplement, request.app[STORE], dossier_id,
                              actor=current(request).account.username, items=items)
    except ValidationError as exc:
        return _screen_error(request, dossier_id, exc, {"items": {i["component"]: i["note"] for i in items}})
    logger.info("dossier %s sent back for supplements as %s", dossier_id, code)
    await kick_sync(request)
    raise web.HTTPSeeOther(f"/dossiers/{dossier_id}?msg=supplement_requested")


async def _form_pdf(request: web.Request, *, via: str) -> web.Response:
    dossier_id = _id(request)
    store = request.app[STORE]
    clerk = current(request).account.display_name
    pdf = await blocking(lambda: services.counter_form(store, request.app[SETTINGS], dossier_id, clerk_name=clerk))
    summary = store.summary(dossier_id)
    await audit(request, "counter_form.download", dossier_id=dossier_id, via=via)
    return web.Response(body=pdf, content_type="application/pdf", headers={
        "Content-Disposition": f'attachment; filename="phieu-{summary.code}.pdf"'})


@allow("dossier.read")
async def form_download(request: web.Request) -> web.StreamResponse:
    return await _form_pdf(request, via="web")


# --------------------------------------------------------------------------- JSON API


@allow("dossier.write")
async def api_refuse(request: web.Request) -> web.Response:
    body = await _body(request)
    dossier_id = _id(request)
    for key in ("reason", "legal_basis"):
        if body.get(key) is not None and not isinstance(body[key], str):
            raise ValidationError(key, "must be a string", message_vi=f"Trường {key} phải là chuỗi ký tự.")
    await off_loop(services.refuse, request.app[STORE], dossier_id, actor=current(request).account.username,
                   reason=body.get("reason"), legal_basis=body.get("legal_basis") or "")
    await kick_sync(request)
    return web.json_response(services.dossier_view(request.app[STORE], dossier_id))


@allow("dossier.write")
async def api_request_supplement(request: web.Request) -> web.Response:
    body = await _body(request)
    dossier_id = _id(request)
    items = body.get("items")
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise ValidationError("items", "must be a list of {component, note}",
                              message_vi="Danh sách thành phần cần bổ sung (items) không hợp lệ.")
    await off_loop(services.request_supplement, request.app[STORE], dossier_id,
                   actor=current(request).account.username, items=items)
    await kick_sync(request)
    return web.json_response(services.dossier_view(request.app[STORE], dossier_id))


@allow("dossier.read")
async def api_form(request: web.Request) -> web.Response:
    if not request.app[STORE].summary(_id(request)).code:
        raise HttpError(409, "not_closed", "the dossier is still a draft",
                        message_vi="Hồ sơ đang soạn: chưa có phiếu 02/03.")
    return await _form_pdf(request, via="api")


def setup(app: web.Application) -> None:
    r = app.router
    r.add_post("/dossiers/{id}/refuse", refuse_submit)
    r.add_post("/dossiers/{id}/request-supplement", supplement_submit)
    r.add_get("/dossiers/{id}/form.pdf", form_download)
    r.add_post(f"{API}/dossiers/{{id}}/refuse", api_refuse)
    r.add_post(f"{API}/dossiers/{{id}}/request-supplement", api_request_supplement)
    r.add_get(f"{API}/dossiers/{{id}}/form.pdf", api_form)
