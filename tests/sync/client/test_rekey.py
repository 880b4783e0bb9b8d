"""A new city key at re-enrollment: every dossier not yet at the city opens with the NEW key.

A push that stops after its manifest was frozen (a station-level refusal leaves the outbox at
``sealed``; a link failure leaves it at ``retry_wait``) must not upload the old seal later.
"""

from __future__ import annotations

from boxkit import add_dossier, assert_exactly_once, make_box
from faultproxy import FaultProxy

from sync.client import SyncClient, enroll_async
from sync.client._manifest import build_manifest, load_manifest
from sync.hub import load_city_private, open_dossier


async def test_dossiers_frozen_under_the_old_city_key_open_with_the_new_one(tmp_path, hub, proxy, hub_factory):
    settings, store = make_box(tmp_path, name="rekey")
    client = SyncClient(settings=settings, store=store)
    try:
        await enroll_async(store, proxy.url, hub.add_station("HN-0301"), station_id="HN-0301")
        # 1. frozen at 'retry_wait' (the link went down after the manifest was built)
        waiting = add_dossier(store, pages=1, page_bytes=20_000)
        proxy.set_mode("refuse")
        await client.push()  # the link is down: reported, the dossier waits
        proxy.set_mode("pass")
        # 2. frozen at 'sealed' (what a push refused with a station-level error leaves behind)
        sealed = add_dossier(store, pages=1, page_bytes=20_000)
        build_manifest(store, sealed, station_id="HN-0301")
        assert {r["state"] for r in store.query("SELECT state FROM outbox")} == {"sealed", "retry_wait"}
        assert load_manifest(store, sealed) and load_manifest(store, waiting)
        # 3. not frozen yet
        fresh = add_dossier(store, pages=1, page_bytes=20_000)

        # The city moved to a new hub with a new city key; IT re-enrolls the box there.
        hub2 = hub_factory("sqlite")
        with FaultProxy("127.0.0.1", int(hub2.url.rsplit(":", 1)[1])) as proxy2:
            result = await enroll_async(store, proxy2.url, hub2.add_station("HN-0301"), station_id="HN-0301")
            assert result.city_key_changed and result.pending_sealed_to_old_key == 3
            await client.stop()
            client = SyncClient(settings=settings, store=store)
            for _ in range(3):
                status = await client.sync_once()
                if status.pending == 0:
                    break
            assert status.pending == 0, status
        assert_exactly_once(store, hub2)
        city = load_city_private(hub2.city_private_key_path)
        for dossier_id in (sealed, waiting, fresh):
            out = tmp_path / f"opened-{dossier_id}"
            assert open_dossier(hub2.storage, hub2.data_dir, dossier_id, city_key=city, out=out)
    finally:
        await client.stop()
        store.close()
