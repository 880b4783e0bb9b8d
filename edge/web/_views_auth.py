"""Log in, log out; the template context every page receives."""

from __future__ import annotations

from aiohttp import web

from . import _sessions, _views_signing, accounts
from ._actions import login_with_password
from ._auth import clear_session_cookie, current, session_token, set_session_cookie
from ._common import audit, form_str, safe_next
from ._keys import EVENTS, EXPIRED, STORE
from ._render import render
from ._roles import PUBLIC, allow


@allow(PUBLIC)
async def login_page(request: web.Request) -> web.StreamResponse:
    if current(request) is not None:
        raise web.HTTPSeeOther(safe_next(request.query.get("next")))
    expired = bool(request.get(EXPIRED))
    response = render("login.html", request, {
        "next": safe_next(request.query.get("next")), "username": "", "error": None, "expired": expired,
        "no_accounts": accounts.count_accounts(request.app[STORE]) == 0,
    })
    if expired:
        clear_session_cookie(response)
    return response


@allow(PUBLIC)
async def login_submit(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    username = form_str(form, "username", 100)
    password = form.get("password", "")
    password = password if isinstance(password, str) else ""
    next_path = safe_next(form_str(form, "next", 500))
    error = None
    if not username:
        error = {"field": "username", "message_vi": "Vui lòng nhập tên đăng nhập."}
    elif not password:
        error = {"field": "password", "message_vi": "Vui lòng nhập mật khẩu hoặc mã PIN."}
    else:
        try:
            account = await login_with_password(request, username, password)
        except accounts.AuthError as exc:
            await audit(request, "web.login_failed", who=accounts.normalize_username(username), reason=exc.code)
            error = {"field": "password", "message_vi": exc.message_vi}
        else:
            # A fresh token every login; a session the browser already carried ends here (fixation).
            previous = request.cookies.get(_sessions.COOKIE_NAME)
            if previous:
                await _sessions.aend_session(request.app[STORE], previous)
                request.app[EVENTS].close_session(_sessions.token_hash(previous))
            token, _csrf = await _sessions.acreate_session(request.app[STORE], account.username)
            await audit(request, "web.login", who=account.username, via="form")
            response = web.HTTPSeeOther(next_path)
            set_session_cookie(response, token, secure=request.secure)
            raise response
    return render("login.html", request, {
        "next": next_path, "username": username, "error": error, "expired": False,
        "no_accounts": False,
    }, status=401 if error and error["field"] == "password" else 422)


@allow("session")
async def logout(request: web.Request) -> web.StreamResponse:
    token, _how = session_token(request)
    if token:
        await _sessions.aend_session(request.app[STORE], token)
        request.app[EVENTS].close_session(_sessions.token_hash(token))
        _views_signing.forget_pin(request)  # the token PIN held for this session goes with it
    await audit(request, "web.logout")
    response = web.HTTPSeeOther("/login")
    clear_session_cookie(response)
    raise response


def setup(app: web.Application) -> None:
    app.router.add_get("/login", login_page, name="login")
    app.router.add_post("/login", login_submit)
    app.router.add_post("/logout", logout, name="logout")
