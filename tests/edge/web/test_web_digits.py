"""Digits typed by a clerk: full-width or other Unicode digits become ASCII before any check, and
anything that is still not ASCII digits is refused with the field's message."""

from __future__ import annotations

import pytest
from web_helpers import APPLICANT, PDF, PNG, api_token

FULL_WIDTH = str.maketrans("0123456789", "０１２３４５６７８９")
ARABIC_INDIC = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")


@pytest.mark.parametrize("table", [FULL_WIDTH, ARABIC_INDIC], ids=["full-width", "arabic-indic"])
async def test_typed_unicode_digits_are_stored_and_found_as_ascii(client, store, table):
    h = await api_token(client)
    typed = {**APPLICANT, "id_number": APPLICANT["id_number"].translate(table),
             "date_of_birth": APPLICANT["date_of_birth"].translate(table),
             "phone": APPLICANT["phone"].translate(table)}
    resp = await client.post("/api/v1/dossiers", headers=h, json={"procedure_code": "1.004222", "applicant": typed})
    assert resp.status == 201, await resp.text()
    body = await resp.json()
    assert body["applicant"]["id_number"] == APPLICANT["id_number"]
    assert body["applicant"]["date_of_birth"] == APPLICANT["date_of_birth"]
    assert body["applicant"]["phone"] == APPLICANT["phone"]
    for id_number in (APPLICANT["id_number"], APPLICANT["id_number"].translate(table)):
        found = await (await client.post("/api/v1/lookup", headers=h, json={"id_number": id_number})).json()
        assert [d["id"] for d in found["dossiers"]] == [body["id"]]


@pytest.mark.parametrize("id_number", ["00119001234²", "0011900123⑤", "00119001234a", "0011900123"])
async def test_non_digits_in_an_id_number_are_refused(client, store, id_number):
    h = await api_token(client)
    before = store.count()
    resp = await client.post("/api/v1/dossiers", headers=h,
                             json={"procedure_code": "1.004222", "applicant": {**APPLICANT, "id_number": id_number}})
    assert resp.status == 422
    err = (await resp.json())["error"]
    assert err["field"] == "id_number" and "CCCD" in err["message_vi"]
    assert store.count() == before
    resp = await client.post("/api/v1/lookup", headers=h, json={"id_number": id_number})
    assert resp.status == 422 and (await resp.json())["error"]["field"] == "id_number"


async def test_a_typed_code_with_full_width_digits_is_found(client, store):
    h = await api_token(client)
    resp = await client.post("/api/v1/dossiers", headers=h, json={"procedure_code": "1.004222", "applicant": APPLICANT})
    dossier_id = (await resp.json())["id"]
    for comp, data in (("CT01", PNG), ("CMCH", PDF)):
        assert (await client.post(f"/api/v1/dossiers/{dossier_id}/pages?component={comp}", headers=h,
                                  data=data)).status == 201
    resp = await client.post(f"/api/v1/dossiers/{dossier_id}/finalize", headers=h, json={"fee": {"method": "later"}})
    code = (await resp.json())["code"]
    found = await (await client.post("/api/v1/lookup", headers=h, json={"code": code.translate(FULL_WIDTH)})).json()
    assert [d["id"] for d in found["dossiers"]] == [dossier_id]
