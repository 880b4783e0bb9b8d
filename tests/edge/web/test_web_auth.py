"""Accounts, sessions, CSRF, lockout, idle logout and the role matrix, over real HTTP."""

from __future__ import annotations

import time

import pytest
import sqlite_utils
from argon2 import PasswordHasher
from web_helpers import PASSWORDS, api_token, csrf_of, login

from edge.errors import ValidationError
from edge.web import accounts


async def test_login_page_and_wrong_password_lockout(client, store, settings):
    resp = await client.get("/", allow_redirects=False)
    assert resp.status == 303 and resp.headers["Location"].startswith("/login")
    page = await client.get("/login")
    assert "Đăng nhập" in await page.text()
    for attempt in range(1, settings.web.lockout_attempts + 1):
        resp = await client.post("/login", data={"username": "clerk", "password": "sai-mat-khau"},
                                 allow_redirects=False)
        assert resp.status == 401
        text = await resp.text()
        if attempt < settings.web.lockout_attempts:
            assert f"Còn {settings.web.lockout_attempts - attempt} lần thử" in text
        else:
            assert "tạm khóa" in text
    # Locked: even the right password is refused now.
    resp = await client.post("/login", data={"username": "clerk", "password": PASSWORDS["clerk"]},
                             allow_redirects=False)
    assert resp.status == 401
    assert "Tài khoản tạm khóa" in await resp.text()
    assert accounts.locked_for(store, "clerk") > (settings.web.lockout_minutes - 1) * 60
    # The API says the same with 429 and Retry-After.
    resp = await client.post("/api/v1/session", json={"username": "clerk", "password": PASSWORDS["clerk"]})
    assert resp.status == 429 and int(resp.headers["Retry-After"]) > 0
    assert (await resp.json())["error"]["code"] == "locked"
    # A supervisor unlocks; the right password then works.
    accounts.unlock(store, "clerk")
    await login(client, "clerk")
    actions = [r["action"] for r in store.query("SELECT action FROM audit ORDER BY seq")]
    assert actions.count("web.login_failed") >= settings.web.lockout_attempts + 1
    assert "web.login" in actions


async def test_unknown_user_counts_as_failure_without_saying_so(client):
    resp = await client.post("/login", data={"username": "khong-co", "password": "whatever1"})
    text = await resp.text()
    assert resp.status == 401 and "Sai tên đăng nhập hoặc mật khẩu" in text


async def test_session_cookie_flags_and_token_hash_only(client, store):
    resp = await client.post("/login", data={"username": "clerk", "password": PASSWORDS["clerk"]},
                             allow_redirects=False)
    cookie = resp.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
    token = resp.cookies["motcua_session"].value
    rows = store.query("SELECT token_hash FROM web_sessions")
    assert len(rows) == 1 and rows[0]["token_hash"] != token and token not in str(rows)


async def test_api_without_session_is_401(client):
    for method, path in (("GET", "/api/v1/dossiers"), ("POST", "/api/v1/dossiers"), ("GET", "/api/v1/sync")):
        resp = await client.request(method, path, json={})
        assert resp.status == 401
        body = await resp.json()
        assert body["error"]["code"] == "unauthenticated" and body["error"]["message_vi"]
    resp = await client.get("/api/v1/dossiers", headers={"Authorization": "Bearer not-a-token"})
    assert resp.status == 401


async def test_clerk_on_admin_routes_is_403(client):
    headers = await api_token(client, "clerk")
    resp = await client.get("/api/v1/accounts", headers=headers)
    assert resp.status == 403
    assert (await resp.json())["error"]["code"] == "forbidden"
    await login(client, "clerk")
    resp = await client.get("/admin/users")
    assert resp.status == 403 and "không có quyền" in await resp.text()
    admin = await api_token(client, "admin")
    resp = await client.get("/api/v1/accounts", headers=admin)
    assert resp.status == 200
    assert {a["username"] for a in (await resp.json())["accounts"]} == {"clerk", "super", "admin"}


async def test_csrf_missing_or_wrong_is_403(client, store):
    csrf = await login(client, "clerk")
    body = {"procedure_code": "1.004222", "applicant": {"full_name": "A B", "id_number": "001190012345"}}
    resp = await client.post("/api/v1/dossiers", json=body)
    assert resp.status == 403 and (await resp.json())["error"]["code"] == "csrf"
    resp = await client.post("/api/v1/dossiers", json=body, headers={"X-CSRF-Token": "x" * 43})
    assert resp.status == 403
    resp = await client.post("/dossiers/new", data={"procedure_code": "1.004222", "full_name": "A B",
                                                    "id_number": "001190012345"})
    assert resp.status == 403
    assert store.count() == 0
    resp = await client.post("/api/v1/dossiers", json=body, headers={"X-CSRF-Token": csrf})
    assert resp.status == 201
    # A cross-site origin is refused even with the token.
    resp = await client.post("/api/v1/dossiers", json=body,
                             headers={"X-CSRF-Token": csrf, "Origin": "http://evil.example"})
    assert resp.status == 403


