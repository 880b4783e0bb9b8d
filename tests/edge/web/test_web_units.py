"""The current address on the intake screen: province and commune from the units (data), a
commune of another province refused in Vietnamese with what was typed kept, nothing written."""

from __future__ import annotations

from web_helpers import APPLICANT, login

from edge import reception


async def test_current_address_selects_and_errors(client, store):
    reception.import_units(store, reception.load_units_json(reception.DEMO_UNITS), source="demo")
    csrf = await login(client)
    page = await (await client.get("/dossiers/new")).text()
    assert 'id="f-current_province"' in page and '<option value="00070"' in page and "Phường Hoàn Kiếm" in page
    data = {"csrf_token": csrf, "procedure_code": "1.004222", "channel": "direct", **APPLICANT,
            "current_province": "01", "current_commune": "26734", "current_street": "Số 12 phố Huế"}
    resp = await client.post("/dossiers/new", data=data)
    assert resp.status == 422
    html = await resp.text()
    assert "Phường Sài Gòn không thuộc Thành phố Hà Nội" in html and 'value="Số 12 phố Huế"' in html
    assert store.count() == 0
    resp = await client.post("/dossiers/new", data={**data, "current_commune": "00070"}, allow_redirects=False)
    assert resp.status == 303
    dossier_id = resp.headers["Location"].split("?")[0].rsplit("/", 1)[1]
    person = store.get(dossier_id).applicant
    assert (person.current_commune, person.address) == ("00070", APPLICANT["address"])
