"""In Debian's Chromium at 1024×600: a clerk receives a dossier at 23:59 the day before a
procedure's new version, sees the version switch at 00:00 (the box offline, its catalog fed
weeks ahead), asks for supplements on a dossier under the new version, refuses another, and
downloads each form; the forms' text is read back with pdftotext."""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess
import unicodedata

import pytest
from web_helpers import APPLICANT, PASSWORDS, PNG

from edge.store import VN_TZ

pytestmark = pytest.mark.browser
VERSIONED = "1.004873"  # Cấp Giấy xác nhận tình trạng hôn nhân: a version from 01/07/2027


def _at(store, moment: dt.datetime) -> None:
    store.clock.wall = lambda: moment.timestamp()


def _text(path) -> str:
    out = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, check=True)
    return " ".join(unicodedata.normalize("NFC", out.stdout.decode()).split())


async def _new(page, server, procedure: str, search: str) -> str:
    await page.goto(f"{server}/dossiers/new")
    await page.fill("#f-full_name", APPLICANT["full_name"])
    await page.fill("#f-id_number", APPLICANT["id_number"])
    await page.fill("#f-date_of_birth", APPLICANT["date_of_birth"])
    await page.select_option("#f-gender", "Nữ")
    await page.fill("#f-address", APPLICANT["address"])
    await page.fill("#proc-search", search)
    await page.select_option("#f-procedure_code", procedure)
    await page.click("button[value=create]")
    await page.wait_for_selector("#checklist")
    return page.url.split("?")[0].rsplit("/", 1)[1]


async def _download(page, selector: str, path) -> str:
    async with page.expect_download() as info:
        await page.click(selector)
    await (await info.value).save_as(path)
    return _text(path)


async def test_versions_refusal_and_supplements_in_chromium(server, browser, store, tmp_path):
    if not shutil.which("pdftotext"):
        pytest.skip("pdftotext (poppler-utils) is not installed")
    (tmp_path / "to-khai.png").write_bytes(PNG)
    _at(store, dt.datetime(2027, 6, 30, 23, 58, tzinfo=VN_TZ))
    context = await browser.new_context(viewport={"width": 1024, "height": 600}, accept_downloads=True, locale="vi-VN")
    page = await context.new_page()
    await page.goto(f"{server}/login")
    await page.fill("#username", "clerk")
    await page.fill("#password", PASSWORDS["clerk"])
    await page.click("button[type=submit]")
    await page.wait_for_load_state()

    # 23:59 on 30/06/2027: received under the version in force since 01/07/2025
    _at(store, dt.datetime(2027, 6, 30, 23, 59, tzinfo=VN_TZ))
    before = await _new(page, server, VERSIONED, "tình trạng hôn nhân")
    assert "từ 01/07/2025" in await page.inner_text("#procedure-version")
    await page.set_input_files("#file-TK", str(tmp_path / "to-khai.png"))
    await page.click("#component-TK form.upload button[type=submit]")
    await page.wait_for_selector("#component-TK.done")
    await page.check("input[name=fee_method][value=cash]")
    await page.fill("#f-fee_receipt_number", "BL-0001")
    await page.click("#finalize-button")
    await page.wait_for_selector("#dossier-code")
    assert store.get(before).meta["fee"]["total"] == 3000

    # 00:00 on 01/07/2027, still offline: the new version is in force by itself ...
    _at(store, dt.datetime(2027, 7, 1, 0, 0, 30, tzinfo=VN_TZ))
    await page.goto(f"{server}/dossiers/{before}")
    assert "từ 01/07/2025" in await page.inner_text("#procedure-version")  # ... the received one keeps its own
    after = await _new(page, server, VERSIONED, "tình trạng hôn nhân")
    assert "từ 01/07/2027" in await page.inner_text("#procedure-version")
    assert await page.locator("#component-GTTT").count() == 1  # the new version's component

    # request supplements (form 02) for the new version's component
    await page.click("#supplement summary")
    await page.click("#supplement-button")  # nothing ticked first: the message, nothing written
    await page.wait_for_selector("#err-counter-items")
    assert "ít nhất một thành phần" in await page.inner_text("#err-counter-items")
    assert store.summary(after).status == "draft"
    assert await page.get_attribute("#supplement", "open") is not None  # kept open with its message
    await page.check("#sup-GTTT")
    await page.fill("#note-GTTT", "Mang bản chính Căn cước để đối chiếu")
    await page.click("#supplement-button")
    await page.wait_for_selector("#form-download")
    asked = store.get(after)
    assert asked.meta["outcome"] == "supplement_requested" and asked.code
    text = await _download(page, "#form-download", tmp_path / "form02.pdf")
    assert "PHIẾU YÊU CẦU BỔ SUNG, HOÀN THIỆN HỒ SƠ" in text and asked.code in text
    assert "Mang bản chính Căn cước để đối chiếu" in text and "(GTTT)" in text

    # refuse another (form 03): a reason is required
    refused = await _new(page, server, "1.004222", "tạm trú")
    await page.click("#refuse summary")
    await page.fill("#f-legal_basis", "Nghị định số 118/2025/NĐ-CP")
    await page.click("#refuse-button")
    await page.wait_for_selector("#f-reason-error")
    assert "lý do từ chối" in await page.inner_text("#f-reason-error")
    assert await page.input_value("#f-legal_basis") == "Nghị định số 118/2025/NĐ-CP"
    assert store.summary(refused).status == "draft"
    await page.fill("#f-reason", "Nơi đăng ký tạm trú không thuộc địa bàn xã")
    await page.click("#refuse-button")
    await page.wait_for_selector("#form-download")
    assert "Từ chối tiếp nhận" in await page.inner_text("#outcome")
    text = await _download(page, "#form-download", tmp_path / "form03.pdf")
    assert "PHIẾU TỪ CHỐI TIẾP NHẬN GIẢI QUYẾT HỒ SƠ" in text and "không thuộc địa bàn xã" in text
    assert "Căn cứ quy định tại: Nghị định số 118/2025/NĐ-CP" in text
    await page.screenshot(path=str(tmp_path / "refused-1024x600.png"))
    await context.close()
