"""Fees after finalize over real HTTP: the VietQR shown is the one ``build_vietqr`` makes for the
fee and the dossier code, its image is drawn by the box; a cash payment records its receipt
number in the dossier's meta."""

from __future__ import annotations

import html as htmllib
import re

import pytest
import segno
from web_helpers import APPLICANT, finalized_via_form, login

from edge.reception import build_vietqr
from edge.web import create_app

PROC = "1.004222"  # 15 000 đồng at the counter
BIN, ACCOUNT = "970415", "0011001932418"


@pytest.fixture
async def fee_client(aiohttp_client, settings, store):
    cfg = settings.replace("reception", vietqr_bin=BIN, vietqr_account=ACCOUNT)
    client = await aiohttp_client(create_app(settings=cfg, store=store))
    return client, await login(client)


def svg_modules(svg: bytes) -> set[tuple[int, int]]:
    """The dark modules of a segno SVG path (M/m moves, h runs; the scale is a transform)."""
    path = re.search(rb' d="([^"]+)"', svg).group(1).decode()
    dark: set[tuple[int, int]] = set()
    x = y = 0.0
    for op, args in re.findall(r"([MmHh])([-\d.\s]+)", path):
        nums = [float(n) for n in args.split()]
        if op == "M":
            x, y = nums
        elif op == "m":
            x, y = x + nums[0], y + nums[1]
        elif op == "h":
            dark.update((int(x) + i, int(y)) for i in range(int(nums[0])))
            x += nums[0]
    return dark


def qr_modules(payload: str, border: int = 4) -> set[tuple[int, int]]:
    matrix = segno.make(payload, error="m").matrix
    return {(c + border, r + border) for r, row in enumerate(matrix) for c, v in enumerate(row) if v}


async def test_vietqr_on_screen_is_the_fee_and_code(fee_client, store):
    client, csrf = fee_client
    dossier_id, code = await finalized_via_form(client, csrf, store, fee_method="vietqr")
    html = await (await client.get(f"/dossiers/{dossier_id}")).text()
    shown = htmllib.unescape(re.search(r'<code id="vietqr-payload">([^<]+)</code>', html).group(1))
    expected = build_vietqr(bank_bin=BIN, account=ACCOUNT, amount=15000, purpose=code)
    assert shown == expected
    assert f"54{len('15000'):02d}15000" in expected and code in expected
    src = re.search(r'<img src="([^"]+)"[^>]*id="vietqr-image"', html).group(1)
    assert src == f"/dossiers/{dossier_id}/vietqr.svg"  # from the box, not an outside QR service
    resp = await client.get(src)
    assert resp.status == 200 and resp.content_type == "image/svg+xml"
    image = await resp.read()
    assert svg_modules(image) == qr_modules(expected)
    assert svg_modules(image) != qr_modules(expected.replace("15000", "16000"))
    # The transfer arrived: the clerk confirms; the QR goes away.
    resp = await client.post(f"/dossiers/{dossier_id}/fee", data={"csrf_token": csrf, "fee_method": "vietqr"},
                             allow_redirects=False)
    assert resp.status == 303
    payment = store.get(dossier_id).meta["payment"]
    assert payment["method"] == "vietqr" and payment["amount"] == 15000
    html = await (await client.get(f"/dossiers/{dossier_id}")).text()
    assert 'id="vietqr-image"' not in html and "Đã nộp" in html
    assert (await client.get(src)).status == 200  # the image stays available for a reprint


async def test_vietqr_image_only_after_finalize_and_with_a_session(fee_client, store):
    client, csrf = fee_client
    draft = store.create_draft(procedure_code=PROC, applicant=APPLICANT, actor="clerk")
    assert (await client.get(f"/dossiers/{draft}/vietqr.svg")).status == 404
    cash_id, _code = await finalized_via_form(client, csrf, store, fee_method="cash", fee_receipt_number="BL-9")
    assert (await client.get(f"/dossiers/{cash_id}/vietqr.svg")).status == 404
    await client.post("/logout", data={"csrf_token": csrf})
    resp = await client.get(f"/dossiers/{cash_id}/vietqr.svg", allow_redirects=False)
    assert resp.status in (303, 401)


async def test_cash_payment_records_the_receipt_number(fee_client, store):
    client, csrf = fee_client
    dossier_id, _code = await finalized_via_form(client, csrf, store, fee_method="later")
    assert "payment" not in store.get(dossier_id).meta
    resp = await client.post(f"/dossiers/{dossier_id}/fee", data={"csrf_token": csrf, "fee_method": "cash",
                                                                  "fee_receipt_number": "<b>1</b>"})
    assert resp.status == 422
    assert "Vui lòng nhập số biên lai thu tiền mặt" in re.search(r'id="f-fee_receipt_number-error" role="alert">([^<]+)<',
                                                                 await resp.text()).group(1)
    assert "payment" not in store.get(dossier_id).meta
    resp = await client.post(f"/dossiers/{dossier_id}/fee", data={"fee_method": "cash", "fee_receipt_number": "BL-1"})
    assert resp.status == 403  # no CSRF token
    resp = await client.post(f"/dossiers/{dossier_id}/fee", data={"csrf_token": csrf, "fee_method": "cash",
                                                                  "fee_receipt_number": "BL-2027/0042"},
                             allow_redirects=False)
    assert resp.status == 303
    payment = store.get(dossier_id).meta["payment"]
    assert payment["method"] == "cash" and payment["receipt_number"] == "BL-2027/0042" and payment["amount"] == 15000
    html = await (await client.get(f"/dossiers/{dossier_id}?msg=paid")).text()
    assert "biên lai số BL-2027/0042" in html and "Đã ghi nhận nộp lệ phí" in html
