"""Dossiers taken before enrollment are sealed again to the city's key: the city opens them."""

from __future__ import annotations

from sync.client import SyncClient, enroll_async
from sync.hub import load_city_private, open_dossier
from tests.sync.client.boxkit import add_dossier, assert_exactly_once, make_box


async def test_dossier_taken_before_enrollment_opens_at_the_city(tmp_path, hub, proxy):
    settings, store = make_box(tmp_path, name="early")
    client = SyncClient(settings=settings, store=store)
    try:
        dossier_id = add_dossier(store, pages=2, page_bytes=50_000)
        provisional = store.query("SELECT city_seal FROM dossiers WHERE id = ?", (dossier_id,))[0]["city_seal"]
        result = await enroll_async(store, proxy.url, hub.add_station("HN-0201"), station_id="HN-0201")
        assert result.city_key_changed and result.pending_sealed_to_old_key == 1
        assert store.query("SELECT city_seal FROM dossiers WHERE id = ?", (dossier_id,))[0]["city_seal"] != provisional
        assert any(r["action"] == "store.reseal_city" for r in store.query("SELECT action FROM audit"))
        status = await client.sync_once()
        assert status.pending == 0, status
        assert_exactly_once(store, hub)
        opened = open_dossier(hub.storage, hub.data_dir, dossier_id, city_key=load_city_private(hub.city_private_key_path),
                              out=tmp_path / "opened")
        assert opened
        files = sorted(p.name for p in (tmp_path / "opened").iterdir())
        assert len([f for f in files if "page" in f or f.endswith((".bin", ".png"))]) >= 2, files
        assert store.check().ok
    finally:
        await client.stop()
        store.close()
