"""A page keeps its number from the box to the city: the store's numbering (from 1, gaps after a
removed page) is what the manifest carries, what the hub stores and what `hub open` names files by."""

from __future__ import annotations

import json
import os

from boxkit import assert_exactly_once, make_box

from core.manifest import wire_manifest
from sync.client import SyncClient, enroll_async
from sync.client._manifest import load_manifest
from sync.hub._keys import load_city_private
from sync.hub._open import open_dossier
from sync.protocol import parse_manifest


async def test_removed_page_leaves_a_gap_everywhere(tmp_path, hub, proxy):
    settings, store = make_box(tmp_path)
    client = SyncClient(settings=settings, store=store)
    try:
        await enroll_async(store, proxy.url, hub.add_station("HN-0001"), station_id="HN-0001")
        plain = [os.urandom(70_000) for _ in range(3)]
        dossier_id = store.create_draft(procedure_code="1.001612", actor="clerk",
                                        applicant={"full_name": "Lê Thị Hoa", "id_number": "001099007777"})
        for i, data in enumerate(plain):
            store.add_page(dossier_id, data, component=f"tp{i}", media_type="image/png", actor="clerk")
        store.remove_page(dossier_id, 2, actor="clerk")
        store.finalize(dossier_id, actor="clerk")
        assert [p.index for p in store.pages(dossier_id)] == [1, 3]

        # The protocol takes the store's numbers as they are.
        exported = store.export_manifest(dossier_id)
        assert [b["index"] for b in exported["blobs"]] == [1, 3]
        assert [b.index for b in parse_manifest({**exported, "station_id": "HN-0001"}).blobs] == [1, 3]

        status = await client.sync_once()
        assert status.pending == 0, status.last_error
        assert_exactly_once(store, hub)
        sent, _ = load_manifest(store, dossier_id)
        assert [(b["index"], b["component"]) for b in sent["blobs"]] == [(1, "tp0"), (3, "tp2")]
        record = hub.storage.get_dossier(dossier_id)
        assert [(b.index, b.component) for b in record.blobs] == [(1, "tp0"), (3, "tp2")]

        out = tmp_path / "opened"
        summary = open_dossier(hub.storage, hub.data_dir, dossier_id,
                               city_key=load_city_private(hub.city_private_key_path), out=out)
        assert [(p["index"], p["file"]) for p in summary["pages"]] == [(1, "page-001.png"), (3, "page-003.png")]
        assert (out / "page-001.png").read_bytes() == plain[0]
        assert (out / "page-003.png").read_bytes() == plain[2]
        assert sorted(f.name for f in out.iterdir()) == ["dossier.json", "page-001.png", "page-003.png",
                                                     "signatures.json"]  # the ký số report
        assert json.loads((out / "dossier.json").read_text())["pages"] == summary["pages"]
    finally:
        await client.stop()
        store.close()


def test_manifest_pages_follow_the_store_order_whatever_the_export_order():
    """One place decides the order (core.manifest.wire_manifest): by page number, never renumbered."""
    manifest = wire_manifest(
        dossier_id="01JD3ABCDEFGH", station_id="HN-0001", agency_code="000.00.06.H56",
        code="000.00.06.H56-261122-0001", procedure_code="1.001612",
        received_at="2026-11-22T09:00:00+07:00", due_at=None, counter=3, hlc="0000000001-0000",
        clock_anchored=False, kem="X25519", sealed_dek=b"\0", sealed_applicant=b"\0", sealed_form=b"\0",
        blobs=[{"index": 7, "sha256": "b" * 64, "size": 5, "component": "", "media_type": "image/png"},
               {"index": 2, "sha256": "a" * 64, "size": 4, "component": "x", "media_type": "image/png"}])
    assert [(b["index"], b["sha256"][0]) for b in manifest["blobs"]] == [(2, "a"), (7, "b")]
    assert [b.index for b in parse_manifest(manifest).blobs] == [2, 7]
