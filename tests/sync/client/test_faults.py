"""Exactly-once under faults: every case ends with the hub holding each dossier once, byte-identical.

The box talks to a real hub over loopback HTTP through the fault proxy (tests/sync/faultproxy.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid

import aiohttp
import pytest
from boxkit import add_dossier, assert_exactly_once, hub_dossiers, hub_port, make_box

from sync.client import SyncClient, SyncLockedError, enroll_async
from sync.errors import ApiError, SyncError, TransportError
from sync.protocol import sign_request


async def _sync_until_done(client: SyncClient, *, rounds: int = 30) -> list[BaseException]:
    """Run cycles until nothing is pending; returns the errors seen on the way."""
    errors: list[BaseException] = []
    for _ in range(rounds):
        try:
            status = await client.sync_once()
        except SyncError as exc:
            errors.append(exc)
            await asyncio.sleep(0.05)
            continue
        if status.pending == 0:
            return errors
    raise AssertionError(f"still pending after {rounds} cycles; errors: {errors[-3:]}")


async def test_connection_reset_mid_chunk(box, hub, proxy):
    settings, store, client = box
    for _ in range(2):
        add_dossier(store, pages=3, page_bytes=400_000)
    # Every connection is reset after 300 kB: no chunk (256 kB) sequence gets through whole.
    proxy.set_mode("cut", after=300_000, repeat=True)
    await _sync_until_done(client)
    assert proxy.cuts >= 3
    assert_exactly_once(store, hub)
    # Resumed, not restarted: what went up is close to the payload.
    payload = sum(p.size for d in box_ids(store) for p in store.pages(d))
    assert proxy.bytes_up < payload * 1.6


async def until_bytes(proxy, n: int, task) -> None:
    """Wait until the proxy forwarded ``n`` bytes up (its counter lives in another thread)."""
    while proxy.bytes_up < n and not task.done():  # noqa: ASYNC110 - polling a counter of another thread
        await asyncio.sleep(0.01)


def box_ids(store):
    return [r["id"] for r in store.query("SELECT id FROM dossiers")]


async def test_stalled_connection_times_out_then_resumes(box, hub, proxy):
    settings, store, client = box
    client.cfg = settings.replace("sync", request_timeout_seconds=1).sync
    add_dossier(store, pages=2, page_bytes=600_000)
    proxy.set_mode("throttle", bytes_per_second=400_000)
    task = asyncio.ensure_future(client.sync_once())
    await until_bytes(proxy, 300_000, task)
    proxy.set_mode("stall")
    with pytest.raises(TransportError):
        await task
    status = client.status()
    assert status.pending == 1
    assert status.last_error_vi and "tự gửi lại" in status.last_error_vi
    proxy.set_mode("pass")
    await _sync_until_done(client)
    assert_exactly_once(store, hub)


async def test_hub_5xx_answers_are_retried(box, hub, proxy):
    settings, store, client = box
    add_dossier(store, pages=2)
    proxy.set_mode("http_error", status=503, count=4)
    errors = await _sync_until_done(client)
    assert proxy.errors_sent == 4
    assert errors and all(isinstance(e, ApiError) and e.status == 503 for e in errors)
    assert_exactly_once(store, hub)


async def test_hub_5xx_mid_upload(box, hub, proxy):
    settings, store, client = box
    add_dossier(store, pages=4, page_bytes=300_000)
    proxy.set_mode("throttle", bytes_per_second=2_000_000)
    task = asyncio.ensure_future(client.sync_once())
    await until_bytes(proxy, 500_000, task)
    proxy.set_mode("http_error", status=502, count=2)
    with contextlib.suppress(SyncError):
        await task
    proxy.set_mode("pass")
    await _sync_until_done(client)
    assert_exactly_once(store, hub)


async def test_hub_restarted_mid_upload(box, hub, proxy):
    settings, store, client = box
    add_dossier(store, pages=3, page_bytes=500_000)
    proxy.set_mode("throttle", bytes_per_second=1_000_000)
    task = asyncio.ensure_future(client.sync_once())
    await until_bytes(proxy, 600_000, task)
    assert not task.done()
    await asyncio.to_thread(hub.restart)
    proxy.target_port = hub_port(hub)
    proxy.set_mode("pass")
    with contextlib.suppress(SyncError):
        await task
    await _sync_until_done(client)
    assert_exactly_once(store, hub)


async def test_replayed_signed_request_is_refused(box, hub, proxy):
    settings, store, client = box
    key = store.station_signing_key()
    offset_ms = int(store.meta_get("clock.offset_ms") or 0)
    headers = sign_request(key, station_id="HN-0001", method="GET", path_qs="/v1/station",
                           timestamp_ms=int(time.time() * 1000) + offset_ms)
    async with aiohttp.ClientSession() as session:
        async with session.get(proxy.url + "/v1/station", headers=headers) as first:
            assert first.status == 200
        async with session.get(proxy.url + "/v1/station", headers=headers) as again:
            assert again.status == 401
            assert (await again.json())["error"]["code"] == "replayed_request"
    # The client itself is not confused by it: every attempt carries a fresh nonce.
    add_dossier(store, pages=1)
    await _sync_until_done(client)
    assert_exactly_once(store, hub)


async def test_revoked_station_is_refused_shows_why_and_obeys_wipe(box, hub, proxy):
    from sync.hub._core import wipe_builder

    settings, store, client = box
    committed = add_dossier(store, pages=1)
    await _sync_until_done(client)
    pending = add_dossier(store, pages=1)
    hub.storage.revoke("HN-0001", reason="box reported stolen", now=hub.now_ms(), command_id=uuid.uuid4().hex,
                       build_command=wipe_builder(hub.keys, "box reported stolen"))
    with pytest.raises(ApiError) as err:
        await client.sync_once()
    assert err.value.code == "station_revoked"
    status = client.status()
    assert status.locked
    assert "thu hồi" in status.lock_reason_vi
    assert "thu hồi" in (status.last_error_vi or "")
    # The wipe carried by the refusal was verified and obeyed: nothing readable is left.
    rows = {r["id"]: r for r in store.query("SELECT id, status, local_wrap FROM dossiers")}
    assert {r["status"] for r in rows.values()} == {"shredded"}
    assert all(r["local_wrap"] is None for r in rows.values())
    assert store.query("SELECT COUNT(*) AS n FROM pages")[0]["n"] == 0
    assert store.query("SELECT state FROM sync_commands")[0]["state"] == "done"
    assert committed in hub_dossiers(hub) and pending not in hub_dossiers(hub)
    with pytest.raises(SyncLockedError) as locked:
        await client.sync_once()
    assert locked.value.message_vi


async def test_box_clock_off_by_days(tmp_path, hub, proxy):
    settings, store = make_box(tmp_path)
    skew = -3 * 86400
    store.clock.wall = lambda: time.time() + skew  # the OS clock of this box is 3 days late
    early = add_dossier(store, pages=1)  # taken before any anchor
    token = hub.add_station("HN-0002")
    await enroll_async(store, proxy.url, token, station_id="HN-0002")
    client = SyncClient(settings=settings, store=store)
    try:
        late = add_dossier(store, pages=1)  # after enrollment anchored the clock
        await _sync_until_done(client)
        assert_exactly_once(store, hub)
        assert abs(client.clock.state.offset + skew) < 5
        manifests = {d.dossier_id: d.manifest for d in hub.storage.list_dossiers()}
        assert manifests[early]["clock_anchored"] is False
        assert manifests[late]["clock_anchored"] is True
        # Local order survives the jump: counters increase in the order of intake.
        assert manifests[early]["counter"] < manifests[late]["counter"]
    finally:
        await client.stop()
        store.close()


async def test_box_clock_ahead_by_days_is_corrected_on_skew_refusal(tmp_path, hub, proxy):
    settings, store = make_box(tmp_path)
    token = hub.add_station("HN-0003")
    await enroll_async(store, proxy.url, token, station_id="HN-0003")
    # After enrollment the OS clock jumps 5 days ahead (a bad NTP answer): the stored offset is
    # now wrong by 5 days, the hub refuses the timestamp once, the client corrects and re-signs.
    store.clock.wall = lambda: time.time() + 5 * 86400
    client = SyncClient(settings=settings, store=store)
    try:
        add_dossier(store, pages=1)
        await _sync_until_done(client)
        assert_exactly_once(store, hub)
    finally:
        await client.stop()
        store.close()


def test_manifest_is_frozen_after_first_build(tmp_path):
    """Metadata changed after finalize (a fee paid) must not change what is sent again."""
    from sync.client._manifest import build_manifest

    settings, store = make_box(tmp_path)
    try:
        dossier_id = add_dossier(store, pages=1)
        first, sha = build_manifest(store, dossier_id, station_id="HN-0009")
        store.set_meta(dossier_id, actor="clerk", fee_paid=True)
        again, sha2 = build_manifest(store, dossier_id, station_id="HN-0009")
        assert sha == sha2 and json.dumps(first, sort_keys=True) == json.dumps(again, sort_keys=True)
        assert [b["index"] for b in first["blobs"]] == [1]  # the store's page number
    finally:
        store.close()
