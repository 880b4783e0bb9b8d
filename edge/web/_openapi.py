"""The OpenAPI 3 description of ``/api/v1`` (hand-written; a test checks it matches the routes)."""

from __future__ import annotations

from typing import Any

from edge.store import LIST_STATUSES, OUTCOMES

_ERROR = {"$ref": "#/components/responses/Error"}

# (method, path, summary, permission, request body schema or None, success status)
OPERATIONS: tuple[tuple[str, str, str, str, Any, int], ...] = (
    ("get", "/health", "Liveness and store health", "public", None, 200),
    ("post", "/session", "Log in; returns a bearer token and a CSRF token", "public", "#/components/schemas/Login", 201),
    ("get", "/session", "The current account", "session", None, 200),
    ("delete", "/session", "Log out (ends the server-side session)", "session", None, 200),
    ("get", "/procedures", "Procedure catalog (?search=)", "dossier.read", None, 200),
    ("get", "/procedures/{code}", "One procedure", "dossier.read", None, 200),
    ("get", "/dossiers", "Dossier list, newest first (?limit=1..500&status=&before=CURSOR; next_cursor in the answer continues the list; offset= still works); each summary carries its outcome, and status= also takes refused or supplement_requested", "dossier.read", None, 200),
    ("post", "/dossiers", "Create a draft dossier", "dossier.write", "#/components/schemas/DossierCreate", 201),
    ("get", "/dossiers/{id}", "One dossier with applicant, pages, checklist, fee", "dossier.read", None, 200),
    ("patch", "/dossiers/{id}", "Change a draft (applicant, procedure_code, channel)", "dossier.write", "#/components/schemas/DossierPatch", 200),
    ("post", "/dossiers/{id}/pages", "Add a page: raw image/PDF body, ?component=CODE (checked by magic bytes)", "dossier.write", "binary", 201),
    ("delete", "/dossiers/{id}/pages/{index}", "Remove a page of a draft", "dossier.write", None, 200),
    ("post", "/dossiers/{id}/finalize", "Finalize: code, appointment, seal, queue for sync", "dossier.write", "#/components/schemas/Finalize", 200),
    ("get", "/dossiers/{id}/receipt.pdf", "The receipt (two copies) as PDF", "dossier.read", None, 200),
    ("post", "/dossiers/{id}/refuse", "Refuse a draft (form 03): code, seal, queue for sync; no appointment", "dossier.write", "#/components/schemas/Refuse", 200),
    ("post", "/dossiers/{id}/request-supplement", "Send a draft back for supplements by component (form 02)", "dossier.write", "#/components/schemas/SupplementRequest", 200),
    ("get", "/dossiers/{id}/form.pdf", "Form 02 or 03 of a refused or sent-back dossier, as PDF", "dossier.read", None, 200),
    ("post", "/dossiers/{id}/payment", "Record the fee payment after finalize", "dossier.write", "#/components/schemas/Payment", 200),
    ("post", "/dossiers/{id}/rating", "Satisfaction rating 1-5 with an optional comment", "dossier.write", "#/components/schemas/Rating", 200),
    ("post", "/dossiers/{id}/handover", "Mark the result handed over", "dossier.handover", None, 200),
    ("post", "/dossiers/{id}/scan", "Start a scanner batch into a component (progress on /events: scan_status, then scan_done)", "devices.scan", "#/components/schemas/Scan", 202),
    ("post", "/lookup", "Find dossiers by code (or a scanned receipt QR), ID number or name (in the body, never the URL)", "dossier.read", "#/components/schemas/Lookup", 200),
    ("get", "/devices", "Peripherals and driver health", "devices.view", None, 200),
    ("get", "/sync", "Sync status: pending, oldest unsynced age, last success, last error", "sync.view", None, 200),
    ("get", "/accounts", "Clerk accounts", "accounts.manage", None, 200),
    ("post", "/accounts", "Create a clerk account", "accounts.manage", "#/components/schemas/AccountCreate", 201),
    ("get", "/openapi.json", "This document", "public", None, 200),
)

_APPLICANT = {
    "type": "object", "additionalProperties": False, "required": ["full_name", "id_number"],
    "properties": {
        "full_name": {"type": "string", "maxLength": 200},
        "id_number": {"type": "string", "pattern": "^[0-9]{12}$", "description": "CCCD number, 12 digits"},
        "old_id_number": {"type": "string", "description": "old CMND, 9 or 12 digits"},
        "date_of_birth": {"type": "string", "format": "date", "description": "not in the future"},
        "gender": {"type": "string", "enum": ["", "Nam", "Nữ", "Khác"]},
        "address": {"type": "string", "description": "the permanent address exactly as printed on the card"},
        "phone": {"type": "string"}, "email": {"type": "string"},
        "current_province": {"type": "string", "pattern": "^([0-9]{2})?$", "description": "province code (admin units)"},
        "current_commune": {"type": "string", "pattern": "^([0-9]{5})?$", "description": "commune code, of that province"},
        "current_street": {"type": "string", "maxLength": 300, "description": "house number, street or hamlet"},
    },
}

