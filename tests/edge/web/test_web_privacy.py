"""A whole intake through the web forms leaves no personal data in the clear: not under the
state directory (database, WAL, blobs, anything), not in the access log, not in any log line."""

from __future__ import annotations

import logging
import os
import re
import unicodedata
from urllib.parse import quote, quote_plus

import aiohttp
from web_helpers import PDF, PNG, login

from tests.plaintext import find_plaintext

# Typed as an input method in NFD would send it (decomposed diacritics).
NAME = unicodedata.normalize("NFD", "Phạm Thị Ngọc Trâm")
PERSON = {"full_name": NAME, "id_number": "079301004321", "date_of_birth": "1993-08-21", "gender": "Nữ",
          "address": "27 Ngõ Huế, Phường Bạch Đằng, Hà Nội", "phone": "0987001122",
          "email": "ngoctram.pham@example.vn", "old_id_number": "031456789"}


async def test_whole_web_intake_leaves_no_plaintext(client, store, caplog):
    caplog.set_level(logging.DEBUG)
    page_one = PNG + b"PAGE-ONE-" + os.urandom(24).hex().encode()
    page_two = PDF + b"%PAGE-TWO-" + os.urandom(24).hex().encode()
    csrf = await login(client)
    resp = await client.post("/dossiers/new", data={"csrf_token": csrf, "action": "create", "procedure_code": "1.004222",
                                                    "channel": "direct", **PERSON}, allow_redirects=False)
    assert resp.status == 303, await resp.text()
    dossier_id = resp.headers["Location"].split("?")[0].rsplit("/", 1)[1]
    for component, data, name in (("CT01", page_one, "to-khai.png"), ("CMCH", page_two, "xac-nhan.pdf")):
        body = aiohttp.FormData()
        body.add_field("csrf_token", csrf)
        body.add_field("component", component)
        body.add_field("file", data, filename=name, content_type="application/octet-stream")
        resp = await client.post(f"/dossiers/{dossier_id}/pages", data=body, allow_redirects=False)
        assert resp.status == 303, await resp.text()
    resp = await client.post(f"/dossiers/{dossier_id}/finalize", data={
        "csrf_token": csrf, "fee_method": "cash", "fee_receipt_number": "BL-0077"}, allow_redirects=False)
    assert resp.status == 303, await resp.text()
    dossier = store.get(dossier_id)
    assert dossier.status == "finalized" and dossier.applicant.full_name == unicodedata.normalize("NFC", NAME)
    assert [b"".join(store.read_page(dossier_id, p.index)) for p in dossier.pages] == [page_one, page_two]
    receipt = await client.get(f"/dossiers/{dossier_id}/receipt.pdf")
    assert receipt.status == 200 and (await receipt.read()).startswith(b"%PDF")
    for by, q in (("id", PERSON["id_number"]), ("name", "ngọc trâm"), ("name", NAME), ("code", dossier.code)):
        html = await (await client.post("/lookup", data={"csrf_token": csrf, "by": by, "q": q})).text()
        assert f"/dossiers/{dossier_id}" in html, (by, q)
    html = await (await client.get(f"/lookup?q={dossier.code}")).text()
    assert f"/dossiers/{dossier_id}" in html
    assert (await client.get(f"/dossiers/{dossier_id}/pages/{dossier.pages[0].index}")).status == 200

    store.checkpoint()
    markers = [NAME, "Ngọc Trâm", PERSON["id_number"], PERSON["address"], "Bạch Đằng", PERSON["phone"],
               PERSON["email"], PERSON["old_id_number"], "21/08/1993", "1993-08-21"]
    raw = [page_one[len(PNG):], page_two[len(PDF):], page_one, page_two]
    assert find_plaintext(store.root, markers, raw) == []

    # The access log saw every request, and nothing personal in any of them (bodies are not
    # logged; look-ups by ID number or name travel in POST bodies, never in a URL).
    access = [r.getMessage() for r in caplog.records if r.name == "aiohttp.access"]
    assert any(f"/dossiers/{dossier_id}/finalize" in line for line in access)
    assert any('"POST /lookup' in line for line in access)
    forms = set()
    for m in markers:
        for text in {unicodedata.normalize("NFC", m), unicodedata.normalize("NFD", m)}:
            forms |= {text, quote(text), quote_plus(text), quote(text).lower()}
    everything = "\n".join(r.getMessage() for r in caplog.records)
    leaked = sorted(f for f in forms if f in everything)
    assert leaked == [], leaked
    assert not re.search(r"\b079301004321\b", everything)
