"""The web boundary as an attacker sees it: every route's role check, headers, redirects, XSS, bodies."""

from __future__ import annotations

import json
import re

import pytest
from aiohttp import web
from web_helpers import APPLICANT, PASSWORDS, csrf_of, login

from edge import reception
from edge.web import _sessions
from edge.web._roles import MATRIX, PUBLIC, has, permission_of

ROLES = {"clerk": "clerk", "supervisor": "super", "admin": "admin"}
XSS = "<script>alert(1)</script>\"'><img src=x onerror=alert(2)>"


def _routes(app: web.Application):
    """(method, path template, permission) of every route the app registers, static files included."""
    out = []
    for route in app.router.routes():
        resource = route.resource
        if isinstance(resource, web.StaticResource):
            out.append((route.method, resource.canonical + "/app.css", PUBLIC))
            continue
        permission, _csrf = permission_of(route.handler)
        out.append((route.method, resource.canonical, permission))
    return out


def _fill(path: str, dossier_id: str) -> str:
    return (path.replace("{id}", dossier_id).replace("{index}", "0").replace("{username}", "clerk")
            .replace("{action}", "unlock").replace("{code}", "1.004222"))


def test_every_route_declares_a_known_permission(client):
    routes = _routes(client.app)
    assert len(routes) > 50
    undeclared = [(m, p) for m, p, perm in routes if perm is None]
    assert undeclared == []
    assert {perm for _m, _p, perm in routes} - {PUBLIC} <= set(MATRIX)


async def test_role_matrix_holds_on_every_route(client, store):
    """Each route, asked by nobody and by each role (bearer: no CSRF in the way), answers as the
    matrix says; no route lets an anonymous caller in unless it is public."""
    dossier_id = store.create_draft(procedure_code="1.004222", applicant=APPLICANT, actor="clerk",
                                    form={"channel": "direct"})
    routes = _routes(client.app)
    checked = 0
    for method, template, permission in routes:
        # Fresh sessions per route: POST /logout and DELETE /api/v1/session end the caller's own.
        tokens = {role: _sessions.create_session(store, user)[0] for role, user in ROLES.items()}
        path = _fill(template, dossier_id)
        async with client.request(method, path, allow_redirects=False, json={}) as resp:
            if permission == PUBLIC:
                assert resp.status not in (401, 403), (method, path, resp.status)
            elif path.startswith("/api/"):
                assert resp.status == 401, (method, path, resp.status)
            else:
                assert resp.status in (401, 303), (method, path, resp.status)
                if resp.status == 303:
                    assert resp.headers["Location"].startswith("/login"), (method, path)
        for role, token in tokens.items():
            async with client.request(method, path, allow_redirects=False, json={},
                                      headers={"Authorization": f"Bearer {token}"}) as resp:
                if has(role, permission):
                    assert resp.status not in (401, 403), (role, method, path, resp.status)
                else:
                    assert resp.status == 403, (role, method, path, resp.status)
            checked += 1
    assert checked == 3 * len(routes)


async def test_security_headers_on_every_kind_of_answer(client, store):
    await login(client, "clerk")
    dossier_id = store.create_draft(procedure_code="1.004222", applicant=APPLICANT, actor="clerk",
                                    form={"channel": "direct"})
    for path in ("/", f"/dossiers/{dossier_id}", "/lookup", "/api/v1/dossiers", f"/api/v1/dossiers/{dossier_id}",
                 "/login", "/qr/recent", "/no-such-page", "/static/app.js", "/sync/kick"):
        resp = await client.get(path, allow_redirects=False)
        assert resp.headers["X-Frame-Options"] == "DENY", path
        assert resp.headers["X-Content-Type-Options"] == "nosniff", path
        assert resp.headers["Referrer-Policy"] == "same-origin", path
        if not path.startswith("/static/"):
            assert resp.headers["Cache-Control"] == "no-store", path  # pages carry personal data
        if resp.content_type == "text/html":
            csp = resp.headers["Content-Security-Policy"]
            assert "frame-ancestors 'none'" in csp and "script-src 'self'" in csp and "unsafe-inline" not in csp


@pytest.mark.parametrize("target", [
    "//evil.example/", "https://evil.example/", "/\\evil.example", "/\t/evil.example", "/\n/evil.example",
    "/\r\n/evil.example", " //evil.example", "/\x00/evil", "javascript:alert(1)", "/%0d%0aSet-Cookie:x=1",
])
async def test_login_next_never_leaves_the_box(client, target):
    resp = await client.post("/login", data={"username": "clerk", "password": PASSWORDS["clerk"], "next": target},
                             allow_redirects=False)
    assert resp.status == 303
    location = resp.headers["Location"]
    # A percent-encoded line break is a harmless local path (it stays encoded).
    assert location == "/" or (location.lower() == target.lower() and "%0d" in target), repr(location)
    assert "\r" not in location and "\n" not in location
    # Already logged in: the login page forwards, through the same check.
    resp = await client.get("/login", params={"next": target}, allow_redirects=False)
    assert resp.status == 303 and (resp.headers["Location"] == "/" or "%0d" in target)


