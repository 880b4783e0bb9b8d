"""A box enrolls with a real hub over loopback HTTP, pushes dossiers and pulls the feed."""

from __future__ import annotations

import json

import pytest
from boxkit import AGENCY, add_dossier, assert_exactly_once, hub_dossiers, make_box

from sync.client import enroll_async
from sync.errors import ApiError


async def test_enroll_stores_anchors(box, hub):
    settings, store, client = box
    assert store.meta_get("sync.station_id") == "HN-0001"
    assert store.meta_get("agency_code") == AGENCY
    assert store.meta_get("sync.receipt_key_id") == hub.keys.receipt_key_id
    assert client.enrolled
    assert store.meta_get("clock.anchored") == "1"


async def test_push_commits_exactly_once_and_pull_confirms(box, hub):
    settings, store, client = box
    ids = [add_dossier(store, pages=3), add_dossier(store, pages=1)]
    status = await client.sync_once()
    assert_exactly_once(store, hub)
    assert status.pending == 0
    # The hub put a status 2 (new) for each commit on the feed: the box applied it.
    rows = store.query("SELECT id, city_status FROM dossiers")
    assert {r["city_status"] for r in rows} == {"2"}
    assert {r["state"] for r in store.query("SELECT state FROM outbox")} == {"confirmed"}
    # A second cycle sends nothing new and changes nothing.
    await client.sync_once()
    assert_exactly_once(store, hub)
    assert len(hub_dossiers(hub)) == len(ids)


async def test_duplicated_requests_are_idempotent(box, hub):
    """Every step repeated (create, chunks, commit) leaves one dossier and the same receipt."""
    settings, store, client = box
    dossier_id = add_dossier(store, pages=2)
    await client.sync_once()
    first = store.query("SELECT receipt FROM outbox WHERE dossier_id = ?", (dossier_id,))[0]["receipt"]
    # Replay the whole upload by hand, as a network that duplicated every request would.
    from sync.client._manifest import load_manifest

    manifest, msha = load_manifest(store, dossier_id)
    transport = client.transport()
    again = await transport.call("PUT", f"/v1/dossiers/{dossier_id}", json_body=manifest)
    assert again.status == 200
    commit = await transport.call("POST", f"/v1/dossiers/{dossier_id}/commit", json_body={"manifest_sha256": msha})
    assert json.loads(commit.body) == json.loads(first)
    blob = manifest["blobs"][0]
    with pytest.raises(ApiError) as err:
        await transport.call("PATCH", f"/v1/dossiers/{dossier_id}/blobs/{blob['sha256']}", body=b"x" * 10,
                             headers={"Content-Type": "application/offset+octet-stream", "Upload-Offset": "0"})
    assert err.value.code == "offset_mismatch"
    assert_exactly_once(store, hub)


async def test_permanent_refusal_is_shown_to_a_person_and_not_retried(tmp_path, hub, proxy):
    """Two boxes that took dossiers before enrollment drew the same code from the default
    partition; the city gave the second box another range, so its code is refused as outside it
    (a refusal retrying cannot fix)."""
    from sync.client import SyncClient as Client

    boxes = []
    try:
        for name, sid in (("a", "HN-0101"), ("b", "HN-0102")):
            settings, store = make_box(tmp_path, name=name)
            add_dossier(store, pages=1)  # same default partition, same code
            await enroll_async(store, proxy.url, hub.add_station(sid), station_id=sid)
            boxes.append((Client(settings=settings, store=store), store))
        await boxes[0][0].sync_once()
        status = await boxes[1][0].sync_once()
        assert status.rejected == 1 and status.pending == 1
        row = boxes[1][1].query("SELECT state, last_error, attempts FROM outbox")[0]
        assert row["state"] == "rejected"
        assert "Mã hồ sơ" in row["last_error"] and "code_out_of_partition" in row["last_error"]
        assert "từ chối" in status.last_error_vi
        sent = proxy.bytes_up
        await boxes[1][0].sync_once()  # nothing is sent again for it
        assert boxes[1][1].query("SELECT state FROM outbox")[0]["state"] == "rejected"
        assert proxy.bytes_up - sent < 2000  # only the feed request
    finally:
        for client, store in boxes:
            await client.stop()
            store.close()
