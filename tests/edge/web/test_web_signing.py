"""Ký số on the intake page and the devices panel, over real HTTP and in Chromium: a SoftHSM2
token through the real PKCS#11 module, pages in the real encrypted store."""

from __future__ import annotations

import asyncio
import io
import logging

import pytest
from web_helpers import APPLICANT, PASSWORDS, login

from bench._token import remove_token
from edge.web import create_app
from tests.plaintext import find_plaintext
from tests.tokens import PIN, component_pdf, signing_section, token_factory  # noqa: F401

PROC = "1.004222"  # Đăng ký tạm trú: components CT01, CMCH


def _signing_settings(settings, hsm, **extra):
    return settings.replace("signing", **signing_section(hsm), **extra)


def _validate(data: bytes, roots_pem: bytes) -> bool:
    """pyHanko's validator (it runs its own event loop: call it off the test's loop)."""
    from asn1crypto import pem
    from asn1crypto import x509 as asn1_x509
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation import validate_pdf_signature
    from pyhanko_certvalidator import ValidationContext

    roots = [asn1_x509.Certificate.load(der) for _t, _h, der in pem.unarmor(roots_pem, multiple=True)]
    sig = PdfFileReader(io.BytesIO(data)).embedded_signatures[0]
    return validate_pdf_signature(sig, ValidationContext(trust_roots=roots, allow_fetching=False)).bottom_line


@pytest.fixture
async def signing_client(aiohttp_client, settings, store, token_factory):  # noqa: F811
    hsm = token_factory()
    settings = _signing_settings(settings, hsm, documents="components_and_receipt")
    client = await aiohttp_client(create_app(settings=settings, store=store))
    return client, hsm


async def test_wrong_pin_then_sign_shows_the_mark_and_stores_the_signed_pdf(signing_client, store, tmp_path, caplog):
    client, hsm = signing_client
    csrf = await login(client)
    dossier_id = store.create_draft(procedure_code=PROC, applicant=APPLICANT, actor="clerk")
    original = component_pdf(2)
    store.add_page(dossier_id, original, component="CMCH", media_type="application/pdf", actor="clerk")
    html = await (await client.get(f"/dossiers/{dossier_id}")).text()
    assert "Chứng thư ký: <strong data-cert-subject>CN=Bộ phận Một cửa Thử nghiệm" in html  # shown before signing
    assert 'data-signing-state="ok"' in html and "data-signed" not in html

    with caplog.at_level(logging.DEBUG):
        resp = await client.post(f"/dossiers/{dossier_id}/sign", data={"csrf_token": csrf, "pin": "sai-pin-0000"})
        assert resp.status == 422
        assert "Mã PIN không đúng" in await resp.text()
        assert [p.media_type for p in store.pages(dossier_id)] == ["application/pdf"]  # nothing changed
        resp = await client.post(f"/dossiers/{dossier_id}/sign", data={"csrf_token": csrf, "pin": PIN},
                                 allow_redirects=False)
        assert resp.status == 303, await resp.text()
    assert PIN not in caplog.text
    html = await (await client.get(f"/dossiers/{dossier_id}?msg=signed")).text()
    assert "Đã ký số các thành phần hồ sơ" in html and html.count("data-signed") == 1
    [page] = store.pages(dossier_id)
    signed = b"".join(store.read_page(dossier_id, page.index))
    assert signed.startswith(original) and await asyncio.to_thread(_validate, signed, hsm.ca.pem())
    assert find_plaintext(store.root, [PIN]) == []  # the PIN is on no file of the box

    # Finalize: the manifest names the signature.
    resp = await client.post(f"/dossiers/{dossier_id}/finalize", data={"csrf_token": csrf, "fee_method": "cash",
                                                                        "fee_receipt_number": "BL-1",
                                                                        "override_username": "super",
                                                                        "override_password": PASSWORDS["super"]},
                             allow_redirects=False)
    assert resp.status == 303, await resp.text()
    [record] = store.export_manifest(dossier_id)["signatures"]
    assert record["index"] == page.index and record["component"] == "CMCH"
    # The unit signs receipts too: the receipt downloads signed with the PIN held for the session.
    receipt = await (await client.get(f"/dossiers/{dossier_id}/receipt.pdf")).read()
    assert receipt.startswith(b"%PDF-") and await asyncio.to_thread(_validate, receipt, hsm.ca.pem())


