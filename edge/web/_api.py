"""The JSON API under ``/api/v1`` (described by ``/api/v1/openapi.json``)."""

from __future__ import annotations

import dataclasses
import json
from typing import TYPE_CHECKING, Any

from aiohttp import web

from edge import services
from edge.errors import ValidationError
from edge.store import LIST_STATUSES

from . import _sessions, accounts
from ._actions import (
    devices_state,
    health,
    kick_sync,
    login_with_password,
    receipt_response,
    render_receipt_for,
    start_scan,
    supervisor_override,
    sync_state,
)
from ._auth import current, session_token
from ._common import audit, off_loop
from ._errors import HttpError, not_found
from ._keys import EVENTS, SETTINGS, STORE
from ._openapi import openapi_document
from ._paging import list_page_json
from ._roles import PUBLIC, allow
from ._uploads import save_stream

if TYPE_CHECKING:
    from edge.store import Store

API = "/api/v1"


# Field types (as annotated, ``from __future__ import annotations``: strings) whose values JSON
# takes as they are; a summary type with any other field goes through ``dataclasses.asdict``.
_FLAT_TYPES = {"str", "int", "float", "bool", "str | None", "int | None", "float | None", "bool | None"}
_FIELD_NAMES: dict[type, tuple[str, ...]] = {}


def _summary(s: Any) -> dict[str, Any]:
    """A summary as JSON: its fields, shallow. ``dataclasses.asdict`` deep-copies every value
    and was most of a list page's time; a summary holding a nested value still goes through it."""
    kind = type(s)
    names = _FIELD_NAMES.get(kind)
    if names is None:
        names = tuple(f.name for f in dataclasses.fields(s))
        flat = all(f.type in _FLAT_TYPES for f in dataclasses.fields(s))
        _FIELD_NAMES[kind] = names = names if flat else ()
    if not names:
        return dataclasses.asdict(s)
    return {name: getattr(s, name) for name in names}


async def _body(request: web.Request) -> dict[str, Any]:
    if request.content_type != "application/json":
        raise HttpError(415, "unsupported_media_type", "send application/json",
                        message_vi="Dữ liệu gửi lên phải ở dạng JSON (Content-Type: application/json).")
    try:
        body = await request.json()
    except (ValueError, UnicodeDecodeError, RecursionError):  # RecursionError: nesting too deep
        raise HttpError(400, "bad_json", "the body is not valid JSON", message_vi="Dữ liệu JSON không hợp lệ.") from None
    if not isinstance(body, dict):
        raise HttpError(400, "bad_json", "the body must be a JSON object", message_vi="Dữ liệu phải là một đối tượng JSON.")
    return body


def _dossier_json(store: Store, dossier_id: str) -> dict[str, Any]:
    return services.dossier_view(store, dossier_id)


def _id(request: web.Request) -> str:
    value = request.match_info["id"]
    if len(value) > 64:
        raise not_found()
    return value


# --------------------------------------------------------------------------- session


@allow(PUBLIC)
async def session_create(request: web.Request) -> web.Response:
    body = await _body(request)
    username, password = body.get("username"), body.get("password")
    if not isinstance(username, str) or not username:
        raise ValidationError("username", "is required", message_vi="Vui lòng nhập tên đăng nhập.")
    if not isinstance(password, str) or not password:
        raise ValidationError("password", "is required", message_vi="Vui lòng nhập mật khẩu hoặc mã PIN.")
    try:
        account = await login_with_password(request, username, password)
    except accounts.AuthError as exc:
        await audit(request, "web.login_failed", who=accounts.normalize_username(username), reason=exc.code, via="api")
        raise
    token, csrf = await _sessions.acreate_session(request.app[STORE], account.username)
    await audit(request, "web.login", who=account.username, via="api")
    return web.json_response({"token": token, "csrf_token": csrf, "token_type": "Bearer",
                              "idle_timeout_minutes": request.app[SETTINGS].web.session_idle_minutes,
                              "account": account.to_dict()}, status=201)


