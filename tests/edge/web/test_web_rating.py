"""The satisfaction form on the counter screen, through the real HTML form (CSRF included): the
rating is stored with the dossier, the comment only sealed with the dossier's key."""

from __future__ import annotations

import base64
import re

from web_helpers import csrf_of, finalized_via_form, login

from tests.plaintext import find_plaintext

COMMENT = "Chị Hoàng Thị Ánh Tuyết hướng dẫn rất tận tình, cảm ơn!"


async def test_rating_form_stores_rating_and_sealed_comment(client, store):
    csrf = await login(client)
    dossier_id, code = await finalized_via_form(client, csrf, store, fee_method="later")
    page = await (await client.get(f"/dossiers/{dossier_id}")).text()
    assert f'href="/dossiers/{dossier_id}/rating"' in page  # the clerk turns the screen to the citizen
    form_page = await (await client.get(f"/dossiers/{dossier_id}/rating")).text()
    assert code in form_page and len(re.findall(r'name="rating" value="[1-5]"', form_page)) == 5
    token = csrf_of(form_page)
    # Without the form's token nothing is stored.
    resp = await client.post(f"/dossiers/{dossier_id}/rating", data={"rating": "5", "comment": COMMENT})
    assert resp.status == 403 and "satisfaction" not in store.get(dossier_id).meta
    # No star chosen: a message, and the comment typed so far stays in the box.
    resp = await client.post(f"/dossiers/{dossier_id}/rating", data={"csrf_token": token, "comment": COMMENT})
    html = await resp.text()
    assert resp.status == 422 and "mức đánh giá từ 1 đến 5" in html
    assert f">{COMMENT}</textarea>" in html
    resp = await client.post(f"/dossiers/{dossier_id}/rating", data={"csrf_token": token, "rating": "9"})
    assert resp.status == 422
    resp = await client.post(f"/dossiers/{dossier_id}/rating", data={"csrf_token": token, "rating": "4", "comment": COMMENT},
                             allow_redirects=False)
    assert resp.status == 303 and resp.headers["Location"] == f"/dossiers/{dossier_id}?msg=rated"
    meta = store.get(dossier_id).meta["satisfaction"]
    assert meta["rating"] == 4 and set(meta) == {"rating", "at", "comment_sealed"}
    sealed = base64.b64decode(meta["comment_sealed"])
    assert store.unseal(dossier_id, sealed, "satisfaction_comment").decode() == COMMENT
    page = await (await client.get(f"/dossiers/{dossier_id}?msg=rated")).text()
    assert "Cảm ơn ông/bà đã đánh giá" in page and "★★★★ (4/5)" in page
    assert f'href="/dossiers/{dossier_id}/rating"' not in page
    # Nowhere under the state directory in the clear (database, WAL, blobs, audit).
    store.checkpoint()
    assert find_plaintext(store.root, [COMMENT, "Hoàng Thị Ánh Tuyết", "hướng dẫn rất tận tình"]) == []
    audit = store.query("SELECT details FROM audit WHERE dossier_id = ?", (dossier_id,))
    assert not [r for r in audit if "Tuyết" in r["details"]]


async def test_a_draft_cannot_be_rated(client, store):
    csrf = await login(client)
    draft = store.create_draft(procedure_code="1.004222", applicant={"full_name": "Lý Văn Tám", "id_number": "001090000008"},
                               actor="clerk")
    resp = await client.post(f"/dossiers/{draft}/rating", data={"csrf_token": csrf, "rating": "5"})
    assert resp.status >= 400 and "Chỉ đánh giá sau khi hồ sơ đã được tiếp nhận" in await resp.text()
    assert "satisfaction" not in store.get(draft).meta
