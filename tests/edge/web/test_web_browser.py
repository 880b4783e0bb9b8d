"""End to end in Debian's Chromium (Playwright): log in → new dossier → fill → upload two pages →
finalize → the receipt PDF downloads and holds the code and the appointment → the dossier is in
the list and the look-up. The real app runs on 127.0.0.1 with a real store in a temporary dir."""

from __future__ import annotations

import datetime as dt
import shutil
import socket
import subprocess

import pytest
from aiohttp import web
from web_helpers import APPLICANT, PASSWORDS, PDF, PNG

from edge.store import VN_TZ
from edge.web import create_app

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
async def server(settings, store):
    runner = web.AppRunner(create_app(settings=settings, store=store))
    await runner.setup()
    port = _free_port()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    yield f"http://127.0.0.1:{port}"
    await runner.cleanup()


@pytest.fixture
async def browser():
    if not shutil.which(CHROMIUM):
        pytest.skip("Debian's chromium is not installed (/usr/bin/chromium)")
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        b = await p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            yield b
        finally:
            await b.close()


async def test_intake_end_to_end(server, browser, store, tmp_path):
    if not shutil.which("pdftotext"):
        pytest.skip("pdftotext (poppler-utils) is not installed")
    (tmp_path / "to-khai.png").write_bytes(PNG)
    (tmp_path / "chung-minh.pdf").write_bytes(PDF)
    context = await browser.new_context(viewport={"width": 1024, "height": 600}, accept_downloads=True,
                                        locale="vi-VN")
    page = await context.new_page()
    await page.goto(f"{server}/")
    assert "/login" in page.url
    await page.fill("#username", "clerk")
    await page.fill("#password", PASSWORDS["clerk"])
    await page.click("button[type=submit]")
    await page.wait_for_load_state()
    assert page.url == f"{server}/", await page.inner_text("main")
    await page.click("text=Hồ sơ mới")
    await page.wait_for_url(f"{server}/dossiers/new")
    # A wrong ID number first: precise message, the rest stays filled.
    await page.fill("#f-full_name", APPLICANT["full_name"])
    await page.fill("#f-id_number", "0011900")
    await page.fill("#f-date_of_birth", APPLICANT["date_of_birth"])
    await page.select_option("#f-gender", "Nữ")
    await page.fill("#f-address", APPLICANT["address"])
    await page.fill("#f-phone", APPLICANT["phone"])
    await page.fill("#proc-search", "tạm trú")
    await page.select_option("#f-procedure_code", "1.004222")
    await page.click("button[value=create]")
    await page.wait_for_load_state()
    assert await page.locator("#f-id_number-error").count() == 1, (page.url, await page.inner_text("main"))
    assert "đúng 12 chữ số" in await page.inner_text("#f-id_number-error")
    assert await page.input_value("#f-full_name") == APPLICANT["full_name"]
    assert await page.input_value("#f-procedure_code") == "1.004222"
    await page.fill("#f-id_number", APPLICANT["id_number"])
    await page.click("button[value=create]")
    await page.wait_for_selector("#checklist")
    dossier_id = page.url.split("?")[0].rsplit("/", 1)[1]
    for component, name in (("CT01", "to-khai.png"), ("CMCH", "chung-minh.pdf")):
        await page.set_input_files(f"#file-{component}", str(tmp_path / name))
        await page.click(f"#component-{component} form.upload button[type=submit]")
        await page.wait_for_selector(f"#component-{component}.done")
    assert len(store.get(dossier_id).pages) == 2
    await page.check("input[name=fee_method][value=cash]")
    await page.fill("#f-fee_receipt_number", "BL-0042")
    await page.click("#finalize-button")
    await page.wait_for_selector("#dossier-code")
    code = (await page.inner_text("#dossier-code")).strip()
    dossier = store.get(dossier_id)
    assert code == dossier.code and dossier.status == "finalized"
    async with page.expect_download() as info:
        await page.click("#receipt-download")
    download = await info.value
    pdf_path = tmp_path / "receipt.pdf"
    await download.save_as(pdf_path)
    text = subprocess.run(["pdftotext", "-layout", str(pdf_path), "-"],  # noqa: ASYNC221 - a test's one-off
                          capture_output=True, text=True, check=True).stdout
    due = dt.datetime.fromisoformat(dossier.due_at).astimezone(VN_TZ)
    assert code in text
    assert f"ngày {due:%d/%m/%Y}" in text and f"{due:%H} giờ {due:%M} phút" in text
    # The dossier is in the list and found by the look-up (by code and by ID number).
    await page.goto(f"{server}/dossiers")
    assert code in await page.inner_text("main")
    await page.goto(f"{server}/lookup")
    await page.check("input[name=by][value=id]")
    await page.fill("#q", APPLICANT["id_number"])
    await page.press("#q", "Enter")
    await page.wait_for_selector("text=Kết quả (1)")
    assert code in await page.inner_text("main")
    await page.goto(f"{server}/lookup?by=code&q={code}")
    assert code in await page.inner_text("main")
    await context.close()