async def test_pulled_token_is_a_status_at_the_button_and_on_the_devices_panel(signing_client, store):
    client, hsm = signing_client
    csrf = await login(client)
    dossier_id = store.create_draft(procedure_code=PROC, applicant=APPLICANT, actor="clerk")
    store.add_page(dossier_id, component_pdf(1), component="CMCH", media_type="application/pdf", actor="clerk")
    panel = await (await client.get("/devices")).text()
    assert 'id="signing-token" data-signing-state="ok"' in panel and "Bộ phận Một cửa Thử nghiệm" in panel
    remove_token(hsm)
    html = await (await client.get(f"/dossiers/{dossier_id}")).text()
    assert 'data-signing-state="absent"' in html and "Không tìm thấy thiết bị ký số" in html
    assert "data-sign>" not in html  # no button to press
    resp = await client.post(f"/dossiers/{dossier_id}/sign", data={"csrf_token": csrf, "pin": PIN})
    assert resp.status == 422 and "Không tìm thấy thiết bị ký số" in await resp.text()
    panel = await (await client.get("/devices")).text()
    assert 'data-signing-state="absent"' in panel and "Không có token" in panel


async def test_expired_certificate_on_the_panel_and_the_intake_page(aiohttp_client, settings, store,
                                                                     token_factory):  # noqa: F811
    import datetime as dt

    now = dt.datetime.now(dt.UTC)
    hsm = token_factory(not_before=now - dt.timedelta(days=400), not_after=now - dt.timedelta(days=1))
    client = await aiohttp_client(create_app(settings=_signing_settings(settings, hsm), store=store))
    await login(client)
    dossier_id = store.create_draft(procedure_code=PROC, applicant=APPLICANT, actor="clerk")
    html = await (await client.get(f"/dossiers/{dossier_id}")).text()
    assert 'data-signing-state="expired"' in html and "đã hết hạn" in html and "data-sign>" not in html
    panel = await (await client.get("/devices")).text()
    assert "Chứng thư hết hạn" in panel


@pytest.mark.browser
@pytest.mark.sane
async def test_clerk_scans_types_the_pin_and_sees_the_signed_mark(serve, browser, settings, store, devices,
                                                                   token_factory):  # noqa: F811
    hsm = token_factory()
    server = await serve(create_app(settings=_signing_settings(settings, hsm).replace("devices", scan_resolution=75),
                                    store=store, devices=devices))
    dossier_id = store.create_draft(procedure_code=PROC, applicant=APPLICANT, actor="clerk")
    context = await browser.new_context(viewport={"width": 1024, "height": 700}, locale="vi-VN")
    page = await context.new_page()
    await page.goto(f"{server}/login")
    await page.fill("#username", "clerk")
    await page.fill("#password", PASSWORDS["clerk"])
    await page.click("button[type=submit]")
    await page.wait_for_url(f"{server}/")
    await page.goto(f"{server}/dossiers/{dossier_id}")
    box = page.locator('[data-scan-box="CT01"]')
    await box.locator("[data-scan-pages]").fill("2")
    await box.locator("[data-scan-source]").select_option("ADF")
    await box.locator("[data-scan-device]").select_option("test:0")
    await box.locator("[data-scan]").click()
    await page.wait_for_url("**msg=scanned**")
    assert "CN=Bộ phận Một cửa Thử nghiệm" in await page.inner_text("#signing")  # the signer, before signing
    assert await page.locator("#component-CT01 [data-signed]").count() == 0
    await page.fill("#signing-pin", PIN)
    await page.click("[data-sign]")
    await page.wait_for_url("**msg=signed**")
    mark = page.locator("#component-CT01 [data-signed]")
    assert await mark.count() == 1 and await mark.inner_text() == "Đã ký số"
    pdf = [p for p in store.pages(dossier_id) if p.media_type == "application/pdf"]
    assert len(pdf) == 1
    assert await asyncio.to_thread(_validate, b"".join(store.read_page(dossier_id, pdf[0].index)), hsm.ca.pem())
    await context.close()