async def test_bearer_writes_need_no_csrf(client):
    headers = await api_token(client, "clerk")
    resp = await client.post("/api/v1/dossiers", headers=headers, json={
        "procedure_code": "1.004222", "applicant": {"full_name": "A B", "id_number": "001190012345"}})
    assert resp.status == 201


async def test_idle_logout(client, store, settings):
    await login(client, "clerk")
    assert (await client.get("/", allow_redirects=False)).status == 200
    idle = settings.web.session_idle_minutes * 60 + 5
    await store.awrite(lambda conn: conn.execute("UPDATE web_sessions SET last_seen = ?", (time.time() - idle,)))
    resp = await client.get("/", allow_redirects=False)
    assert resp.status == 303 and resp.headers["Location"].startswith("/login")
    assert store.query("SELECT count(*) AS n FROM web_sessions")[0]["n"] == 0
    page = await client.get("/login")
    assert "hết hạn" in await page.text()


async def test_logout_ends_session(client, store):
    csrf = await login(client, "clerk")
    resp = await client.post("/logout", data={"csrf_token": csrf}, allow_redirects=False)
    assert resp.status == 303
    assert store.query("SELECT count(*) AS n FROM web_sessions")[0]["n"] == 0
    assert (await client.get("/api/v1/session")).status == 401


async def test_disabled_account_loses_sessions(client, store):
    headers = await api_token(client, "clerk")
    assert (await client.get("/api/v1/session", headers=headers)).status == 200
    accounts.set_disabled(store, "clerk", True)
    assert (await client.get("/api/v1/session", headers=headers)).status == 401
    resp = await client.post("/api/v1/session", json={"username": "clerk", "password": PASSWORDS["clerk"]})
    assert resp.status == 401 and (await resp.json())["error"]["code"] == "disabled"


def test_passwords_are_argon2id(store):
    row = store.query("SELECT password_hash FROM web_accounts WHERE username = 'clerk'")[0]
    assert row["password_hash"].startswith("$argon2id$")
    assert PasswordHasher().verify(row["password_hash"], PASSWORDS["clerk"])


def test_upsert_from_feed(store):
    hashed = PasswordHasher().hash("city-pass-9")
    record = {"username": "city.clerk", "display_name": "Cán bộ TP", "role": "clerk", "password_hash": hashed,
              "disabled": False}
    accounts.upsert_from_feed(store, record)
    accounts.upsert_from_feed(store, record)  # idempotent
    assert accounts.authenticate(store, "city.clerk", "city-pass-9", max_attempts=5, lockout_minutes=1).source == "city"
    accounts.upsert_from_feed(store, {**record, "role": "supervisor", "disabled": True})
    got = accounts.get_account(store, "city.clerk")
    assert got.role == "supervisor" and got.disabled
    with pytest.raises(ValidationError) as err:
        accounts.upsert_from_feed(store, {**record, "password_hash": "plaintext"})
    assert err.value.field == "password_hash"
    with pytest.raises(ValidationError):
        accounts.upsert_from_feed(store, {**record, "role": "root"})
    # The sync client applies its feed inside its own store write: the write nests in it.
    store.write(lambda _conn: accounts.upsert_from_feed(store, {**record, "username": "other"}))
    assert accounts.get_account(store, "other") is not None
    # A bare database (or connection) is refused, inside a store write or not: only the store's
    # single writer writes.
    bare = sqlite_utils.Database(store.root / "motcua.db")
    try:
        for target in (bare, bare.conn):
            for inside in (False, True):
                def attempt(_conn=None, target=target) -> None:
                    accounts.upsert_from_feed(target, {**record, "username": "third"})

                with pytest.raises(TypeError, match="Store"):
                    store.write(attempt) if inside else attempt()
    finally:
        bare.close()
    assert accounts.get_account(store, "third") is None


async def test_admin_creates_account_in_the_browser_form(client, store):
    csrf = await login(client, "admin")
    resp = await client.post("/admin/users", data={"csrf_token": csrf, "username": "Moi", "display_name": "Mới",
                                                   "role": "clerk", "password": "123"})
    assert resp.status == 422
    text = await resp.text()
    assert "ít nhất 6 ký tự" in text and 'value="Mới"' in text
    resp = await client.post("/admin/users", data={"csrf_token": csrf, "username": "moi", "display_name": "Mới",
                                                   "role": "clerk", "password": "123456"})
    assert resp.status == 200 and "Đã tạo tài khoản" in await resp.text()
    assert accounts.get_account(store, "moi").role == "clerk"
    assert csrf_of(await resp.text())
