"""Intake over real HTTP: bad input gets a precise Vietnamese message and keeps what was typed;
the full flow through the JSON API; uploads checked by content and size."""

from __future__ import annotations

import datetime as dt
import io
import re

from web_helpers import APPLICANT, PASSWORDS, PDF, PNG, api_token, csrf_of, login

from edge.web._openapi import OPERATIONS

PROC = "1.004222"  # Đăng ký tạm trú: CT01 and CMCH required, 15 000 đồng direct


def form(csrf: str, **over: str) -> dict[str, str]:
    return {"csrf_token": csrf, "procedure_code": PROC, "channel": "direct", **APPLICANT, **over}


def field_error(html: str, name: str) -> str:
    match = re.search(rf'id="f-{name}-error" role="alert">([^<]+)<', html)
    assert match, f"no error message next to {name}"
    return match.group(1)


async def test_bad_input_messages_keep_values(client, store):
    csrf = await login(client)
    cases = [
        ({"id_number": "12345"}, "id_number", "đúng 12 chữ số"),
        ({"id_number": "00119001234X"}, "id_number", "chỉ gồm chữ số"),
        ({"full_name": ""}, "full_name", "họ và tên"),
        ({"date_of_birth": (dt.date.today() + dt.timedelta(days=3)).isoformat()}, "date_of_birth", "tương lai"),
        ({"date_of_birth": "17/05/1990"}, "date_of_birth", "Ngày sinh"),
        ({"procedure_code": "9.999999"}, "procedure_code", "Không có thủ tục"),
        ({"procedure_code": ""}, "procedure_code", "chọn thủ tục"),
        ({"email": "khong-phai-email"}, "email", "email"),
        ({"phone": "abc"}, "phone", "điện thoại"),
    ]
    for over, field, words in cases:
        resp = await client.post("/dossiers/new", data=form(csrf, **over))
        assert resp.status == 422, over
        html = await resp.text()
        assert words.lower() in field_error(html, field).lower(), (over, field_error(html, field))
        # Nothing typed is lost: the other fields come back as entered.
        assert 'value="Lê Thị Hồng Nhung"' in html or over.get("full_name") == ""
        assert "12 Phố Huế, Hà Nội" in html
    assert store.count() == 0


async def test_qr_payload_fills_the_form(client):
    csrf = await login(client)
    payload = "001190012345|012345678|Lê Thị Hồng Nhung|17051990|Nữ|12 Phố Huế, Hà Nội|01012021"
    resp = await client.post("/dossiers/new", data={"csrf_token": csrf, "action": "fill_qr", "qr_payload": payload,
                                                    "phone": "0912345678"})
    html = await resp.text()
    assert resp.status == 200
    assert 'value="001190012345"' in html and 'value="1990-05-17"' in html and 'value="0912345678"' in html
    resp = await client.post("/dossiers/new", data={"csrf_token": csrf, "action": "fill_qr", "qr_payload": "rác|1"})
    assert resp.status == 422
    assert field_error(await resp.text(), "qr_payload")


async def _draft(client, csrf: str) -> str:
    resp = await client.post("/dossiers/new", data=form(csrf), allow_redirects=False)
    assert resp.status == 303, await resp.text()
    return resp.headers["Location"].split("?")[0].rsplit("/", 1)[1]


async def _upload(client, csrf, dossier_id, component, data, name="a.png"):
    import aiohttp

    body = aiohttp.FormData()
    body.add_field("csrf_token", csrf)
    body.add_field("component", component)
    body.add_field("file", io.BytesIO(data), filename=name, content_type="application/octet-stream")
    return await client.post(f"/dossiers/{dossier_id}/pages", data=body, allow_redirects=False)


async def test_upload_checks_content_and_size(client, store, settings):
    csrf = await login(client)
    dossier_id = await _draft(client, csrf)
    resp = await _upload(client, csrf, dossier_id, "CT01", b"MZ\x90\x00 not an image at all", "virus.png")
    assert resp.status == 422
    assert "không phải ảnh" in await resp.text()
    big = PNG + b"\x00" * (settings.web.max_upload_mb * 1024 * 1024 + 10)
    resp = await _upload(client, csrf, dossier_id, "CT01", big)
    assert resp.status == 422
    assert f"({settings.web.max_upload_mb} MB)" in await resp.text()
    resp = await _upload(client, csrf, dossier_id, "NOPE", PNG)
    assert resp.status == 422
    resp = await _upload(client, "wrong-token", dossier_id, "CT01", PNG)
    assert resp.status == 403
    assert store.get(dossier_id).pages == ()
    resp = await _upload(client, csrf, dossier_id, "CT01", PNG)
    assert resp.status == 303
    (page,) = store.get(dossier_id).pages
    assert page.media_type == "image/png" and page.component == "CT01"
    assert b"".join(store.read_page(dossier_id, page.index)) == PNG
    view = await client.get(f"/dossiers/{dossier_id}/pages/{page.index}")
    assert await view.read() == PNG