@allow("session")
async def session_get(request: web.Request) -> web.Response:
    session = current(request)
    return web.json_response({"account": session.account.to_dict(), "csrf_token": session.csrf_token})


@allow("session")
async def session_delete(request: web.Request) -> web.Response:
    token, _how = session_token(request)
    if token:
        await _sessions.aend_session(request.app[STORE], token)
        request.app[EVENTS].close_session(_sessions.token_hash(token))
    await audit(request, "web.logout", via="api")
    return web.json_response({"ok": True})


# --------------------------------------------------------------------------- catalog


@allow("dossier.read")
async def procedures(request: web.Request) -> web.Response:
    found = services.list_procedures(request.app[STORE], request.query.get("search"))
    return web.json_response({"procedures": [p.to_dict() for p in found]})


@allow("dossier.read")
async def procedure(request: web.Request) -> web.Response:
    found = services.get_procedure(request.app[STORE], request.match_info["code"], field="code")
    return web.json_response(found.to_dict())


# --------------------------------------------------------------------------- dossiers


@allow("dossier.read")
async def dossiers(request: web.Request) -> web.Response:
    store = request.app[STORE]
    try:
        limit = int(request.query.get("limit", "50"))
        offset = int(request.query.get("offset", "0"))
    except ValueError:
        raise ValidationError("limit", "limit and offset must be integers",
                              message_vi="limit và offset phải là số nguyên.") from None
    if not 1 <= limit <= 500 or offset < 0:
        raise ValidationError("limit", "limit must be 1..500 and offset ≥ 0",
                              message_vi="limit phải từ 1 đến 500, offset không âm.")
    status = request.query.get("status") or None
    if status not in (None, *LIST_STATUSES):
        raise ValidationError("status", f"unknown status (one of {', '.join(LIST_STATUSES)})",
                              message_vi="Trạng thái không hợp lệ.")
    # The summaries come out of SQLite as JSON texts and go out as they are (the list page's
    # time was mostly a Python object per field and json.dumps over them).
    texts, next_cursor = list_page_json(store, limit=limit, offset=offset, status=status,
                                        before=request.query.get("before") or None)
    tail = json.dumps({"limit": limit, "offset": offset, "next_cursor": next_cursor})
    body = '{"dossiers":[' + ",".join(texts) + "]," + tail[1:]
    return web.Response(text=body, content_type="application/json")


@allow("dossier.write")
async def dossier_create(request: web.Request) -> web.Response:
    body = await _body(request)
    applicant = body.get("applicant")
    if not isinstance(applicant, dict):
        raise ValidationError("applicant", "must be an object", message_vi="Thiếu thông tin người nộp (applicant).")
    unknown = sorted(set(applicant) - set(services.APPLICANT_FIELDS))
    if unknown:
        raise ValidationError(unknown[0], "unknown applicant field", message_vi=f"Trường không hợp lệ: {unknown[0]}.")
    bad = [k for k, v in applicant.items() if v is not None and not isinstance(v, str)]
    if bad:
        raise ValidationError(bad[0], "must be a string", message_vi=f"Trường {bad[0]} phải là chuỗi ký tự.")
    dossier_id = await off_loop(services.create_draft, request.app[STORE], actor=current(request).account.username,
                                      procedure_code=str(body.get("procedure_code") or ""),
                                      applicant={k: v or "" for k, v in applicant.items()},
                                      channel=str(body.get("channel") or "direct"))
    return web.json_response(_dossier_json(request.app[STORE], dossier_id), status=201,
                             headers={"Location": f"{API}/dossiers/{dossier_id}"})


@allow("dossier.read")
async def dossier_get(request: web.Request) -> web.Response:
    return web.json_response(_dossier_json(request.app[STORE], _id(request)))


