"""The fleet page in Debian's Chromium, over the hub's HTTPS, with 200 simulated stations.

IT's task, as a clerk-style check: among 200 boxes, find the silent one and the one whose scanner
fails, each with one filter (one click or one tick and "Lọc"), open the box's page and see its
30-day chart; every asset comes from the hub itself, the page breaks no CSP rule.
"""

from __future__ import annotations

import shutil

import pytest
from fleet_sim import beat, populate, warn
from test_fleet_page import PASSWORD, add_admin
from test_hub_tls import _self_signed

from sync.hub import create_hub_app, start_hub, tls_context
from sync.hub.storage._fleet import HOUR_MS

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]


@pytest.fixture
async def browser():
    if not shutil.which(CHROMIUM):
        pytest.skip("Debian's chromium is not installed (/usr/bin/chromium)")
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        b = await p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            await b.close()


async def test_it_finds_the_silent_box_and_the_broken_scanner_among_200(tmp_path, hub_factory, browser):
    h = hub_factory("sqlite", start=False)
    now = h.now_ms()
    fleet = populate(h.storage, 200, now=now)
    start = now - 30 * 86400_000
    for k in range(27 * 12):  # the silent box talked every two hours until three days ago
        h.storage.touch(fleet.silent, now=start + k * 2 * HOUR_MS, heartbeat=beat(pending=k % 7))
    add_admin(h.storage)
    cert, key = _self_signed(tmp_path)
    running = await start_hub(create_hub_app(h.storage, h.keys, data_dir=h.data_dir), host="127.0.0.1", port=0,
                              ssl_context=tls_context(cert, key))
    try:
        context = await browser.new_context(ignore_https_errors=True, locale="vi-VN")
        page = await context.new_page()
        foreign, problems = [], []
        page.on("request", lambda req: None if req.url.startswith(running.url) else foreign.append(req.url))
        page.on("console", lambda msg: problems.append(msg.text) if msg.type in ("error", "warning") else None)
        page.on("pageerror", lambda exc: problems.append(str(exc)))

        await page.goto(f"{running.url}/fleet/")
        assert "/fleet/login" in page.url
        await page.get_by_label("Tên đăng nhập").fill("cntt")
        await page.get_by_label("Mật khẩu").fill(PASSWORD)
        await page.get_by_role("button", name="Đăng nhập").click()
        await page.wait_for_url(f"{running.url}/fleet/")
        # 100 a page, worst first: the silent box leads page 1; page 2 holds the other 100
        assert await page.locator("#matched").inner_text() == "200"
        assert await page.locator("tbody tr[data-station]").count() == 100
        assert await page.locator("tbody tr[data-station]").first.get_attribute("data-station") == fleet.silent
        first_page = {await r.get_attribute("data-station") for r in await page.locator("tbody tr[data-station]").all()}
        await page.get_by_role("navigation", name="Phân trang dưới").get_by_role("link", name="Trang sau »").click()
        await page.wait_for_url("**/fleet/?page=2")
        second_page = {await r.get_attribute("data-station") for r in await page.locator("tbody tr[data-station]").all()}
        assert len(second_page) == 100 and first_page | second_page == set(fleet.ids)
        cookie = next(c for c in await context.cookies() if c["name"] == "motcua_hub_session")
        assert cookie["secure"] and cookie["httpOnly"] and cookie["sameSite"] == "Strict"

        # one click: the silent box
        await page.locator("[data-quick=silent]").click()
        rows = page.locator("tbody tr[data-station]")
        assert await rows.count() == 1
        assert await rows.first.get_attribute("data-station") == fleet.silent
        assert "Mất liên lạc" in await rows.first.inner_text()

        # its page: state, the 30-day chart with contact up to three days ago
        await rows.first.get_by_role("link", name=fleet.silent).click()
        await page.wait_for_url(f"**/fleet/stations/{fleet.silent}")
        assert await page.locator("#station-state").inner_text() == "Mất liên lạc"
        chart = page.locator("svg.chart")
        assert await chart.is_visible()
        box = await chart.bounding_box()
        assert box and box["width"] > 600
        assert await chart.locator("rect.contact").count() >= 1
        assert await chart.locator("path.backlog").count() == 1
        assert "Hồ sơ chờ gửi và liên lạc trong 30 ngày" in await chart.locator("title").text_content()

        # one tick and "Lọc": the broken scanner
        await page.get_by_role("link", name="Danh sách trạm", exact=True).click()
        await page.get_by_label("Thiết bị lỗi").check()
        await page.get_by_role("button", name="Lọc").click()
        rows = page.locator("tbody tr[data-station]")
        assert await rows.count() == 1
        assert await rows.first.get_attribute("data-station") == fleet.scanner_broken
        assert "máy quét: error" in await rows.first.inner_text()

        # filters combine: an agency and a kind
        await page.get_by_label("Thiết bị lỗi").uncheck()
        await page.get_by_label("Cơ quan").select_option("000.00.08.H56")
        await page.get_by_label("Loại điểm").select_option("popup")
        await page.get_by_role("button", name="Lọc").click()
        ids = [await r.get_attribute("data-station") for r in await page.locator("tbody tr[data-station]").all()]
        assert ids and all(int(s[3:]) % 3 == 2 and int(s[3:]) % 4 == 3 for s in ids)
        assert len(ids) == sum(1 for i in range(200) if i % 3 == 2 and i % 4 == 3)

        # an action: revoke the silent box from its page (typed confirmation, CSRF token in the form)
        await page.goto(f"{running.url}/fleet/stations/{fleet.silent}")
        await page.get_by_label("Lý do").fill("mất cắp")
        await page.get_by_label("Gõ mã trạm để xác nhận").last.fill(fleet.silent)
        await page.get_by_role("button", name="Thu hồi").click()
        await page.wait_for_load_state()
        assert "Đã thu hồi trạm" in await page.locator("[role=status]").first.inner_text()
        assert h.storage.get_station(fleet.silent).revoked_at is not None

        # the rollouts' page: none yet, and the form to start one (tests/sync/hub/test_rollout_browser.py)
        await page.get_by_role("link", name="Triển khai phiên bản").click()
        await page.wait_for_url(f"{running.url}/fleet/rollout")
        assert "Chưa có đợt triển khai nào" in await page.locator("#no-rollout").inner_text()
        assert await page.get_by_role("button", name="Bắt đầu triển khai").count() == 1

        assert foreign == [] and problems == []
        await context.close()
    finally:
        await running.stop()