SCHEMAS: dict[str, Any] = {
    "Error": {"type": "object", "required": ["error"], "properties": {"error": {
        "type": "object", "required": ["code", "message", "message_vi"],
        "properties": {"code": {"type": "string"}, "message": {"type": "string"},
                       "message_vi": {"type": "string", "description": "for the clerk, in Vietnamese"},
                       "field": {"type": ["string", "null"], "description": "the input field at fault"}}}}},
    "Refuse": {"type": "object", "required": ["reason"], "properties": {
        "reason": {"type": "string", "maxLength": 1000}, "legal_basis": {"type": "string", "maxLength": 1000}}},
    "SupplementRequest": {"type": "object", "required": ["items"], "properties": {"items": {
        "type": "array", "minItems": 1, "items": {"type": "object", "required": ["component", "note"], "properties": {
            "component": {"type": "string", "description": "a component code of the procedure version"},
            "note": {"type": "string", "maxLength": 500}}}}}},
    "Login": {"type": "object", "required": ["username", "password"],
              "properties": {"username": {"type": "string"}, "password": {"type": "string"}}},
    "Applicant": _APPLICANT,
    "DossierCreate": {"type": "object", "required": ["procedure_code", "applicant"], "properties": {
        "procedure_code": {"type": "string"}, "channel": {"type": "string", "enum": ["direct", "online", "postal"]},
        "applicant": {"$ref": "#/components/schemas/Applicant"}}},
    "DossierPatch": {"type": "object", "properties": {
        "procedure_code": {"type": "string"}, "channel": {"type": "string"},
        "applicant": {"$ref": "#/components/schemas/Applicant"}}},
    "Finalize": {"type": "object", "properties": {
        "fee": {"type": "object", "properties": {"method": {"type": "string", "enum": ["cash", "vietqr", "later"]},
                                                 "receipt_number": {"type": "string"}}},
        "override": {"type": "object", "description": "a supervisor's credentials, needed when required components are missing",
                     "properties": {"username": {"type": "string"}, "password": {"type": "string"}}}}},
    "Payment": {"type": "object", "required": ["method"], "properties": {
        "method": {"type": "string", "enum": ["cash", "vietqr"]}, "receipt_number": {"type": "string"}}},
    "Rating": {"type": "object", "required": ["rating"], "properties": {
        "rating": {"type": "integer", "minimum": 1, "maximum": 5}, "comment": {"type": "string", "maxLength": 1000}}},
    "Lookup": {"type": "object", "description": "exactly one of code, id_number, name", "properties": {
        "code": {"type": "string"}, "id_number": {"type": "string", "pattern": "^[0-9]{12}$"},
        "name": {"type": "string", "minLength": 2}}},
    "Scan": {"type": "object", "required": ["component"], "properties": {
        "component": {"type": "string"}, "pages": {"type": "integer", "minimum": 1}, "device": {"type": "string"},
        "source": {"type": "string", "enum": ["", "ADF", "Flatbed", "Duplex"]}}},
    "DossierSummary": {
        "type": "object", "description": "non-personal columns of a dossier (what a list shows)",
        "required": ["id", "code", "procedure_code", "status", "outcome", "city_status", "sync_state", "created_at",
                     "finalized_at", "due_at", "page_count"],
        "properties": {
            "id": {"type": "string"}, "code": {"type": ["string", "null"], "description": "null for a draft"},
            "procedure_code": {"type": "string"},
            "status": {"type": "string", "enum": ["draft", "finalized", "handed_over", "shredded"],
                       "description": "the life-cycle status: a refused or sent-back dossier is closed, so finalized"},
            "outcome": {"type": ["string", "null"], "enum": ["received", *OUTCOMES, None],
                        "description": "null for a draft; refused (form 03) or supplement_requested (form 02) "
                                       "for a dossier that was not received"},
            "city_status": {"type": ["string", "null"]}, "sync_state": {"type": ["string", "null"]},
            "created_at": {"type": "string", "format": "date-time"},
            "finalized_at": {"type": ["string", "null"], "format": "date-time"},
            "due_at": {"type": ["string", "null"], "format": "date-time"},
            "page_count": {"type": "integer", "minimum": 0}}},
    "DossierList": {"type": "object", "required": ["dossiers", "limit", "offset", "next_cursor"], "properties": {
        "dossiers": {"type": "array", "items": {"$ref": "#/components/schemas/DossierSummary"}},
        "limit": {"type": "integer"}, "offset": {"type": "integer"},
        "next_cursor": {"type": ["string", "null"], "description": "pass as before= for the next page"}}},
    "AccountCreate": {"type": "object", "required": ["username", "display_name", "role", "password"], "properties": {
        "username": {"type": "string"}, "display_name": {"type": "string"},
        "role": {"type": "string", "enum": ["clerk", "supervisor", "admin"]}, "password": {"type": "string", "minLength": 6}}},
}

