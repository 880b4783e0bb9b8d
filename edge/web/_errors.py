"""Errors at the HTTP boundary: one JSON shape for the API, a Vietnamese page for the browser.

API errors: ``{"error": {"code", "message", "message_vi", "field"}}``.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import quote

from aiohttp import web

from edge.errors import MotcuaError, NotFoundError, StoreLockedError, ValidationError

from .accounts import AuthError

logger = logging.getLogger(__name__)


class HttpError(MotcuaError):
    """An answer other than success, with its HTTP status and the field at fault."""

    def __init__(self, status: int, code: str, message: str, *, message_vi: str,
                 field: str | None = None, headers: dict[str, str] | None = None) -> None:
        super().__init__(message, message_vi=message_vi)
        self.status = status
        self.code = code
        self.field = field
        self.headers = headers or {}


def unauthorized() -> HttpError:
    return HttpError(401, "unauthenticated", "login required",
                     message_vi="Vui lòng đăng nhập (phiên làm việc không có hoặc đã hết hạn).")


def forbidden(what_vi: str = "thực hiện thao tác này") -> HttpError:
    return HttpError(403, "forbidden", "your role does not allow this",
                     message_vi=f"Tài khoản của bạn không có quyền {what_vi}.")


def csrf_failed() -> HttpError:
    return HttpError(403, "csrf", "missing or wrong CSRF token",
                     message_vi="Phiên biểu mẫu không hợp lệ hoặc đã hết hạn. Vui lòng tải lại trang và thử lại.")


def not_found(what: str = "dossier") -> HttpError:
    names = {"dossier": "hồ sơ", "procedure": "thủ tục", "page": "trang tài liệu", "account": "tài khoản",
             "route": "trang"}
    return HttpError(404, "not_found", f"{what} not found",
                     message_vi=f"Không tìm thấy {names.get(what, what)}.")


def from_exception(exc: BaseException) -> HttpError:
    """Map an error raised below the web layer to an HTTP answer."""
    if isinstance(exc, HttpError):
        return exc
    if isinstance(exc, ValidationError):
        return HttpError(422, "invalid", str(exc), field=exc.field,
                         message_vi=exc.message_vi or "Dữ liệu không hợp lệ.")
    if isinstance(exc, AuthError):
        status = {"locked": 429, "busy": 429, "forbidden": 403}.get(exc.code, 401)
        headers = {"Retry-After": str(exc.retry_after)} if exc.retry_after else None
        return HttpError(status, exc.code, str(exc), message_vi=exc.message_vi or "", field="password",
                         headers=headers)
    if isinstance(exc, NotFoundError):
        return HttpError(404, "not_found", str(exc), message_vi=exc.message_vi or "Không tìm thấy.")
    if isinstance(exc, StoreLockedError):
        return HttpError(503, "store_locked", str(exc),
                         message_vi=exc.message_vi or "Kho dữ liệu đang khóa: cần nhập mật khẩu trạm.")
    if isinstance(exc, MotcuaError):
        return HttpError(409, "refused", str(exc), message_vi=exc.message_vi or "Không thực hiện được thao tác.")
    return HttpError(500, "internal", "internal error",
                     message_vi="Lỗi hệ thống. Vui lòng thử lại hoặc báo quản trị.")


def is_api(request: web.Request) -> bool:
    return (request.path.startswith("/api/") or request.path in ("/healthz", "/metrics")
            or request.content_type == "application/json")


def json_error(err: HttpError) -> web.Response:
    body: dict[str, Any] = {"error": {"code": err.code, "message": str(err), "message_vi": err.message_vi,
                                      "field": err.field}}
    return web.json_response(body, status=err.status, headers=err.headers)


@web.middleware
async def error_middleware(request: web.Request, handler: Any) -> web.StreamResponse:
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400 or not is_api(request):
            if exc.status == 404 and not is_api(request):
                return await _page(request, not_found("route"))
            raise
        code = {404: "not_found", 405: "method_not_allowed", 413: "too_large"}.get(exc.status, "http")
        return json_error(HttpError(exc.status, code, exc.reason or "error",
                                    message_vi="Không tìm thấy." if exc.status == 404 else "Yêu cầu không hợp lệ."))
    except Exception as exc:  # every error becomes an answer; unexpected ones are logged
        if isinstance(exc, ConnectionError) and _client_gone(request):
            # A browser leaving a page closes its event stream: normal, and nobody is left to
            # answer. aiohttp itself then drops the connection quietly.
            logger.debug("client went away during %s %s", request.method, request.path)
            raise
        err = from_exception(exc)
        if err.status >= 500:
            logger.exception("unhandled error on %s %s", request.method, request.path)
        return await _answer(request, err)


def _client_gone(request: web.Request) -> bool:
    transport = request.transport
    return transport is None or transport.is_closing()


async def _answer(request: web.Request, err: HttpError) -> web.StreamResponse:
    if is_api(request):
        return json_error(err)
    if err.status == 401:
        # Quoted: a decoded path may hold "&", "#" or control characters (%0d%0a).
        raise web.HTTPSeeOther(f"/login?next={quote(request.path, safe='/')}") from None
    return await _page(request, err)


async def _page(request: web.Request, err: HttpError) -> web.Response:
    from ._render import render  # the page may fail before the context is built

    response = render("error.html", request, {"error": err}, status=err.status)
    for k, v in err.headers.items():
        response.headers[k] = v
    return response
