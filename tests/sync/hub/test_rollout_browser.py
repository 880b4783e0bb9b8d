"""A rollout from the fleet page in Debian's Chromium, over simulated boxes that are real box stores
with their sync clients and the updater (tests/sync/hub/test_rollout.py: a package installer and a
health check implementing the real interfaces). Their reports take the real, signed
``POST /v1/update-report`` path.

IT's task: a wrong value is refused with a Vietnamese message; then IT starts 0.3.0 in waves of
10, 50 and 100 % with one canary. The canary is healthy, the second wave's boxes fail their health
check: they reinstall the version they ran, the rollout halts itself, the last wave is never told,
and the page shows it all, each failed box linked to its page, which says it runs 0.1.0 again.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "client"))

from boxkit import add_dossier, make_box
from test_fleet_browser import browser  # noqa: F401  (the Chromium fixture)
from test_fleet_page import PASSWORD, add_admin
from test_rollout import SimBox, _round

from edge.updater import StoreBox
from sync.client import SyncClient, enroll_async
from sync.hub._rollout import rollout_status

pytestmark = pytest.mark.browser

CANARY = "HN-0003"


@pytest.fixture
async def sim(tmp_path, hub_factory):
    hub = hub_factory("sqlite")
    boxes: list[SimBox] = []
    try:
        for i in range(9):  # partitions 0..8 of 1000 numbers
            sid = f"HN-{i:04d}"
            settings, store = make_box(tmp_path, name=f"box{i}")
            await enroll_async(store, hub.url, hub.add_station(sid, partition_index=i), station_id=sid)
            client = SyncClient(settings=settings, store=store)
            add_dossier(store, pages=1, page_bytes=20_000)
            await client.sync_once()
            box = SimBox(sid, settings, store, client)
            if sid != CANARY:
                box.health.bad.add("0.3.0")  # the release does not come up healthy on these boxes
            boxes.append(box)
        add_admin(hub.storage)
        yield hub, boxes
    finally:
        for b in boxes:
            await b.client.stop()
            b.store.close()


async def test_it_starts_a_rollout_and_sees_the_bad_wave_stop_itself_and_roll_back(sim, browser):  # noqa: F811
    hub, boxes = sim
    by_id = {b.station_id: b for b in boxes}
    before = {b.station_id: b.dossiers() for b in boxes}
    context = await browser.new_context(locale="vi-VN")
    page = await context.new_page()
    foreign, problems = [], []
    page.on("request", lambda req: None if req.url.startswith(hub.url) else foreign.append(req.url))
    page.on("console", lambda msg: problems.append(msg.text) if msg.type in ("error", "warning") else None)
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    try:
        await page.goto(f"{hub.url}/fleet/")
        await page.get_by_label("Tên đăng nhập").fill("cntt")
        await page.get_by_label("Mật khẩu").fill(PASSWORD)
        await page.get_by_role("button", name="Đăng nhập").click()
        await page.wait_for_url(f"{hub.url}/fleet/")
        await page.get_by_role("link", name="Triển khai phiên bản").click()
        await page.wait_for_url(f"{hub.url}/fleet/rollout")
        assert "Chưa có đợt triển khai nào" in await page.locator("#no-rollout").inner_text()

        # a last wave that is not 100 %: refused, in Vietnamese, with what IT typed kept
        await page.get_by_label("Phiên bản", exact=True).fill("0.3.0")
        await page.get_by_label("Các đợt").fill("10,50")
        await page.get_by_label("Trạm thử trước").fill(CANARY)
        await page.get_by_label("Ngưỡng lỗi mỗi đợt").fill("25")
        await page.get_by_role("button", name="Bắt đầu triển khai").click()
        await page.wait_for_load_state()
        assert "đợt cuối phải là 100 (mọi trạm)" in await page.locator("#rollout-error").inner_text()
        assert await page.get_by_label("Phiên bản", exact=True).input_value() == "0.3.0"
        assert rollout_status(hub.storage) is None
        # the refusal is an HTTP 400, which Chromium notes on its console: that one and nothing else
        assert problems == ["Failed to load resource: the server responded with a status of 400 (Bad Request)"]
        problems.clear()

        await page.get_by_label("Các đợt").fill("10,50,100")
        await page.get_by_role("button", name="Bắt đầu triển khai").click()
        await page.wait_for_load_state()
        assert "Đã bắt đầu triển khai phiên bản 0.3.0 cho 9 trạm" in await page.locator("[role=status]").inner_text()
        assert await page.locator("#rollout-state").inner_text() == "Đang chạy"
        wave1 = page.locator("tr[data-wave='1']")
        assert await wave1.locator("[data-col=sent]").inner_text() == "1"

        # the boxes do what the daemon and the nightly updater do, until nothing more happens
        rolled_back: set[str] = set()
        for _ in range(3):
            results = await _round(boxes)
            rolled_back |= {sid for sid, r in results.items() if r.outcome == "rolled_back"}
        status = rollout_status(hub.storage)
        assert status["state"] == "halted", status
        assert len(rolled_back) == 4 and set(status["waves"][1]["failed_stations"]) == rolled_back

        await page.reload()
        assert await page.locator("#rollout-state").inner_text() == "Đã tự dừng"
        assert await page.locator("[role=status]").count() == 0  # the start's notice is gone
        reason = await page.locator("#rollout-reason").inner_text()
        # halted on the wave's second failure (2 of 4 > 25 %); the other two still reported theirs
        assert "Tự dừng ở đợt 2 khi 2 trên 4 trạm của đợt đã báo cập nhật lỗi (vượt ngưỡng 25 %)" in reason
        halted = page.locator("tr[data-halted]")
        assert await halted.count() == 1 and await halted.get_attribute("data-wave") == "2"
        assert await halted.locator("[data-col=rolled_back]").inner_text() == "4"
        assert await page.locator("tr[data-wave='1'] [data-col=installed]").inner_text() == "1"
        assert await page.locator("tr[data-wave='3'] [data-col=waiting]").inner_text() == "4"
        assert await page.locator("tr[data-wave='3'] [data-col=sent]").inner_text() == "0"
        links = halted.locator("a[data-failed-station]")
        assert {await a.inner_text() for a in await links.all()} == rolled_back

        # a failed box's page: it runs the old version again
        sid = await links.first.inner_text()
        await links.first.click()
        await page.wait_for_url(f"**/fleet/stations/{sid}")
        assert await page.locator("#update-outcome").inner_text() == "Lỗi, đã quay về phiên bản cũ"
        assert await page.locator("#update-version").inner_text() == "0.3.0"
        assert await page.locator("#update-running").inner_text() == "0.1.0"

        # the list's "Cập nhật lỗi" finds exactly that wave
        await page.get_by_role("link", name="Danh sách trạm", exact=True).click()
        await page.locator("[data-quick=update]").click()
        shown = {await r.get_attribute("data-station") for r in await page.locator("tbody tr[data-station]").all()}
        assert shown == rolled_back
        assert foreign == [] and problems == []
    finally:
        await context.close()

    # and on the boxes themselves: the wave runs 0.1.0 again, the last wave was never touched,
    # every store keeps its dossiers and checks clean
    for b in boxes:
        if b.station_id in rolled_back:
            assert b.installer.version == "0.1.0" and b.installer.history == ["0.3.0", "0.1.0"]
            assert StoreBox(b.settings, b.store).last_result()["outcome"] == "rolled_back"
        elif b.station_id == CANARY:
            assert b.installer.version == "0.3.0"
        else:
            assert b.installer.version == "0.1.0" and b.installer.history == []
        assert b.dossiers() == before[b.station_id]
        assert b.store.check().ok, b.station_id
    assert by_id[CANARY].installer.history == ["0.3.0"]