@allow("dossier.write")
async def dossier_patch(request: web.Request) -> web.Response:
    body = await _body(request)
    dossier_id = _id(request)
    applicant = body.get("applicant")
    if applicant is not None and not isinstance(applicant, dict):
        raise ValidationError("applicant", "must be an object", message_vi="Thông tin người nộp không hợp lệ.")
    await off_loop(services.update_draft, request.app[STORE], dossier_id, actor=current(request).account.username,
                         procedure_code=body.get("procedure_code"), applicant=applicant,
                         channel=body.get("channel"))
    return web.json_response(_dossier_json(request.app[STORE], dossier_id))


@allow("dossier.write")
async def page_add(request: web.Request) -> web.Response:
    """Raw body (image or PDF); ``?component=CODE``. Content is checked by its magic bytes."""
    dossier_id = _id(request)
    store = request.app[STORE]
    settings = request.app[SETTINGS]
    component = request.query.get("component", "")
    services.check_component(store, dossier_id, component)
    length = request.content_length
    if length is not None and length > services.upload_limit_mb(settings) * 1024 * 1024:
        from ._uploads import too_large

        raise too_large(services.upload_limit_mb(settings))
    page = await save_stream(store, dossier_id, component=component, actor=current(request).account.username,
                             limit_mb=services.upload_limit_mb(settings), read=lambda: request.content.readany())
    return web.json_response(dataclasses.asdict(page), status=201)


@allow("dossier.write")
async def page_delete(request: web.Request) -> web.Response:
    try:
        index = int(request.match_info["index"])
    except ValueError:
        raise not_found("page") from None
    await off_loop(services.remove_page, request.app[STORE], _id(request), index, actor=current(request).account.username)
    return web.json_response({"ok": True})


@allow("dossier.write")
async def finalize(request: web.Request) -> web.Response:
    body = await _body(request)
    dossier_id = _id(request)
    override = body.get("override")
    override_by = None
    if override is not None:
        if not isinstance(override, dict):
            raise ValidationError("override", "must be an object", message_vi="Thông tin duyệt của lãnh đạo không hợp lệ.")
        override_by = await supervisor_override(request, str(override.get("username") or ""),
                                                str(override.get("password") or ""))
    fee = body.get("fee")
    if fee is not None and not isinstance(fee, dict):
        raise ValidationError("fee", "must be an object", message_vi="Thông tin lệ phí không hợp lệ.")
    await off_loop(services.finalize, request.app[STORE], request.app[SETTINGS], dossier_id, actor=current(request).account.username,
                     fee=fee, override_by=override_by)
    await kick_sync(request)
    return web.json_response(_dossier_json(request.app[STORE], dossier_id))


@allow("dossier.read")
async def receipt(request: web.Request) -> web.Response:
    dossier_id = _id(request)
    data, pdf = await render_receipt_for(request, dossier_id)
    await audit(request, "receipt.download", dossier_id=dossier_id, via="api")
    return receipt_response(data.code, pdf)


@allow("dossier.write")
async def payment(request: web.Request) -> web.Response:
    body = await _body(request)
    dossier_id = _id(request)
    await off_loop(services.record_payment, request.app[STORE], dossier_id, actor=current(request).account.username,
                           method=str(body.get("method") or ""), receipt_number=str(body.get("receipt_number") or ""))
    return web.json_response(_dossier_json(request.app[STORE], dossier_id))


@allow("dossier.write")
async def rating(request: web.Request) -> web.Response:
    body = await _body(request)
    dossier_id = _id(request)
    comment = body.get("comment") or ""
    if not isinstance(comment, str):
        raise ValidationError("comment", "must be a string", message_vi="Góp ý phải là chuỗi ký tự.")
    await off_loop(services.rate, request.app[STORE], dossier_id, actor=current(request).account.username,
                 rating=body.get("rating"), comment=comment)
    return web.json_response({"ok": True})


@allow("dossier.handover")
async def handover(request: web.Request) -> web.Response:
    dossier_id = _id(request)
    await off_loop(services.hand_over, request.app[STORE], dossier_id, actor=current(request).account.username)
    return web.json_response(_dossier_json(request.app[STORE], dossier_id))


