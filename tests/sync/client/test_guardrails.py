"""Offline guardrails ([guardrails]): stale master data, old unsynced dossiers, the disk forecast,
in the status (sync panel) and in the heartbeat the real hub stores; scans refused only when the
store could not hold them."""

from __future__ import annotations

import shutil

import pytest
from boxkit import add_dossier

from sync.client import NoRoomError, SyncClient, check_room_for_scan, enroll, guardrail_warnings
from sync.client._guardrails import disk_days_left

DAY = 86400


@pytest.fixture
def enrolled(tmp_path, hub):
    from boxkit import make_box

    settings, store = make_box(tmp_path)
    enroll(store, hub.url, hub.add_station("HN-0001"), station_id="HN-0001", timeout_seconds=5)
    yield settings, store
    store.close()


def _codes(warnings) -> set[str]:
    return {w.code for w in warnings}


def test_master_data_goes_stale_by_the_site_policy(enrolled):
    settings, store = enrolled
    policy = settings.guardrails.__class__(catalog_max_age_days=10, holidays_max_age_days=20, clerks_max_age_days=30,
                                           disk_warn_days=0)
    now = store.clock.now_s()
    assert _codes(guardrail_warnings(store, policy, now=now)) == set()
    w = {x.code: x for x in guardrail_warnings(store, policy, now=now + 25 * DAY)}
    assert set(w) == {"catalog_stale", "holidays_stale"}
    assert w["catalog_stale"].days == 25 and "Danh mục thủ tục chưa được cập nhật" in w["catalog_stale"].message_vi
    assert "25 ngày (quá 10 ngày)" in w["catalog_stale"].message_vi


def test_a_pull_to_the_head_refreshes_master_data(enrolled, hub):
    import asyncio

    settings, store = enrolled
    policy = settings.guardrails.__class__(catalog_max_age_days=1, disk_warn_days=0)
    later = store.clock.now_s() + 2 * DAY
    assert "catalog_stale" in _codes(guardrail_warnings(store, policy, now=later))
    store.write(lambda conn: conn.execute("UPDATE meta SET value = '2000-01-01T00:00:00Z' WHERE key = 'sync.enrolled_at'"))
    client = SyncClient(settings=settings, store=store)

    async def pull():
        try:
            await client.pull()
        finally:
            await client.stop()

    asyncio.run(pull())
    assert store.meta_get("sync.feed_current_at")
    assert "catalog_stale" not in _codes(guardrail_warnings(store, policy, now=store.clock.now_s() + 3600))


def test_an_old_unsynced_dossier_suggests_a_transfer(enrolled):
    settings, store = enrolled
    policy = settings.guardrails.__class__(unsynced_max_age_days=7, catalog_max_age_days=999,
                                           holidays_max_age_days=999, clerks_max_age_days=999, disk_warn_days=0)
    add_dossier(store, pages=1)
    now = store.clock.now_s()
    assert _codes(guardrail_warnings(store, policy, now=now + 6 * DAY)) == set()
    (w,) = guardrail_warnings(store, policy, now=now + 9 * DAY)
    assert w.code == "unsynced_old" and w.days == 9 and "thẻ nhớ" in w.message_vi


def test_the_disk_forecast_at_this_week_s_pace(enrolled):
    settings, store = enrolled
    add_dossier(store, pages=2, page_bytes=400_000)
    now = store.clock.now_s()
    pace = sum(r["size"] for r in store.query("SELECT size FROM pages"))
    left = disk_days_left(store, now)
    free = shutil.disk_usage(store.root).free
    assert left == pytest.approx(free / (pace / 7), rel=0.01)
    policy = settings.guardrails.__class__(disk_warn_days=int(left) + 2, catalog_max_age_days=999,
                                           holidays_max_age_days=999, clerks_max_age_days=999)
    (w,) = guardrail_warnings(store, policy, now=now)
    assert w.code == "disk_forecast"
    assert w.message_vi == f"Ổ đĩa còn chỗ cho khoảng {int(w.days)} ngày nữa theo tốc độ tuần này."
    # A week later those pages no longer set the pace: no forecast, no warning.
    assert disk_days_left(store, now + 8 * DAY) is None


def test_scans_are_refused_only_when_the_store_could_not_hold_them(enrolled):
    settings, store = enrolled
    now = store.clock.now_s()
    free_mb = shutil.disk_usage(store.root).free // 2**20
    roomy = settings.guardrails.__class__(scan_reserve_mb=0, disk_warn_days=10**9)
    check_room_for_scan(store, roomy, pages=5, now=now)  # a forecast warning never refuses a scan
    full = settings.guardrails.__class__(scan_reserve_mb=int(free_mb) + 10)
    with pytest.raises(NoRoomError) as info:
        check_room_for_scan(store, full, pages=1, now=now)
    assert "không còn đủ chỗ cho 1 trang" in info.value.message_vi


def test_warnings_reach_the_status_and_the_heartbeat(tmp_path, hub):
    import asyncio

    from boxkit import make_box

    settings, store = make_box(tmp_path)
    settings = settings.replace("guardrails", unsynced_max_age_days=0, disk_warn_days=0)
    enroll(store, hub.url, hub.add_station("HN-0002"), station_id="HN-0002", timeout_seconds=5)
    add_dossier(store, pages=1)
    store.write(lambda conn: conn.execute("UPDATE outbox SET created_at = '2020-01-01T00:00:00.000Z'"))
    client = SyncClient(settings=settings, store=store)
    status = client.status()
    assert [w["code"] for w in status.warnings] == ["unsynced_old"]
    assert "thẻ nhớ" in status.warnings[0]["message_vi"]

    async def beat():
        try:
            await client.heartbeat()
        finally:
            await client.stop()

    asyncio.run(beat())
    assert hub.storage.get_station("HN-0002").last_heartbeat["warnings"] == ["unsynced_old"]
    store.close()


def test_the_sync_panel_shows_the_warnings(tmp_path, hub):
    import asyncio
    import sys
    from pathlib import Path

    from aiohttp.test_utils import TestClient, TestServer
    from boxkit import make_box

    from edge.web import accounts, create_app

    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "edge" / "web"))
    from web_helpers import PASSWORDS, login

    settings, store = make_box(tmp_path)
    settings = settings.replace("guardrails", unsynced_max_age_days=0, disk_warn_days=0)
    enroll(store, hub.url, hub.add_station("HN-0003"), station_id="HN-0003", timeout_seconds=5)
    add_dossier(store, pages=1)
    store.write(lambda conn: conn.execute("UPDATE outbox SET created_at = '2020-01-01T00:00:00.000Z'"))
    accounts.create_account(store, "clerk", "Nguyễn Thị Cán Bộ", "clerk", PASSWORDS["clerk"])

    async def go():
        client = TestClient(TestServer(create_app(settings=settings, store=store,
                                                  sync=SyncClient(settings=settings, store=store))))
        await client.start_server()
        try:
            await login(client, "clerk")
            return await (await client.get("/sync")).text()
        finally:
            await client.close()

    html = asyncio.run(go())
    assert 'data-guardrail="unsynced_old"' in html and "nên chuyển hồ sơ bằng thẻ nhớ" in html
    assert 'action="/sync/transfer"' in html
    store.close()
