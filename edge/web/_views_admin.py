"""Account administration: list, create, disable/enable, unlock, reset a password."""

from __future__ import annotations

from aiohttp import web

from edge.errors import ValidationError

from . import accounts
from ._common import audit, form_str, off_loop
from ._keys import EVENTS, STORE
from ._render import render
from ._roles import allow

NOTICES = {"created": "Đã tạo tài khoản.", "disabled": "Đã vô hiệu hóa tài khoản.",
           "enabled": "Đã kích hoạt lại tài khoản.", "unlocked": "Đã mở khóa tài khoản.",
           "password": "Đã đặt lại mật khẩu; các phiên cũ đã bị đóng."}


def _ctx(request: web.Request, **extra: object) -> dict[str, object]:
    db = request.app[STORE]
    listed = accounts.list_accounts(db)
    return {"accounts": listed, "locked": {a.username: accounts.locked_for(db, a.username) for a in listed},
            "roles": accounts.ROLES, "role_names": accounts.ROLE_NAMES_VI,
            "notice": NOTICES.get(request.query.get("msg", "")), "errors": {},
            "values": {"username": "", "display_name": "", "role": "clerk"}, **extra}


@allow("accounts.manage")
async def users_page(request: web.Request) -> web.StreamResponse:
    return render("users.html", request, _ctx(request))


@allow("accounts.manage")
async def user_create(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    values = {"username": form_str(form, "username", 100), "display_name": form_str(form, "display_name", 200),
              "role": form_str(form, "role", 20)}
    password = form.get("password")
    try:
        account = await off_loop(accounts.create_account, request.app[STORE], values["username"],
                                 values["display_name"], values["role"], password if isinstance(password, str) else "")
    except ValidationError as exc:
        return render("users.html", request, _ctx(
            request, errors={exc.field: exc.message_vi}, values=values), status=422)
    await audit(request, "account.create", username=account.username, role=account.role)
    raise web.HTTPSeeOther("/admin/users?msg=created")


@allow("accounts.unlock")
async def user_action(request: web.Request) -> web.StreamResponse:
    username = request.match_info["username"]
    action = request.match_info["action"]
    store = request.app[STORE]
    from ._auth import current
    from ._roles import has

    role = current(request).account.role
    if accounts.get_account(store, username) is None:
        raise ValidationError("username", "no such account", message_vi="Không có tài khoản này.")
    if action == "unlock":
        await off_loop(accounts.unlock, store, username)
        msg = "unlocked"
    elif not has(role, "accounts.manage"):
        from ._errors import forbidden

        raise forbidden("quản lý tài khoản")
    elif action in ("disable", "enable"):
        await off_loop(accounts.set_disabled, store, username, action == "disable")
        if action == "disable":
            request.app[EVENTS].close_account(accounts.normalize_username(username))
        msg = action + "d"
    elif action == "password":
        form = await request.post()
        password = form.get("password")
        try:
            # The argon2id hash and the write both run off the event loop.
            await off_loop(accounts.set_password, store, username, password if isinstance(password, str) else "")
            request.app[EVENTS].close_account(accounts.normalize_username(username))
        except ValidationError as exc:
            return render("users.html", request, _ctx(
                request, errors={"password-" + username: exc.message_vi}), status=422)
        msg = "password"
    else:
        raise web.HTTPNotFound()
    await audit(request, f"account.{action}", username=username)
    raise web.HTTPSeeOther(f"/admin/users?msg={msg}")


def setup(app: web.Application) -> None:
    app.router.add_get("/admin/users", users_page, name="users")
    app.router.add_post("/admin/users", user_create)
    app.router.add_post("/admin/users/{username}/{action}", user_action)