async def test_finalize_missing_components_needs_supervisor(client, store):
    csrf = await login(client)
    dossier_id = await _draft(client, csrf)
    assert (await _upload(client, csrf, dossier_id, "CT01", PNG)).status == 303
    resp = await client.post(f"/dossiers/{dossier_id}/finalize", data={"csrf_token": csrf, "fee_method": "cash",
                                                                       "fee_receipt_number": "BL-001"})
    assert resp.status == 422
    html = await resp.text()
    assert "Còn thiếu thành phần hồ sơ bắt buộc" in html and "Cần lãnh đạo duyệt" in html
    # A clerk's own credentials are not an override.
    resp = await client.post(f"/dossiers/{dossier_id}/finalize", data={
        "csrf_token": csrf, "fee_method": "cash", "fee_receipt_number": "BL-001",
        "override_username": "clerk", "override_password": PASSWORDS["clerk"]})
    assert resp.status == 422 and "không có quyền" in await resp.text()
    resp = await client.post(f"/dossiers/{dossier_id}/finalize", data={
        "csrf_token": csrf, "fee_method": "cash", "fee_receipt_number": "",
        "override_username": "super", "override_password": PASSWORDS["super"]})
    assert resp.status == 422 and "số biên lai" in await resp.text()
    assert store.summary(dossier_id).status == "draft"
    resp = await client.post(f"/dossiers/{dossier_id}/finalize", data={
        "csrf_token": csrf, "fee_method": "cash", "fee_receipt_number": "BL-001",
        "override_username": "super", "override_password": PASSWORDS["super"]}, allow_redirects=False)
    assert resp.status == 303
    dossier = store.get(dossier_id)
    assert dossier.status == "finalized" and dossier.code.startswith("000.00.06.H56-")
    assert dossier.meta["override"] == {"by": "super", "missing": ["CMCH"]}
    rows = store.query("SELECT actor, details FROM audit WHERE action = 'dossier.override_missing'")
    assert rows and rows[0]["actor"] == "super" and "Nhung" not in rows[0]["details"]
    page = await client.get(f"/dossiers/{dossier_id}")
    assert dossier.code in await page.text()


