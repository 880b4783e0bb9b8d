"""Refuse and request supplements over real HTTP (screens and JSON API): precise Vietnamese
messages, nothing written on bad input, form 02/03 downloads, the procedure version shown."""

from __future__ import annotations

import re
import shutil
import subprocess
import unicodedata

import pytest
from web_helpers import APPLICANT, api_token, login

PROC = "1.004222"


async def _draft(client, csrf: str) -> str:
    resp = await client.post("/dossiers/new", data={"csrf_token": csrf, "procedure_code": PROC, "channel": "direct",
                                                    **APPLICANT}, allow_redirects=False)
    assert resp.status == 303, await resp.text()
    return resp.headers["Location"].split("?")[0].rsplit("/", 1)[1]


def _nothing_closed(store, dossier_id):
    summary = store.summary(dossier_id)
    assert summary.status == "draft" and summary.code is None
    assert store.query("SELECT * FROM outbox WHERE dossier_id = ?", (dossier_id,)) == []


def _pdf_text(pdf: bytes, tmp_path) -> str:
    path = tmp_path / "form.pdf"
    path.write_bytes(pdf)
    out = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, check=True)
    return " ".join(unicodedata.normalize("NFC", out.stdout.decode()).split())


async def test_screens_refuse_and_request_supplement(client, store, tmp_path):
    csrf = await login(client)
    dossier_id = await _draft(client, csrf)
    page = await (await client.get(f"/dossiers/{dossier_id}")).text()
    assert 'id="refuse-button"' in page and 'id="supplement-button"' in page
    assert re.search(r'id="procedure-version">Phiên bản thủ tục: không thời hạn', page)
    # a refusal without a reason: the message, the legal basis typed is kept, nothing written
    resp = await client.post(f"/dossiers/{dossier_id}/refuse", data={"csrf_token": csrf, "reason": " ",
                                                                     "legal_basis": "Điều 19"})
    assert resp.status == 422
    html = await resp.text()
    assert "Vui lòng ghi rõ lý do từ chối" in html and 'value="Điều 19"' in html
    _nothing_closed(store, dossier_id)
    # a supplement request with nothing ticked
    resp = await client.post(f"/dossiers/{dossier_id}/request-supplement", data={"csrf_token": csrf})
    assert resp.status == 422 and "ít nhất một thành phần" in await resp.text()
    _nothing_closed(store, dossier_id)
    resp = await client.post(f"/dossiers/{dossier_id}/request-supplement", allow_redirects=False,
                             data={"csrf_token": csrf, "supplement": "CMCH", "note_CMCH": "Thiếu hợp đồng thuê nhà"})
    assert resp.status == 303
    page = await (await client.get(resp.headers["Location"])).text()
    assert "Đã lập phiếu yêu cầu bổ sung" in page and 'id="form-download"' in page
    assert 'id="receipt-download"' not in page
    pdf = await client.get(f"/dossiers/{dossier_id}/form.pdf")
    assert pdf.status == 200 and pdf.content_type == "application/pdf"
    if shutil.which("pdftotext"):
        text = _pdf_text(await pdf.read(), tmp_path)
        assert "PHIẾU YÊU CẦU BỔ SUNG" in text and "Thiếu hợp đồng thuê nhà" in text
        assert "Nguyễn Thị Cán Bộ" in text  # the clerk's display name
    # no receipt for it
    assert (await client.get(f"/dossiers/{dossier_id}/receipt.pdf")).status in (409, 422)


async def test_api_refuse_and_request_supplement(client, store, tmp_path):
    h = await api_token(client)
    created = await client.post("/api/v1/dossiers", json={"procedure_code": PROC, "applicant": APPLICANT}, headers=h)
    dossier_id = (await created.json())["id"]
    bad = await client.post(f"/api/v1/dossiers/{dossier_id}/request-supplement", headers=h,
                            json={"items": [{"component": "XYZ", "note": "thiếu"}]})
    assert bad.status == 422
    assert "không có thành phần hồ sơ 'XYZ'" in (await bad.json())["error"]["message_vi"]
    bad = await client.post(f"/api/v1/dossiers/{dossier_id}/refuse", headers=h, json={})
    assert bad.status == 422 and "lý do" in (await bad.json())["error"]["message_vi"]
    bad = await client.post(f"/api/v1/dossiers/{dossier_id}/refuse", headers=h, json={"reason": 5})
    assert bad.status == 422
    _nothing_closed(store, dossier_id)
    assert (await client.get(f"/api/v1/dossiers/{dossier_id}/form.pdf", headers=h)).status == 409
    ok = await client.post(f"/api/v1/dossiers/{dossier_id}/refuse", headers=h,
                           json={"reason": "Không thuộc thẩm quyền", "legal_basis": "Nghị định số 118/2025/NĐ-CP"})
    assert ok.status == 200
    body = await ok.json()
    assert body["outcome"] == "refused" and body["code"] and body["due_at"] is None
    assert body["procedure_version"]["sha256"]
    again = await client.post(f"/api/v1/dossiers/{dossier_id}/refuse", headers=h, json={"reason": "lần hai"})
    assert again.status == 409
    pdf = await client.get(f"/api/v1/dossiers/{dossier_id}/form.pdf", headers=h)
    assert pdf.status == 200
    if shutil.which("pdftotext"):
        text = _pdf_text(await pdf.read(), tmp_path)
        assert "PHIẾU TỪ CHỐI TIẾP NHẬN GIẢI QUYẾT HỒ SƠ" in text and body["code"] in text


@pytest.mark.parametrize("path", ["/api/v1/dossiers/{id}/refuse", "/api/v1/dossiers/{id}/request-supplement"])
async def test_api_needs_a_login(client, store, path):
    resp = await client.post(path.format(id="x"), json={})
    assert resp.status == 401