async def test_login_redirect_quotes_the_requested_path(client):
    resp = await client.get("/dossiers%0d%0aX-Evil:%201", allow_redirects=False)
    assert resp.status in (303, 403)
    assert "X-Evil" not in resp.headers
    resp = await client.get("/dossiers/a&next=evil", allow_redirects=False)
    assert resp.status == 303
    assert resp.headers["Location"] == "/login?next=/dossiers/a%26next%3Devil"


async def test_login_issues_a_new_session_and_ends_the_one_carried(client, store):
    planted = "attacker-chosen-token"
    client.session.cookie_jar.update_cookies({_sessions.COOKIE_NAME: planted})
    await login(client, "clerk")
    first = client.session.cookie_jar.filter_cookies(client.make_url("/"))[_sessions.COOKIE_NAME].value
    assert first != planted
    await login(client, "super")  # a second log-in from the same browser
    second = client.session.cookie_jar.filter_cookies(client.make_url("/"))[_sessions.COOKIE_NAME].value
    assert second != first
    assert _sessions.resolve_session(store, first, idle_minutes=60) is None
    assert store.query("SELECT username FROM web_sessions") == [{"username": "super"}]


async def test_deeply_nested_json_is_a_400_not_a_crash(client):
    csrf = await login(client, "clerk")
    for body in ("[" * 200_000, '{"a":' * 200_000, "1" * 10_000):
        resp = await client.post("/api/v1/dossiers", data=body, headers={"Content-Type": "application/json",
                                                                          "X-CSRF-Token": csrf})
        assert resp.status == 400, (body[:5], resp.status)
        assert (await resp.json())["error"]["code"] == "bad_json"
    resp = await client.post("/api/v1/lookup", data="[" * 200_000,
                             headers={"Content-Type": "application/json", "X-CSRF-Token": csrf})
    assert resp.status == 400


async def test_names_from_applicants_and_the_catalog_are_escaped(client, store):
    raw = json.loads(reception.DEMO_CATALOG.read_text(encoding="utf-8"))
    raw["procedures"][0]["name"] = "Thủ tục " + XSS  # as a catalog from the hub's feed could carry it
    raw["procedures"][0]["components"][0]["name"] = "Giấy " + XSS
    reception.import_catalog(store, raw["procedures"], source="test")
    code = raw["procedures"][0]["code"]
    dossier_id = store.create_draft(procedure_code=code, applicant={**APPLICANT, "full_name": "Lê " + XSS.replace("1", "")},
                                    actor="clerk", form={"channel": "direct", "note": XSS})
    csrf = await login(client, "clerk")
    pages = ["/", "/dossiers", f"/dossiers/{dossier_id}", "/dossiers/new", f"/dossiers/new?procedure_code={code}"]
    for path in pages:
        html = await (await client.get(path)).text()
        assert "<script>alert" not in html and "<img src=x" not in html, path
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in await (await client.get(f"/dossiers/{dossier_id}")).text()
    resp = await client.post("/lookup", data={"csrf_token": csrf, "by": "id_number", "q": APPLICANT["id_number"]})
    html = await resp.text()
    assert "<script>alert" not in html and "<img src=x" not in html
    assert csrf_of(html)


async def test_upload_filename_is_never_a_path(client, store):
    csrf = await login(client, "clerk")
    dossier_id = store.create_draft(procedure_code="1.004222", applicant=APPLICANT, actor="clerk",
                                    form={"channel": "direct"})
    from aiohttp import FormData

    png = (b"\x89PNG\r\n\x1a\n" + b"\x00" * 64)
    form = FormData()
    form.add_field("csrf_token", csrf)
    form.add_field("component", "CT01")
    form.add_field("file", png, filename="../../../../tmp/evil.png", content_type="image/png")
    resp = await client.post(f"/dossiers/{dossier_id}/pages", data=form, allow_redirects=False)
    assert resp.status in (200, 303), await resp.text()
    page = store.get(dossier_id).pages[0]
    assert re.fullmatch(r"[0-9a-f]{64}", page.blob) and page.media_type == "image/png"
    names = {p.name for p in store.root.rglob("*")} | {p.name for p in store.root.parent.rglob("*")}
    assert "evil.png" not in names