async def test_full_flow_over_the_json_api(client, store):
    h = await api_token(client, "clerk")
    resp = await client.post("/api/v1/dossiers", headers=h, json={"procedure_code": PROC, "applicant": {
        **APPLICANT, "id_number": "123"}})
    assert resp.status == 422
    err = (await resp.json())["error"]
    assert err["field"] == "id_number" and "12 chữ số" in err["message_vi"] and err["code"] == "invalid"
    resp = await client.post("/api/v1/dossiers", headers=h, json={"procedure_code": "0.000000", "applicant": APPLICANT})
    assert (await resp.json())["error"]["field"] == "procedure_code"
    resp = await client.post("/api/v1/dossiers", headers=h, data=b"not json")
    assert resp.status == 415
    resp = await client.post("/api/v1/dossiers", headers=h, json={"procedure_code": PROC, "applicant": APPLICANT})
    assert resp.status == 201
    dossier = await resp.json()
    did = dossier["id"]
    assert [c["code"] for c in dossier["checklist"] if c["required"]] == ["CT01", "CMCH"]
    resp = await client.post(f"/api/v1/dossiers/{did}/pages?component=CT01", headers={**h, "Content-Type": "image/png"}, data=PNG)
    assert resp.status == 201
    resp = await client.post(f"/api/v1/dossiers/{did}/pages?component=CMCH", headers=h, data=b"hello world, text")
    assert resp.status == 422 and (await resp.json())["error"]["field"] == "file"
    resp = await client.post(f"/api/v1/dossiers/{did}/finalize", headers=h, json={"fee": {"method": "cash", "receipt_number": "7"}})
    assert resp.status == 422 and (await resp.json())["error"]["field"] == "components"
    resp = await client.post(f"/api/v1/dossiers/{did}/pages?component=CMCH", headers=h, data=PDF)
    assert resp.status == 201
    resp = await client.post(f"/api/v1/dossiers/{did}/finalize", headers=h, json={"fee": {"method": "cash", "receipt_number": "7"}})
    assert resp.status == 200, await resp.text()
    final = await resp.json()
    assert final["status"] == "finalized" and final["due_at"] and final["fee"]["paid"] and final["fee"]["total"] == 15000
    code = final["code"]
    resp = await client.get(f"/api/v1/dossiers/{did}/receipt.pdf", headers=h)
    assert resp.status == 200 and (await resp.read()).startswith(b"%PDF")
    for query in ({"code": code}, {"code": f"https://x.example/tra-cuu?ma={code}"}, {"id_number": "001190012345"},
                  {"name": "hồng nhung"}):
        resp = await client.post("/api/v1/lookup", headers=h, json=query)
        assert [d["id"] for d in (await resp.json())["dossiers"]] == [did], query
    resp = await client.post("/api/v1/lookup", headers=h, json={"id_number": "12"})
    assert resp.status == 422 and (await resp.json())["error"]["field"] == "id_number"
    resp = await client.post(f"/api/v1/dossiers/{did}/rating", headers=h, json={"rating": 9})
    assert resp.status == 422 and (await resp.json())["error"]["field"] == "rating"
    resp = await client.post(f"/api/v1/dossiers/{did}/rating", headers=h, json={"rating": 5, "comment": "Cán bộ nhiệt tình"})
    assert resp.status == 200
    meta = store.get(did).meta["satisfaction"]
    assert meta["rating"] == 5 and "nhiệt tình" not in str(meta)
    resp = await client.post(f"/api/v1/dossiers/{did}/handover", headers=h)
    assert (await resp.json())["status"] == "handed_over"
    resp = await client.get("/api/v1/dossiers?limit=5", headers=h)
    assert [d["code"] for d in (await resp.json())["dossiers"]] == [code]
    actors = {r["actor"] for r in store.query("SELECT actor FROM audit WHERE dossier_id = ?", (did,))}
    assert actors == {"clerk"}
    # Nothing the citizen typed stands readable anywhere under the state directory.
    store.checkpoint()
    from tests.plaintext import find_plaintext

    assert find_plaintext(store.root, [APPLICANT["full_name"], APPLICANT["id_number"], APPLICANT["address"],
                                       "Cán bộ nhiệt tình"]) == []


async def test_openapi_matches_routes(client):
    resp = await client.get("/api/v1/openapi.json")
    doc = await resp.json()
    assert doc["openapi"].startswith("3.")
    routes = {(r.method.lower(), r.resource.canonical[len("/api/v1"):]) for r in client.app.router.routes()
              if r.resource is not None and r.resource.canonical.startswith("/api/v1") and r.method != "HEAD"}
    documented = {(m, p) for m, p, *_ in OPERATIONS}
    assert routes == documented


async def test_pages_without_devices_or_sync_say_so(client):
    await login(client)
    assert "không có" in await (await client.get("/devices")).text()
    assert "không có" in await (await client.get("/sync")).text()
    resp = await client.get("/healthz")
    assert (await resp.json())["status"] == "ok"
    assert (await client.get("/status")).status == 200
    resp = await client.get("/static/app.css")
    assert resp.status == 200


async def test_dossier_list_and_lookup_pages(client, store):
    csrf = await login(client)
    dossier_id = await _draft(client, csrf)
    html = await (await client.get("/dossiers")).text()
    assert f"/dossiers/{dossier_id}" in html
    html = await (await client.post("/lookup", data={"csrf_token": csrf, "by": "id", "q": "001190012345"})).text()
    assert f"/dossiers/{dossier_id}" in html
    resp = await client.post("/lookup", data={"csrf_token": csrf, "by": "id", "q": "0011"})
    assert resp.status == 422 and "12 chữ số" in await resp.text()
    assert csrf_of(html)
    # Every form of a draft's page carries the session's token (macros see the context).
    page = await (await client.get(f"/dossiers/{dossier_id}")).text()
    tokens = set(re.findall(r'name="csrf_token" value="([^"]*)"', page))
    assert tokens == {csrf}
