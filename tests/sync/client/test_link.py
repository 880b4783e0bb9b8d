"""Link behaviour: push when the network returns, the bandwidth cap, metered mode."""

from __future__ import annotations

import asyncio
import time

from boxkit import add_dossier, assert_exactly_once, make_box

from sync.client import SyncClient, enroll_async


async def _poll(predicate, limit_s: float) -> bool:
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        await asyncio.sleep(0.1)
    return predicate()


async def test_push_fires_when_connectivity_returns(tmp_path, hub, proxy):
    settings, store = make_box(tmp_path, push_interval_seconds=3600, pull_interval_seconds=3600,
                               heartbeat_interval_seconds=2)
    await enroll_async(store, proxy.url, hub.add_station("HN-0001"), station_id="HN-0001")
    client = SyncClient(settings=settings, store=store)
    proxy.set_mode("refuse")
    await client.start()
    try:
        add_dossier(store, pages=1)
        client.kick()
        sched = client.scheduler
        assert await _poll(lambda: sched.runs["push"] >= 1 and sched.runs["heartbeat"] >= 1
                           and client.status().counts.get("retry_wait") == 1, 15)
        assert not client.status().online
        # a long backoff, as after many failures
        await store.awrite(lambda conn: conn.execute(
            "UPDATE outbox SET attempts = 9, next_attempt_at = '2999-01-01T00:00:00Z'"))
        scheduled_pushes = sched.runs["push"]
        # The push job runs only hourly. The network returns; a heartbeat notices and pushes:
        proxy.set_mode("pass")
        assert await _poll(lambda: client.status().pending == 0, 20)
        assert sched.runs["push"] == scheduled_pushes  # it was not the scheduled push
        assert client.status().online
        assert_exactly_once(store, hub)
    finally:
        await client.stop()
        store.close()


async def test_bandwidth_cap_paces_the_upload(tmp_path, hub, proxy):
    settings, store = make_box(tmp_path, bandwidth_limit_kbps=2400)  # 300 kB/s
    await enroll_async(store, proxy.url, hub.add_station("HN-0002"), station_id="HN-0002")
    client = SyncClient(settings=settings, store=store)
    try:
        add_dossier(store, pages=2, page_bytes=450_000)  # 900 kB
        start = time.monotonic()
        await client.sync_once()
        # 300 kB of burst, then 600 kB at 300 kB/s: at least two seconds.
        assert time.monotonic() - start >= 1.8
        assert_exactly_once(store, hub)
    finally:
        await client.stop()
        store.close()


async def test_metered_mode_slows_background_traffic_not_dossiers(tmp_path, hub, proxy):
    settings, store = make_box(tmp_path, metered=True, pull_interval_seconds=100, heartbeat_interval_seconds=50)
    await enroll_async(store, proxy.url, hub.add_station("HN-0003"), station_id="HN-0003")
    client = SyncClient(settings=settings, store=store)
    await client.start()
    try:
        jobs = client.scheduler.jobs
        assert jobs["pull"].interval == 400 and jobs["heartbeat"].interval == 200
        assert jobs["push"].interval == settings.sync.push_interval_seconds
        add_dossier(store, pages=1)
        client.kick()
        assert await _poll(lambda: client.status().pending == 0, 15)
        assert client.status().metered
    finally:
        await client.stop()
        store.close()
