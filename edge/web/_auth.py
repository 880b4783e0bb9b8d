"""The security middleware: session or bearer token, role matrix, CSRF, security headers.

Browser: the session token travels in an HttpOnly, SameSite=Strict cookie; every unsafe request
carries the CSRF token (form field ``csrf_token`` or header ``X-CSRF-Token``).
Integrators: ``POST /api/v1/session`` returns a token sent as ``Authorization: Bearer <token>``;
requests authenticated that way need no CSRF token (a browser never adds that header by itself).
Both kinds of session are server-side and end after the same idle time.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from . import _sessions
from ._errors import csrf_failed, forbidden, unauthorized
from ._keys import AUTH_VIA, EXPIRED, SESSION, SETTINGS, STORE
from ._roles import PERMISSION_VI, PUBLIC, has, permission_of

_SAFE = {"GET", "HEAD", "OPTIONS"}

CSP = ("default-src 'self'; img-src 'self' data: blob:; style-src 'self'; script-src 'self'; "
       "object-src 'none'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'")


def bearer_token(request: web.Request) -> str | None:
    header = request.headers.get("Authorization", "")
    if header[:7].lower() == "bearer ":
        return header[7:].strip() or None
    return None


def session_token(request: web.Request) -> tuple[str | None, str | None]:
    """(token, how): from the Authorization header first, then the cookie."""
    token = bearer_token(request)
    if token:
        return token, "bearer"
    token = request.cookies.get(_sessions.COOKIE_NAME)
    return (token, "cookie") if token else (None, None)


def current(request: web.Request) -> _sessions.Session | None:
    return request.get(SESSION)


def actor(request: web.Request) -> str:
    session = current(request)
    return session.account.username if session else "anonymous"


async def check_csrf(request: web.Request, candidate: str | None) -> None:
    """Refuse an unsafe cookie-authenticated request without the right CSRF token."""
    if request.get(AUTH_VIA) != "cookie":
        return
    token = request.cookies.get(_sessions.COOKIE_NAME, "")
    if not _sessions.csrf_valid(token, candidate):
        raise csrf_failed()


def _origin_ok(request: web.Request) -> bool:
    origin = request.headers.get("Origin")
    if not origin or origin == "null":
        return origin is None
    host = request.headers.get("Host", "")
    return origin.split("://", 1)[-1] == host


@web.middleware
async def security_middleware(request: web.Request, handler: Any) -> web.StreamResponse:
    route_handler = request.match_info.handler
    resource = request.match_info.route.resource
    if isinstance(resource, web.StaticResource):
        permission, csrf_mode = PUBLIC, "auto"
    else:
        permission, csrf_mode = permission_of(route_handler)
    settings = request.app[SETTINGS]
    store = request.app[STORE]
    token, how = session_token(request)
    session = None
    if token:
        session = await _sessions.aresolve_session(store, token, idle_minutes=settings.web.session_idle_minutes)
        if session is None and how == "cookie":
            request[EXPIRED] = True
    request[SESSION] = session
    request[AUTH_VIA] = how if session else None
    if permission is None:
        # Deny by default: a route that forgot to declare its permission serves nobody.
        raise forbidden()
    if permission != PUBLIC:
        if session is None:
            raise unauthorized()
        if not has(session.account.role, permission):
            raise forbidden(PERMISSION_VI.get(permission, "thực hiện thao tác này"))
    if request.method not in _SAFE and how != "bearer" and not _origin_ok(request):
        raise csrf_failed()
    if request.method not in _SAFE and session is not None and how == "cookie" and permission != PUBLIC:
        if csrf_mode == "auto":
            candidate = request.headers.get("X-CSRF-Token")
            # Multipart bodies are never parsed here (aiohttp would spool files to disk):
            # upload handlers read the token from the first part themselves (csrf="handler").
            if candidate is None and request.content_type == "application/x-www-form-urlencoded":
                form = await request.post()
                value = form.get("csrf_token")
                candidate = value if isinstance(value, str) else None
            await check_csrf(request, candidate)
    response = await handler(request)
    return response


@web.middleware
async def headers_middleware(request: web.Request, handler: Any) -> web.StreamResponse:
    try:
        response = await handler(request)
    except web.HTTPException as exc:  # redirects (a log-in's 303 sets the session cookie) too
        _security_headers(request, exc.headers, exc.content_type)
        raise
    _security_headers(request, response.headers, response.content_type)
    return response


def _security_headers(request: web.Request, headers: Any, content_type: str) -> None:
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "same-origin")  # "no-referrer" makes Chromium send Origin: null
    headers.setdefault("X-Frame-Options", "DENY")
    if not request.path.startswith("/static/"):
        headers.setdefault("Cache-Control", "no-store")
    if content_type == "text/html":
        headers.setdefault("Content-Security-Policy", CSP)


def set_session_cookie(response: web.StreamResponse, token: str, *, secure: bool) -> None:
    response.set_cookie(_sessions.COOKIE_NAME, token, httponly=True, samesite="Strict", path="/",
                        secure=secure)


def clear_session_cookie(response: web.StreamResponse) -> None:
    response.del_cookie(_sessions.COOKIE_NAME, path="/")
