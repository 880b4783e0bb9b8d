"""End to end in Debian's Chromium (Playwright): log in → new dossier → fill → upload two pages →
finalize → the receipt PDF downloads and holds the code and the appointment → the dossier is in
the list and the look-up. The real app runs on 127.0.0.1 with a real store in a temporary dir."""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess

import pytest
from web_helpers import APPLICANT, PASSWORDS, PDF, PNG

from edge.store import VN_TZ

pytestmark = pytest.mark.browser


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


async def _log_in(page, server: str) -> None:
    await page.goto(f"{server}/login")
    await page.fill("#username", "clerk")
    await page.fill("#password", PASSWORDS["clerk"])
    await page.click("button[type=submit]")
    await page.wait_for_url(f"{server}/")


# Every text the scan status line shows is kept in sessionStorage (it survives the reload at
# the end of a batch), so the test sees the live progress the clerk saw.
RECORD_SCAN_STATUS = """
document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll("[data-scan-status], [data-scan-progress]").forEach((el) => {
    new MutationObserver(() => {
      const log = JSON.parse(sessionStorage.getItem("scanlog") || "[]");
      log.push(el.tagName === "PROGRESS" ? "progress:" + el.value : el.textContent);
      sessionStorage.setItem("scanlog", JSON.stringify(log));
    }).observe(el, { childList: true, characterData: true, subtree: true, attributes: true });
  });
});
"""


@pytest.mark.sane
async def test_scanner_button_progress_and_errors(serve, browser, settings, store, devices):
    from edge.web import create_app

    server = await serve(create_app(settings=settings, store=store, devices=devices))
    dossier_id = store.create_draft(procedure_code="1.004222", applicant=APPLICANT, actor="clerk")
    context = await browser.new_context(viewport={"width": 1024, "height": 600}, locale="vi-VN")
    await context.add_init_script(RECORD_SCAN_STATUS)
    page = await context.new_page()
    await _log_in(page, server)
    await page.goto(f"{server}/dossiers/{dossier_id}")
    box = page.locator('[data-scan-box="CT01"]')
    await box.locator("[data-scan-pages]").fill("3")
    await box.locator("[data-scan-source]").select_option("ADF")
    await box.locator("[data-scan-device]").select_option("test:0")
    await box.locator("[data-scan]").click()
    await page.wait_for_url("**msg=scanned**")
    assert "Đã quét và lưu các trang" in await page.inner_text("main")
    assert "· 4 trang" in await page.inner_text("#component-CT01")
    log = await page.evaluate("JSON.parse(sessionStorage.getItem('scanlog') || '[]')")
    assert "Đã lưu trang 3/3 (đã mã hóa)" in log, log
    assert any(t.startswith("progress:") and t != "progress:0" for t in log), log
    assert [p.media_type for p in store.get(dossier_id).pages] == ["image/png"] * 3 + ["application/pdf"]

    # The feeder runs empty after ten sheets: the message stands next to the button, the page
    # (and everything on it) stays, the ten pages are kept.
    await page.fill("#f-phone", "0987654321")  # typed but not yet saved: must not be lost
    box = page.locator('[data-scan-box="CMCH"]')
    await box.locator("[data-scan-pages]").fill("12")
    await box.locator("[data-scan]").click()
    error = box.locator("[data-scan-error]")
    await error.wait_for(state="visible")
    assert "Khay nạp giấy đã hết" in await error.inner_text()
    assert "Đã lưu 10 trang" in await box.locator("[data-scan-status]").inner_text()
    assert await page.input_value("#f-phone") == "0987654321"
    assert f"/dossiers/{dossier_id}" in page.url and "msg=scanned" in page.url  # no navigation
    assert sum(p.component == "CMCH" for p in store.get(dossier_id).pages) == 11

    # The scanner was unplugged after the page was drawn: a clear message, nothing stored.
    await page.evaluate("""document.querySelector('[data-scan-box="CT01"] [data-scan-device]')
                           .options[0].value = 'test:7'""")
    box = page.locator('[data-scan-box="CT01"]')
    await box.locator("[data-scan-device]").select_option(index=0)
    await box.locator("[data-scan]").click()
    await box.locator("[data-scan-error]").wait_for(state="visible")
    assert "Không tìm thấy máy quét" in await box.locator("[data-scan-error]").inner_text()
    assert await box.locator("[data-scan]").is_enabled()
    assert len(store.get(dossier_id).pages) == 4 + 11
    await context.close()
