"""Refused and sent-back dossiers in the lists, over real HTTP: the API list carries the outcome
and filters by it, the web list shows it in Vietnamese, the OpenAPI describes it; the list
endpoint's JSON is the summaries' (``Store.list``) and still needs a session with the right role."""

from __future__ import annotations

import dataclasses

import pytest
from web_helpers import APPLICANT, api_token, login

from edge.store import LIST_STATUSES

PROC = "1.004222"


async def _closed(client, h) -> dict[str, str]:
    ids = {}
    for n, kind in enumerate(("draft", "refused", "supplement_requested")):
        created = await client.post("/api/v1/dossiers", headers=h, json={
            "procedure_code": PROC, "applicant": {**APPLICANT, "id_number": f"00119001234{n}"}})
        assert created.status == 201, await created.text()
        ids[kind] = (await created.json())["id"]
    ok = await client.post(f"/api/v1/dossiers/{ids['refused']}/refuse", headers=h,
                           json={"reason": "Không thuộc thẩm quyền"})
    assert ok.status == 200, await ok.text()
    ok = await client.post(f"/api/v1/dossiers/{ids['supplement_requested']}/request-supplement", headers=h,
                           json={"items": [{"component": "CMCH", "note": "Thiếu hợp đồng thuê nhà"}]})
    assert ok.status == 200, await ok.text()
    return ids


async def _listed(client, h, query: str = "") -> dict:
    resp = await client.get(f"/api/v1/dossiers{query}", headers=h)
    assert resp.status == 200, await resp.text()
    assert resp.content_type == "application/json" and resp.charset == "utf-8"
    return await resp.json()


async def test_api_list_shows_and_filters_the_outcome(client, store):
    h = await api_token(client)
    ids = await _closed(client, h)
    body = await _listed(client, h)
    by_id = {d["id"]: d for d in body["dossiers"]}
    assert {k: (by_id[i]["status"], by_id[i]["outcome"]) for k, i in ids.items()} == {
        "draft": ("draft", None), "refused": ("finalized", "refused"),
        "supplement_requested": ("finalized", "supplement_requested")}
    assert body["dossiers"] == [dataclasses.asdict(s) for s in store.list(limit=50)]
    assert (body["limit"], body["offset"], body["next_cursor"]) == (50, 0, None)
    for kind in ("refused", "supplement_requested", "draft"):
        assert [d["id"] for d in (await _listed(client, h, f"?status={kind}"))["dossiers"]] == [ids[kind]]
    assert (await _listed(client, h, "?status=finalized"))["dossiers"] == []
    bad = await client.get("/api/v1/dossiers?status=received", headers=h)
    assert bad.status == 422 and (await bad.json())["error"]["field"] == "status"


async def test_api_list_cursor_walks_every_dossier_once(client, store):
    h = await api_token(client)
    ids = await _closed(client, h)
    seen, query = [], "?limit=1"
    while True:
        body = await _listed(client, h, query)
        seen += [d["id"] for d in body["dossiers"]]
        if body["next_cursor"] is None:
            break
        query = f"?limit=1&before={body['next_cursor']}"
    assert seen == [s.id for s in store.list(limit=50)] and sorted(seen) == sorted(ids.values())


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer not-a-session"}])
async def test_api_list_still_needs_a_session(client, store, headers):
    resp = await client.get("/api/v1/dossiers", headers=headers)
    assert resp.status == 401 and (await resp.json())["error"]["code"] == "unauthenticated"


async def test_api_list_refuses_a_disabled_account(client, store):
    from edge.web import accounts

    h = await api_token(client)
    assert (await client.get("/api/v1/dossiers", headers=h)).status == 200
    accounts.set_disabled(store, "clerk", True)
    assert (await client.get("/api/v1/dossiers", headers=h)).status == 401


async def test_web_list_shows_the_outcome_in_vietnamese(client, store):
    h = await api_token(client)
    ids = await _closed(client, h)
    await login(client)
    page = await (await client.get("/dossiers")).text()
    assert "Từ chối tiếp nhận" in page and "Yêu cầu bổ sung hồ sơ" in page
    assert '<option value="refused"' in page and '<option value="supplement_requested"' in page
    refused = await (await client.get("/dossiers?status=refused")).text()
    code = store.summary(ids["refused"]).code
    assert code in refused and store.summary(ids["supplement_requested"]).code not in refused
    assert "Yêu cầu bổ sung hồ sơ</td>" not in refused
    received = await (await client.get("/dossiers?status=finalized")).text()
    assert code not in received and "Không có hồ sơ." in received
    status = await (await client.get("/status")).text()
    assert "nháp 1, đã tiếp nhận 0, từ chối tiếp nhận 1, yêu cầu bổ sung 1," in status


async def test_openapi_describes_the_outcome(client):
    doc = await (await client.get("/api/v1/openapi.json")).json()
    op = doc["paths"]["/dossiers"]["get"]
    status = next(p for p in op["parameters"] if p["name"] == "status")
    assert status["schema"]["enum"] == list(LIST_STATUSES)
    assert op["responses"]["200"]["content"]["application/json"]["schema"]["$ref"] == "#/components/schemas/DossierList"
    summary = doc["components"]["schemas"]["DossierSummary"]
    assert {"received", "refused", "supplement_requested", None} == set(summary["properties"]["outcome"]["enum"])
    from edge.store import DossierSummary

    assert set(summary["required"]) == {f.name for f in dataclasses.fields(DossierSummary)}