@allow("dossier.read")
async def lookup(request: web.Request) -> web.Response:
    """POST, so that ID numbers and names never appear in a URL (access logs, history)."""
    q = await _body(request)
    values = {k: q.get(k) or "" for k in ("code", "id_number", "name")}
    bad = [k for k, v in values.items() if not isinstance(v, str)]
    if bad:
        raise ValidationError(bad[0], "must be a string", message_vi=f"Trường {bad[0]} phải là chuỗi ký tự.")
    found = services.find(request.app[STORE], **values)
    return web.json_response({"dossiers": [_summary(r) for r in found]})


@allow("devices.scan")
async def scan(request: web.Request) -> web.Response:
    body = await _body(request)
    started = await start_scan(request, _id(request), component=str(body.get("component") or ""),
                               pages=body.get("pages", 1), device=str(body.get("device") or ""),
                               source=str(body.get("source") or ""))
    return web.json_response(started, status=202)


# --------------------------------------------------------------------------- panels, accounts


@allow("devices.view")
async def devices(request: web.Request) -> web.Response:
    return web.json_response(devices_state(request.app))


@allow("sync.view")
async def sync(request: web.Request) -> web.Response:
    state = await sync_state(request.app)
    return web.json_response({"available": state is not None, "status": state})


@allow("accounts.manage")
async def accounts_list(request: web.Request) -> web.Response:
    return web.json_response({"accounts": [a.to_dict() for a in accounts.list_accounts(request.app[STORE])]})


@allow("accounts.manage")
async def accounts_create(request: web.Request) -> web.Response:
    body = await _body(request)
    fields = {k: body.get(k) for k in ("username", "display_name", "role", "password")}
    for key, value in fields.items():
        if not isinstance(value, str):
            raise ValidationError(key, "is required (string)", message_vi=f"Thiếu trường {key}.")
    account = await off_loop(accounts.create_account, request.app[STORE], fields["username"],
                             fields["display_name"], fields["role"], fields["password"])
    await audit(request, "account.create", username=account.username, role=account.role, via="api")
    return web.json_response(account.to_dict(), status=201)


@allow(PUBLIC)
async def openapi(request: web.Request) -> web.Response:
    return web.json_response(openapi_document())


@allow(PUBLIC)
async def api_health(request: web.Request) -> web.Response:
    body = health(request.app)
    return web.json_response(body, status=200 if body["status"] == "ok" else 503)


def setup(app: web.Application) -> None:
    r = app.router
    r.add_get(f"{API}/openapi.json", openapi)
    r.add_get(f"{API}/health", api_health)
    r.add_post(f"{API}/session", session_create)
    r.add_get(f"{API}/session", session_get)
    r.add_delete(f"{API}/session", session_delete)
    r.add_get(f"{API}/procedures", procedures)
    r.add_get(f"{API}/procedures/{{code}}", procedure)
    r.add_get(f"{API}/dossiers", dossiers)
    r.add_post(f"{API}/dossiers", dossier_create)
    r.add_get(f"{API}/dossiers/{{id}}", dossier_get)
    r.add_patch(f"{API}/dossiers/{{id}}", dossier_patch)
    r.add_post(f"{API}/dossiers/{{id}}/pages", page_add)
    r.add_delete(f"{API}/dossiers/{{id}}/pages/{{index}}", page_delete)
    r.add_post(f"{API}/dossiers/{{id}}/finalize", finalize)
    r.add_get(f"{API}/dossiers/{{id}}/receipt.pdf", receipt)
    r.add_post(f"{API}/dossiers/{{id}}/payment", payment)
    r.add_post(f"{API}/dossiers/{{id}}/rating", rating)
    r.add_post(f"{API}/dossiers/{{id}}/handover", handover)
    r.add_post(f"{API}/dossiers/{{id}}/scan", scan)
    r.add_post(f"{API}/lookup", lookup)
    r.add_get(f"{API}/devices", devices)
    r.add_get(f"{API}/sync", sync)
    r.add_get(f"{API}/accounts", accounts_list)
    r.add_post(f"{API}/accounts", accounts_create)