async def test_it_filters_the_offline_guardrail_warnings(tmp_path, hub_factory, browser):
    h = hub_factory("sqlite", start=False)
    now = h.now_ms()
    fleet = populate(h.storage, 200, now=now)
    offline, filling = fleet.ids[150], fleet.ids[190]  # healthy boxes that page 2 would hold unsorted
    warn(h.storage, offline, ["unsynced_old", "catalog_stale"], now=now)
    warn(h.storage, filling, ["disk_forecast"], now=now)
    add_admin(h.storage)
    running = await start_hub(create_hub_app(h.storage, h.keys, data_dir=h.data_dir), host="127.0.0.1", port=0)
    try:
        context = await browser.new_context(locale="vi-VN")
        page = await context.new_page()
        problems = []
        page.on("console", lambda msg: problems.append(msg.text) if msg.type in ("error", "warning") else None)
        await page.goto(f"{running.url}/fleet/")
        await page.get_by_label("Tên đăng nhập").fill("cntt")
        await page.get_by_label("Mật khẩu").fill(PASSWORD)
        await page.get_by_role("button", name="Đăng nhập").click()
        await page.wait_for_url(f"{running.url}/fleet/")
        assert await page.locator("[data-quick=warning-any]").inner_text() == "Cảnh báo ngoại tuyến: 2"

        # the select "Cảnh báo ngoại tuyến", one option and "Lọc": the box whose disk will fill
        await page.get_by_label("Cảnh báo ngoại tuyến").select_option(label="ổ đĩa sắp đầy theo dự báo")
        await page.get_by_role("button", name="Lọc").click()
        await page.wait_for_url("**/fleet/?*warning=disk_forecast*")
        rows = page.locator("tbody tr[data-station]")
        assert await rows.count() == 1 and await rows.first.get_attribute("data-station") == filling
        assert "Cần chú ý" in await rows.first.inner_text()
        assert "ổ đĩa sắp đầy theo dự báo" in await rows.first.locator(".problems").inner_text()

        # the box that should send its dossiers by USB stick
        await page.get_by_label("Cảnh báo ngoại tuyến").select_option(label="hồ sơ chưa đồng bộ quá lâu — nên chuyển bằng thẻ nhớ")
        await page.get_by_role("button", name="Lọc").click()
        rows = page.locator("tbody tr[data-station]")
        assert await rows.count() == 1 and await rows.first.get_attribute("data-station") == offline
        assert await rows.first.locator(".problems").inner_text() == (  # in the box's order
            "hồ sơ chưa đồng bộ quá lâu — nên chuyển bằng thẻ nhớ; danh mục thủ tục chưa cập nhật")
        assert await page.get_by_label("Cảnh báo ngoại tuyến").input_value() == "unsynced_old"  # the filter stays set

        # the quick link: every warned box, on the first page of the whole list too
        await page.locator("[data-quick=warning-any]").click()
        ids = {await r.get_attribute("data-station") for r in await page.locator("tbody tr[data-station]").all()}
        assert ids == {offline, filling}
        await page.get_by_role("link", name="Bỏ lọc").click()
        first = {await r.get_attribute("data-station") for r in await page.locator("tbody tr[data-station]").all()}
        assert {offline, filling} <= first
        assert problems == []
        await context.close()
    finally:
        await running.stop()