DESCRIPTION = """JSON API of a Trạm Một Cửa reception box. Every operation of the clerk web app.

**Authentication.** `POST /session` with a username and password returns a `token`. Send it as
`Authorization: Bearer <token>`; bearer requests need no CSRF token. A browser session uses the
HttpOnly, SameSite=Strict cookie `motcua_session` instead; then every write (POST, PATCH, DELETE)
must carry the session's CSRF token in the `X-CSRF-Token` header (from `GET /session`), or it is
refused with 403 `csrf`. Sessions are server-side and end after `web.session_idle_minutes` without
a request. After `web.lockout_attempts` wrong passwords in a row an account is locked for
`web.lockout_minutes` (429 `locked`, with `Retry-After`).

**Authorization.** Roles clerk, supervisor, admin. Each operation names its permission in
`x-permission`; clerks, supervisors and admins may receive and look up dossiers; only supervisors
and admins may approve a dossier with missing required components; only admins manage accounts.
Without a session: 401 `unauthenticated`; without the right: 403 `forbidden`.

**Errors** are `{"error": {"code", "message", "message_vi", "field"}}`; `field` names the input at
fault (422 `invalid`)."""


#: Query parameters of ``GET /dossiers``.
LIST_PARAMETERS = [
    {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 500, "default": 50}},
    {"name": "offset", "in": "query", "schema": {"type": "integer", "minimum": 0, "default": 0}},
    {"name": "status", "in": "query", "schema": {"type": "string", "enum": list(LIST_STATUSES)},
     "description": "a life-cycle status, or an outcome: refused, supplement_requested. finalized lists the "
                    "dossiers received (a refused or sent-back dossier is listed under its outcome only)"},
    {"name": "before", "in": "query", "schema": {"type": "string"}, "description": "next_cursor of the page before"},
]
_RESULTS = {("get", "/dossiers"): "#/components/schemas/DossierList"}


def openapi_document() -> dict[str, Any]:
    paths: dict[str, Any] = {}
    for method, path, summary, permission, body, status in OPERATIONS:
        op: dict[str, Any] = {"summary": summary, "x-permission": permission,
                              "responses": {str(status): {"description": "success"}, "default": _ERROR}}
        if permission == "public":
            op["security"] = []
        params = [{"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
                  for name in ("id", "index", "code") if "{" + name + "}" in path]
        if (method, path) == ("get", "/dossiers"):
            params = list(LIST_PARAMETERS)
        if params:
            op["parameters"] = params
        if (method, path) in _RESULTS:
            op["responses"][str(status)]["content"] = {"application/json": {"schema": {"$ref": _RESULTS[method, path]}}}
        if body == "binary":
            op["requestBody"] = {"required": True, "content": {
                media: {"schema": {"type": "string", "format": "binary"}}
                for media in ("image/png", "image/jpeg", "image/tiff", "application/pdf")}}
        elif body:
            op["requestBody"] = {"required": True, "content": {"application/json": {"schema": {"$ref": body}}}}
        if path.endswith(".pdf"):
            op["responses"][str(status)]["content"] = {"application/pdf": {}}
        paths.setdefault(path, {})[method] = op
    return {
        "openapi": "3.1.0",
        "info": {"title": "Trạm Một Cửa API", "version": "1", "description": DESCRIPTION},
        "servers": [{"url": "/api/v1"}],
        "security": [{"bearer": []}, {"cookie": []}],
        "paths": paths,
        "components": {
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "description": "token from POST /session"},
                "cookie": {"type": "apiKey", "in": "cookie", "name": "motcua_session",
                           "description": "browser session; writes need the X-CSRF-Token header"},
            },
            "schemas": SCHEMAS,
            "responses": {"Error": {"description": "error", "content": {
                "application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}},
        },
    }
